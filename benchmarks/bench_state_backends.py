"""Benchmark 7: the PostgreSQL state backend against the state file.

* Apply wall time: one plan of N one-AOI orders applied by the real CLI (its own process) at
  the sandbox's scaled limits, once on a fresh state file and once on a fresh PostgreSQL
  schema; goal: PostgreSQL within 1.05x of the file.
* Per-order state cost: with M resources already in the state, the time to record one order
  the way apply does (the budget re-check against everything the state commits, with a total
  budget; a pending record; then its outcome), for M = 10 .. 10,000; goal: flat.
  The store first reads the state once, as apply does under the lock (``store.view()`` in
  ``locked_store``); that read and the run's final checkpoint are once-per-run costs, shown
  in their own rows (``once per run: …``) and not divided among the orders. Wall and CPU time
  (this process's user + system; the database server's work shows in wall time only).
* Reading the state of 10,000 resources (what a no-op `plan` does first); goal: < 1 s.

PostgreSQL is a throwaway local server (Debian's initdb/pg_ctl, loopback), as in the tests.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import _common as c

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oneatlas_plan.applying.session import plan_with_state
from oneatlas_plan.planning.budget import RunRecheck
from oneatlas_plan.planning.model import BudgetCheck
from oneatlas_plan.planning.planfile import write_plan
from oneatlas_plan.state.backends import StateBackend, open_backend
from oneatlas_plan.state.model import OrderRecord, ResourceRecord, State
from tests.pg_server import PostgresServer, destroy, start_server

SAMPLES = 40
TODAY = date(2026, 11, 30)
TOTAL_BUDGET = BudgetCheck(scope="total", name="all orders", currency="EUR", limit=10**9,
                           spent_before=0, planned=0, left=10**9, ok=True)


def apply_wall(n: int, work: Path, server: PostgresServer) -> list[dict[str, Any]]:
    spec_dir = work / "specs"
    c.write_specs(spec_dir, n, n_specs=max(1, n // 100))
    port = c.free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with c.sandbox(work / "sandbox", fast=True) as running:
        made = c.client(running)
        plan = plan_with_state(
            c.workspace(work / "planning-state.json", endpoint, lambda: made), [spec_dir], out=None
        )
        made.close()
    write_plan(plan, work / "plan.json")
    rows = []
    for backend, state in (("file", str(work / "state.json")), ("postgresql", server.url())):
        with c.sandbox_on_port(work / f"sandbox-{backend}", port) as running:
            c.reset_stats(running)
            cli = c.run_cli(
                ["apply", str(work / "plan.json"), "--endpoint", endpoint, "--state", state],
                cwd=work, env={"ONEATLAS_API_KEY": c.API_KEY},
            )
            server_stats = c.server_stats(running)
        if cli["exit_code"] != 0:
            raise RuntimeError(f"apply on {backend} failed: {cli['stderr']}")
        rows.append({"part": "apply", "backend": backend, "orders": n, "wall_s": cli["seconds"],
                     "http_429": server_stats["too_many_requests"]})
    return rows


def _record(address: str, key: str, status: str = "ordered") -> ResourceRecord:
    order = OrderRecord(order_key=key, customer_reference=f"oneatlas-plan:{key}",
                        body_digest=f"sha256:{key}", status=status,  # type: ignore[arg-type]
                        submitted_at="2026-11-23T20:00:00Z", amount=250, currency="EUR",
                        sales_order_id=f"SO-{key}" if status == "ordered" else None,
                        addresses=[address])
    return ResourceRecord(address=address, config_digest="sha256:c", spec_file="specs/a.yaml",
                          orders=[order])


def _filled(size: int) -> State:
    state = State.new()
    state.resources = {f"s.o.r{i:05d}": _record(f"s.o.r{i:05d}", f"k{i}") for i in range(size)}
    state.serial = size
    return state


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) spent in ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def per_order_cost(backend: StateBackend, size: int) -> dict[str, Any]:
    with backend.store() as store:
        store.replace(_filled(size))
    lock = backend.lock()
    lock.acquire(0)
    try:
        with backend.store() as store:
            read = _timed(store.view)  # apply's one read under the lock (locked_store)

            addresses = [f"s.n.new{i:03d}" for i in range(SAMPLES)]
            budgets = RunRecheck([TOTAL_BUDGET], store.view(), addresses)

            def orders() -> None:
                for i, address in enumerate(addresses):
                    over = budgets.violation(f"new{i}", [address], Decimal(250), "EUR",
                                             store.view(), TODAY)
                    assert over is None
                    store.record(_record(address, f"new{i}", "pending"))
                    store.update(address, lambda r: _record(r.address, r.orders[-1].order_key))

            wall, cpu = _timed(orders)
            checkpoint = _timed(store.checkpoint)  # the run's final checkpoint
    finally:
        lock.release()
    return {"state_size": size, "per_order_ms": 1000 * wall / SAMPLES,
            "per_order_cpu_ms": 1000 * cpu / SAMPLES, "read": read, "checkpoint": checkpoint}


def read_time(backend: StateBackend, size: int) -> float:
    with backend.store() as store:
        store.replace(_filled(size))
    started = time.perf_counter()
    with backend.store() as store:
        loaded = store.load()
    assert len(loaded.resources) == size
    return time.perf_counter() - started


def main() -> None:
    args = c.parse_args(__doc__ or "")
    n_apply = 20 if args.quick else 1000
    sizes = [10, 100, 1000] if args.quick else [10, 1000, 10000]
    n_read = 1000 if args.quick else 10000
    server = start_server()
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-state-") as temp:
            work = Path(temp)
            rows += apply_wall(n_apply, work, server)
            costs: dict[str, list[float]] = {}
            cpu_costs: dict[str, list[float]] = {}
            reads: dict[str, float] = {}
            for name in ("file", "postgresql"):
                for size in sizes:
                    location = str(work / f"cost-{size}.json") if name == "file" else server.url()
                    with open_backend(location) as backend:
                        row = per_order_cost(backend, size)
                    costs.setdefault(name, []).append(row["per_order_ms"])
                    cpu_costs.setdefault(name, []).append(row["per_order_cpu_ms"])
                    once = {"read under the lock": row.pop("read"),
                            "final checkpoint": row.pop("checkpoint")}
                    rows.append({"part": "per-order state cost", "backend": name, **row})
                    rows += [{"part": f"once per run: {what}", "backend": name, "state_size": size,
                              "wall_s": wall, "cpu_s": cpu}
                             for what, (wall, cpu) in once.items()]
                location = str(work / "read.json") if name == "file" else server.url()
                with open_backend(location) as backend:
                    reads[name] = read_time(backend, n_read)
                rows.append({"part": "read state", "backend": name, "state_size": n_read,
                             "wall_s": reads[name]})
    finally:
        destroy(server)
    walls = {r["backend"]: r["wall_s"] for r in rows if r["part"] == "apply"}
    ratio = walls["postgresql"] / walls["file"]
    flat = {name: max(v) / min(v) for name, v in costs.items()}
    flat_cpu = {name: max(v) / min(v) for name, v in cpu_costs.items()}
    goals = [
        c.goal(f"apply {n_apply} orders: PostgreSQL / file wall", ratio, "<= 1.05",
               ratio <= 1.05),
        *(c.goal(f"per-order cost {sizes[-1]} / smallest ({name})", flat[name], "flat (<= 2)",
                 flat[name] <= 2) for name in flat),
        *(c.goal(f"per-order CPU {sizes[-1]} / smallest ({name})", flat_cpu[name],
                 "flat (<= 2)", flat_cpu[name] <= 2) for name in flat_cpu),
        c.goal(f"read {n_read} resources (postgresql)", reads["postgresql"], "< 1 s",
               reads["postgresql"] < 1),
    ]
    c.write_results("state_backends", quick=args.quick, rows=rows, goals=goals,
                    params={"apply_orders": n_apply, "sizes": sizes, "samples": SAMPLES},
                    results_dir=args.results)


if __name__ == "__main__":
    main()

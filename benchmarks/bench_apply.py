"""Benchmark 4: apply of N orders, against the floor Airbus sets; state persistence cost.

* Throughput: a plan of N one-AOI orders, applied by the real CLI in its own process (peak
  RSS measured there), right after it was made (its prices are young: no re-price).
  ``wall / (N × (ordering interval + round trip))``, ordering calls per order (goal 1), and
  ``wall / (ordering calls / ordering rate)``.
* Persistence: the same apply in-process against an instant stub client, N = 10 and 1,000:
  the time spent in the state store (journal appends, fsynced) per order, and the final
  checkpoint.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common as c

from oneatlas_plan.api.models import OrderResponse, PriceResponse
from oneatlas_plan.applying.apply import ApplySettings
from oneatlas_plan.applying.session import apply_with_state, plan_with_state
from oneatlas_plan.planning.planfile import write_plan
from oneatlas_plan.state.store import StateStore


def throughput(n: int, work: Path) -> dict[str, Any]:
    spec_dir = work / "specs"
    c.write_specs(spec_dir, n, n_specs=max(1, n // 100))
    port = c.free_port()
    endpoint = f"http://127.0.0.1:{port}"
    state = work / "oneatlas-state.json"
    with c.sandbox(work / "sandbox", fast=True) as running:
        made = c.client(running)
        plan = plan_with_state(c.workspace(state, endpoint, lambda: made), [spec_dir], out=None)
        made.close()
    write_plan(plan, work / "plan.json")
    orders = sum(1 for o in plan.orders if o.action == "create")
    with c.sandbox_on_port(work / "sandbox", port) as running:
        limits = c.limits(running)
        c.reset_stats(running)
        cli = c.run_cli_rss(
            ["apply", str(work / "plan.json"), "--endpoint", endpoint, "--state", str(state)],
            cwd=work, env={"ONEATLAS_API_KEY": c.API_KEY},
        )
        server = c.server_stats(running)
    if cli["exit_code"] != 0:
        raise RuntimeError(f"apply failed: {cli['stderr']}")
    ordering = sum(server["requests"].get(k, 0) for k in ("prices", "orders", "quotations"))
    floor_orders = orders * (1 / limits["ordering_rps"] + limits["latency_s"])
    floor_calls = ordering / limits["ordering_rps"]
    return {
        "orders": orders,
        "wall_s": cli["seconds"],
        "over_orders_bound": cli["seconds"] / floor_orders,
        "ordering_calls": ordering,
        "ordering_calls_per_order": ordering / orders,
        "over_calls_bound": cli["seconds"] / floor_calls,
        "requests": server["requests"],
        "http_429": server["too_many_requests"],
        "max_concurrent_ordering": server["max_concurrent_ordering"],
        "peak_rss_mb": cli["peak_rss_mb"],
    }


class _InstantClient:
    """Answers prices and orders at once: what remains is the tool's own work."""

    def __init__(self) -> None:
        self._sequence = 0

    def price(self, body: Any) -> PriceResponse:
        return PriceResponse.model_validate({"currency": "EUR", "totalAmount": 250.0})

    def order(self, body: Any) -> OrderResponse:
        self._sequence += 1
        return OrderResponse.model_validate(
            {"salesOrderId": f"SAL{self._sequence:08d}", "currency": "EUR", "totalAmount": 250.0}
        )


def _timed(owner: type, name: str, totals: dict[str, float]) -> Callable[[], None]:
    original = getattr(owner, name)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - started

    setattr(owner, name, wrapper)
    return lambda: setattr(owner, name, original)


def persistence(n: int, work: Path) -> dict[str, Any]:
    spec_dir = work / f"specs-{n}"
    c.write_specs(spec_dir, n, n_specs=max(1, n // 100))
    state = work / f"state-{n}.json"
    with c.sandbox(work / f"sandbox-{n}", fast=True) as running:
        made = c.client(running)
        space = c.workspace(state, "sandbox", lambda: made)
        plan = plan_with_state(space, [spec_dir], out=None)
        made.close()
    stub = _InstantClient()
    space = c.workspace(state, "sandbox", lambda: stub)
    totals: dict[str, float] = {}
    # record() is what apply calls, directly or through update(): one journal line each
    restore = [_timed(StateStore, name, totals) for name in ("record", "close")]
    try:
        started = time.perf_counter()
        result = apply_with_state(space, plan, ApplySettings())
        wall = time.perf_counter() - started
    finally:
        for undo in restore:
            undo()
    orders = len(result.outcomes)
    return {
        "orders": orders,
        "apply_wall_s": wall,
        "per_order_total_ms": wall / orders * 1000,
        "per_order_state_ms": totals.get("record", 0.0) / orders * 1000,
        "checkpoint_ms": totals.get("close", 0.0) * 1000,
        "state_bytes": state.stat().st_size,
    }


def main() -> None:
    args = c.parse_args(__doc__ or "")
    sizes = [10] if args.quick else [100, 1000]
    persist_sizes = [10, 100] if args.quick else [10, 1000]
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as temp:
        work = Path(temp)
        rows = []
        for n in sizes:
            (work / f"t{n}").mkdir()
            rows.append({"kind": "throughput", **throughput(n, work / f"t{n}")})
        for n in persist_sizes:
            rows.append({"kind": "persistence", **persistence(n, work)})
    goals = []
    for row in rows:
        if row["kind"] == "throughput":
            n = row["orders"]
            goals += [
                c.goal(f"ordering calls per order (N={n})", row["ordering_calls_per_order"],
                       "1", row["ordering_calls_per_order"] == 1),
                c.goal(f"wall / (N × (interval + RTT)) (N={n})", row["over_orders_bound"],
                       "<= 1.1", row["over_orders_bound"] <= 1.1),
                c.goal(f"wall / (ordering calls / rate) (N={n})", row["over_calls_bound"],
                       "<= 1.1", row["over_calls_bound"] <= 1.1,
                       ""),
                c.goal(f"429s (N={n})", row["http_429"], "0", row["http_429"] == 0),
            ]
    persisted = [r for r in rows if r["kind"] == "persistence"]
    small, large = persisted[0], persisted[-1]
    growth = large["per_order_state_ms"] / small["per_order_state_ms"]
    goals.append(c.goal(
        f"state cost per order, N={large['orders']} / N={small['orders']}", growth,
        "roughly flat (<= 2)", growth <= 2.0))
    c.write_results("apply", quick=args.quick,
                    params={"sizes": sizes, "persistence_sizes": persist_sizes,
                            "time_scale": c.TIME_SCALE, "latency_ms": c.LATENCY_MS},
                    rows=rows, goals=goals, results_dir=args.results)


if __name__ == "__main__":
    main()

"""Benchmark 6: a 10,000-resource plan: writing the plan file, ``show`` and ``diff``.

The plan is made by the real planner (searches and selection against the sandbox) with prices
answered instantly, since only its size matters here. The second plan for ``diff`` changes
1 % of the orders' prices and scenes and drops 1 % of the resources. ``show`` and ``diff``
run as whole CLI processes (peak RSS measured there); the write is timed in-process, its
peak Python allocation measured with tracemalloc in a separate pass. Goals (issue 18): each
of write, show and diff under 3 s and 300 MB at 10,000 resources; the file's bytes and lines
per resource are reported. ``--quick``: 300 resources (the same goals, easily met).
``BIGPLAN_REUSE=FILE``: write the plan made to FILE, or read it from FILE when it exists
(making the plan is the slow part: to measure again after a change of the file format or
readers, without planning 10,000 AOIs again).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path
from resource import RUSAGE_CHILDREN, getrusage
from typing import Any

import _common as c

from oneatlas_plan.api.models import PriceResponse
from oneatlas_plan.planning.model import Plan
from oneatlas_plan.planning.planfile import read_plan, write_plan
from oneatlas_plan.planning.run import plan_specs
from oneatlas_plan.state.model import State

MAX_SECONDS = 3
MAX_MB = 300


def make_plan(n: int, work: Path) -> Plan:
    spec_dir = work / "specs"
    c.write_specs(spec_dir, n, n_specs=max(1, n // 100))
    with c.sandbox(work / "sandbox", fast=True) as running:
        client = c.client(running)
        client.price = lambda body: PriceResponse.model_validate(  # type: ignore[method-assign]
            {"currency": "EUR", "totalAmount": 250.0})
        plan = plan_specs([spec_dir], State.new(), lambda: client, endpoint="sandbox")
        client.close()
    return plan


def changed(plan: Plan) -> Plan:
    data: dict[str, Any] = plan.model_dump(mode="json")
    for i, order in enumerate(data["orders"]):
        if i % 100 == 7 and order.get("price"):
            order["price"]["amount"] = str(Decimal(order["price"]["amount"]) + 10)
    for i, resource in enumerate(data["resources"]):
        if i % 100 == 3 and resource["scenes"]:
            resource["scenes"][0]["archive_identifier"] += "-X"
    gone = {r["address"] for i, r in enumerate(data["resources"]) if i % 100 == 50}
    data["resources"] = [r for r in data["resources"] if r["address"] not in gone]
    data["orders"] = [o for o in data["orders"] if not gone & set(o["addresses"])]
    totals: dict[str, Decimal] = {}
    for order in data["orders"]:
        price = order.get("price")
        if price and order["action"] != "blocked":
            totals[price["currency"]] = totals.get(price["currency"], Decimal(0)) + Decimal(
                price["amount"])
    data["totals"] = {k: str(v) for k, v in sorted(totals.items())}
    return Plan.model_validate(data).sealed()


def run_cli(args: list[str], work: Path) -> dict[str, Any]:
    """``c.run_cli_rss`` plus the child's CPU time (user + system): on a shared machine a
    better measure of the work done than wall time."""
    before = getrusage(RUSAGE_CHILDREN)
    run = c.run_cli_rss(args, cwd=work)
    after = getrusage(RUSAGE_CHILDREN)
    run["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return run


def main() -> None:
    args = c.parse_args(__doc__ or "")
    n = 300 if args.quick else 10_000
    reuse = Path(os.environ["BIGPLAN_REUSE"]) if os.environ.get("BIGPLAN_REUSE") else None
    with tempfile.TemporaryDirectory(prefix="bench-bigplan-") as temp:
        work = Path(temp)
        started = time.perf_counter()
        if reuse is not None and reuse.exists():  # a plan made by an earlier run
            plan = read_plan(reuse)
        else:
            plan = make_plan(n, work)
            if reuse is not None:
                write_plan(plan, reuse)
        made_s = time.perf_counter() - started
        old_path, new_path = work / "old.json", work / "new.json"
        started, cpu = time.perf_counter(), time.process_time()
        write_plan(plan, old_path)
        write_s, write_cpu = time.perf_counter() - started, time.process_time() - cpu
        tracemalloc.start()
        write_plan(plan, work / "again.json")
        write_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        write_plan(changed(plan), new_path)
        show = run_cli(["show", str(old_path)], work)
        diff = run_cli(["diff", str(old_path), str(new_path)], work)
        diff_json = run_cli(["diff", str(old_path), str(new_path), "--format", "json"], work)
        size_mb = old_path.stat().st_size / 2**20
        with old_path.open("rb") as handle:
            lines = sum(1 for _ in handle)
        show_json = run_cli(["show", str(old_path), "--format", "json", "--out",
                             str(work / "shown.json")], work)
        shown = work / "shown.json"
        same_bytes = shown.exists() and shown.read_bytes() == old_path.read_bytes()
    for name, run in (("show", show), ("show json", show_json), ("diff", diff),
                      ("diff json", diff_json)):
        if run["exit_code"] != 0:
            raise SystemExit(f"{name} failed: {run['stderr']}")
    reported = json.loads(diff_json["stdout"]) if diff_json["stdout"].startswith("{") else {}
    count = len(plan.resources)
    rows = [
        {"step": "plan write (in-process)", "resources": count, "seconds": write_s,
         "cpu_s": write_cpu, "peak_mb": write_peak, "peak_kind": "tracemalloc", "plan_mb": size_mb,
         "bytes_per_resource": round(size_mb * 2**20 / count),
         "lines_per_resource": round(lines / count, 1)},
        {"step": "show (CLI process)", "resources": len(plan.resources),
         "seconds": show["seconds"],
         "cpu_s": show["cpu_s"], "peak_mb": show["peak_rss_mb"], "peak_kind": "RSS"},
        {"step": "show --format json (CLI process)", "resources": len(plan.resources),
         "seconds": show_json["seconds"],
         "cpu_s": show_json["cpu_s"], "peak_mb": show_json["peak_rss_mb"],
         "peak_kind": "RSS"},
        {"step": "diff (CLI process)", "resources": len(plan.resources),
         "seconds": diff["seconds"],
         "cpu_s": diff["cpu_s"], "peak_mb": diff["peak_rss_mb"], "peak_kind": "RSS"},
        {"step": "diff --format json (CLI process)", "resources": len(plan.resources),
         "seconds": diff_json["seconds"],
         "cpu_s": diff_json["cpu_s"], "peak_mb": diff_json["peak_rss_mb"],
         "peak_kind": "RSS"},
    ]
    goals = [
        c.goal("plan made (set-up, not a goal)", made_s, "-", True),
        *[goal for row in rows[:4] for goal in (
            c.goal(f"{row['step']}: seconds", row["seconds"], f"< {MAX_SECONDS} s",
                   row["seconds"] < MAX_SECONDS),
            c.goal(f"{row['step']}: peak MB", row["peak_mb"], f"< {MAX_MB} MB",
                   row["peak_mb"] is not None and row["peak_mb"] < MAX_MB))],
        c.goal("show --format json prints the file's bytes", same_bytes, "yes", same_bytes),
        c.goal("diff reports the removed resources", len(reported.get("removed", [])),
               f"{len([r for i, r in enumerate(plan.resources) if i % 100 == 50])}",
               len(reported.get("removed", [])) ==
               len([r for i, r in enumerate(plan.resources) if i % 100 == 50])),
    ]
    c.write_results("bigplan", quick=args.quick, params={"resources": n}, rows=rows,
                    goals=goals, results_dir=args.results)


if __name__ == "__main__":
    main()

"""Benchmark 1: first plan at scale, against the floor Airbus sets and a naive client.

For N AOIs (9 km² tiles near Toulouse, Pléiades archive, best scene per AOI in summer 2023,
cloud ≤ 10 %): wall time of load + plan, requests per endpoint, 429s, ``ours / bound`` with
``bound = price calls / ordering rate + searches / search rate + one latency``, the share of
the time spent outside pricing, and ``naive / ours`` with 1:1 orders and with 5 AOI/item pairs
per order.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c
from naive_client import naive_plan

from oneatlas_plan.planning.run import plan_specs
from oneatlas_plan.state.model import State


def measure_ours(running: c.RunningSandbox, spec_dir: Path) -> dict[str, Any]:
    client = c.client(running)
    marks: dict[str, float] = {}

    def on_event(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done == 0:
            marks.setdefault(f"{stage}_start", now)
        if done == total:
            marks[f"{stage}_end"] = now

    c.reset_stats(running)
    started = time.perf_counter()
    plan = plan_specs([spec_dir], State.new(), lambda: client, endpoint="sandbox",
                      on_event=on_event)
    wall = time.perf_counter() - started
    server = c.server_stats(running)
    client.close()
    pricing = marks.get("price_end", started) - marks.get("price_start", started)
    return {
        "wall": wall,
        "pricing": pricing,
        "client": client.stats.as_dict(),
        "server": server,
        "resources": len(plan.resources),
        "orders": len(plan.orders),
        "priced": sum(1 for o in plan.orders if o.price is not None),
    }


def bound(stats: dict[str, Any], limits: dict[str, float]) -> float:
    requests = stats["client"]["requests"]
    return (
        requests.get("prices", 0) / limits["ordering_rps"]
        + requests.get("search", 0) / limits["search_rps"]
        + limits["latency_s"]
    )


def run_size(n: int, work: Path) -> dict[str, Any]:
    n_specs = max(1, n // 100)
    specs_1 = work / f"specs-{n}-1to1"
    specs_5 = work / f"specs-{n}-5pairs"
    c.write_specs(specs_1, n, n_specs=n_specs)
    c.write_specs(specs_5, n, n_specs=n_specs, pairs_per_order=5)
    with c.sandbox(work / f"sandbox-{n}") as running:
        limits = c.limits(running)
        ours = measure_ours(running, specs_1)
        ours5 = measure_ours(running, specs_5)
        time.sleep(2 / limits["ordering_rps"])  # the naive client starts from a quiet key
        c.reset_stats(running)
        aois = [(f"t{i:05d}", box) for i, box in enumerate(c.tiles(n))]
        naive = naive_plan(running.base_url, running.api_key, aois, contract=c.CONTRACT,
                           ordering_rps=limits["ordering_rps"])
        naive_server = c.server_stats(running)
    floor = bound(ours, limits)
    return {
        "n_aois": n,
        "wall_s": ours["wall"],
        "bound_s": floor,
        "ours_over_bound": ours["wall"] / floor,
        "outside_pricing_share": (ours["wall"] - ours["pricing"]) / ours["wall"],
        "requests": ours["client"]["requests"],
        "requests_total": ours["client"]["total"],
        "server_requests": ours["server"]["requests"],
        "http_429": ours["server"]["too_many_requests"] + ours5["server"]["too_many_requests"],
        "max_concurrent_ordering": max(ours["server"]["max_concurrent_ordering"],
                                       ours5["server"]["max_concurrent_ordering"]),
        "orders": ours["orders"],
        "priced": ours["priced"],
        "wall_5pairs_s": ours5["wall"],
        "bound_5pairs_s": bound(ours5, limits),
        "ours_over_bound_5pairs": ours5["wall"] / bound(ours5, limits),
        "orders_5pairs": ours5["orders"],
        "requests_5pairs": ours5["client"]["requests"],
        "naive_wall_s": naive.seconds,
        "naive_requests": naive.requests,
        "naive_priced": naive.priced,
        "naive_unsatisfied": naive.unsatisfied,
        "naive_429": naive_server["too_many_requests"],
        "naive_over_ours_1to1": naive.seconds / ours["wall"],
        "naive_over_ours_5pairs": naive.seconds / ours5["wall"],
    }


def main() -> None:
    args = c.parse_args(__doc__ or "")
    sizes = [10] if args.quick else [100, 1000]
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as temp:
        rows = [run_size(n, Path(temp)) for n in sizes]
    goals = []
    for row in rows:
        n = row["n_aois"]
        goals += [
            c.goal(f"ours / bound (N={n})", row["ours_over_bound"], "<= 1.1",
                   row["ours_over_bound"] <= 1.1,
                   "" if row["ours_over_bound"] <= 1.1 else
                   "each ordering interval counts from the end of the previous request (one "
                   "round trip per call, the only ban-proof pacing) + 5 % safety margin "
                   "(see docs/performance.md)"),
            c.goal(f"429s (N={n})", row["http_429"], "0", row["http_429"] == 0),
            c.goal(f"time outside pricing (N={n})", row["outside_pricing_share"], "<= 5 %",
                   row["outside_pricing_share"] <= 0.05,
                   "" if row["outside_pricing_share"] <= 0.05 or n >= 100 else
                   "tiny N: start-up (token, limits, search) is not amortised"),
        ]
    c.write_results(
        "plan",
        quick=args.quick,
        params={"time_scale": c.TIME_SCALE, "latency_ms": c.LATENCY_MS,
                "jitter_ms": c.JITTER_MS, "tile_km": c.TILE_KM, "sizes": sizes},
        rows=rows,
        goals=goals,
        results_dir=args.results,
    )


if __name__ == "__main__":
    main()

"""Benchmark 1: first plan at scale, against the floor Airbus sets and a naive client.

Two worlds of N AOIs (Pléiades archive, best scene per AOI in summer 2023, cloud ≤ 10 %):
``grid`` (9 km² tiles near Toulouse) and ``spread`` (random 5–8-vertex polygons of 6–32 km² in
clusters over 8 land regions, fixed seed: ``_common.spread``). For each: wall time of load +
plan, requests per endpoint, 429s, ``ours / bound`` with the issue's
``bound = price calls × (ordering interval + round trip)`` computed with the *measured* round
trips, as ``bench_apply`` does: ``Σ (interval + RTTᵢ)`` over the price calls, each round trip
timed by the planning process around ``requests.Session.send`` (from handing the request over
to having read the whole answer, server time included). The former figure with the sandbox's
nominal 4 ms latency instead (``bound_nominal_s``, ``ours_over_bound_nominal``) is kept for
comparison, beside the median measured round trip. Then the share of the time spent outside
pricing, the peak RSS of the planning process, and ``naive / ours`` with 1:1 orders and with
5 AOI/item pairs per order. Ours and the naive client each run in their own process (the
sandbox serves from this one), so their peak RSS is their own.

A last row plans 10,000 spread AOIs against a sandbox at ×1000 (memory only: its time is not
a measurement of anything).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import _common as c

HERE = Path(__file__).resolve().parent


def child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(HERE / "_child.py"), *args],
                          capture_output=True, text=True, check=False, cwd=HERE)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_ours(running: c.RunningSandbox, spec_dir: Path) -> dict[str, Any]:
    c.reset_stats(running)
    result = child("ours", running.base_url, str(spec_dir))
    result["server"] = c.server_stats(running)
    return result


def bound(stats: dict[str, Any], limits: dict[str, float]) -> float:
    """``Σ (interval + measured round trip)`` over the run's price calls."""
    rtts = stats["price_rtts"]
    return len(rtts) / limits["ordering_rps"] + sum(rtts)


def nominal_bound(stats: dict[str, Any], limits: dict[str, float]) -> float:
    """``price calls × (interval + the sandbox's nominal latency)``: the former bound."""
    prices = stats["client"]["requests"].get("prices", 0)
    return prices * (1 / limits["ordering_rps"] + limits["latency_s"])


def where_the_time_goes(stats: dict[str, Any], limits: dict[str, float]) -> dict[str, float]:
    """``wall − bound`` split in three: before the first price request left, the gaps
    between price requests beyond the interval (the pricing thread not ready: nothing to
    price yet, a body to make, the interpreter busy elsewhere, or another ordering call such
    as a contract look-up taking the turn), and after the last price answer (the plan's
    assembly). ``wall − bound = before + gaps + after − one interval``."""
    calls = stats["price_calls"]
    if not calls:
        return {"before_first_price_s": stats["wall"], "price_gaps_over_interval_s": 0.0,
                "after_last_price_s": 0.0}
    interval = 1 / limits["ordering_rps"]
    gaps = [later[0] - (at + rtt) - interval for (at, rtt), later in pairwise(calls)]
    last_at, last_rtt = calls[-1]
    return {"before_first_price_s": calls[0][0],
            "price_gaps_over_interval_s": sum(g for g in gaps if g > 0),
            "after_last_price_s": stats["wall"] - (last_at + last_rtt)}


def _ms(values: list[float]) -> float | None:
    return statistics.median(values) * 1000 if values else None


def run_size(world: str, n: int, work: Path, *, with_naive: bool = True) -> dict[str, Any]:
    n_specs = max(1, n // 100)
    specs_1 = work / f"specs-{world}-{n}-1to1"
    specs_5 = work / f"specs-{world}-{n}-5pairs"
    c.write_specs(specs_1, n, n_specs=n_specs, world=world)
    c.write_specs(specs_5, n, n_specs=n_specs, pairs_per_order=5, world=world)
    aois_file = work / f"aois-{world}-{n}.json"
    aois_file.write_text(json.dumps(
        [(f"t{i:05d}", polygon) for i, polygon in enumerate(c.world_aois(world, n))]))
    with c.sandbox(work / f"sandbox-{world}-{n}") as running:
        limits = c.limits(running)
        ours = measure_ours(running, specs_1)
        ours5 = measure_ours(running, specs_5)
        naive: dict[str, Any] = {}
        naive_server: dict[str, Any] = {}
        if with_naive:
            time.sleep(2 / limits["ordering_rps"])  # the naive client starts from a quiet key
            c.reset_stats(running)
            naive = child("naive", running.base_url, str(aois_file), str(limits["ordering_rps"]))
            naive_server = c.server_stats(running)
    floor = bound(ours, limits)
    nominal = nominal_bound(ours, limits)
    return {
        "world": world,
        "n_aois": n,
        "wall_s": ours["wall"],
        "bound_s": floor,
        "ours_over_bound": ours["wall"] / floor,
        "price_calls_timed": len(ours["price_rtts"]),
        "price_rtt_median_ms": _ms(ours["price_rtts"]),
        "bound_nominal_s": nominal,
        "ours_over_bound_nominal": ours["wall"] / nominal,
        "outside_pricing_share": (ours["wall"] - ours["pricing"]) / ours["wall"],
        "peak_rss_mb": ours["peak_rss_mb"],
        "cpu_s": ours["cpu_s"],
        "first_price_s": ours["marks"].get("price_start"),
        "first_price_call_s": ours["first_price_call_s"],
        "stages_s": ours["marks"],
        "requests": ours["client"]["requests"],
        "server_requests": ours["server"]["requests"],
        "http_429": ours["server"]["too_many_requests"] + ours5["server"]["too_many_requests"],
        "max_concurrent_ordering": max(ours["server"]["max_concurrent_ordering"],
                                       ours5["server"]["max_concurrent_ordering"]),
        "orders": ours["orders"],
        "priced": ours["priced"],
        "wall_5pairs_s": ours5["wall"],
        "ours_over_bound_5pairs": ours5["wall"] / bound(ours5, limits),
        "price_rtt_median_5pairs_ms": _ms(ours5["price_rtts"]),
        "ours_over_bound_nominal_5pairs": ours5["wall"] / nominal_bound(ours5, limits),
        "outside_pricing_share_5pairs": (ours5["wall"] - ours5["pricing"]) / ours5["wall"],
        "peak_rss_5pairs_mb": ours5["peak_rss_mb"],
        "cpu_5pairs_s": ours5["cpu_s"],
        "first_price_5pairs_s": ours5["marks"].get("price_start"),
        "first_price_call_5pairs_s": ours5["first_price_call_s"],
        "orders_5pairs": ours5["orders"],
        "requests_5pairs": ours5["client"]["requests"],
        **where_the_time_goes(ours, limits),
        **{f"{k[:-2]}_5pairs_s": v for k, v in where_the_time_goes(ours5, limits).items()},
        "naive_wall_s": naive.get("wall"),
        "naive_requests": naive.get("requests"),
        "naive_priced": naive.get("priced"),
        "naive_unsatisfied": naive.get("unsatisfied"),
        "naive_429": naive_server.get("too_many_requests"),
        "naive_peak_rss_mb": naive.get("peak_rss_mb"),
        "naive_over_ours_1to1": naive["wall"] / ours["wall"] if naive else None,
        "naive_over_ours_5pairs": naive["wall"] / ours5["wall"] if naive else None,
    }


def memory_only(n: int, work: Path) -> dict[str, Any]:
    """Peak RSS of planning ``n`` spread AOIs (a ×1000 sandbox: the time means nothing)."""
    specs = work / f"specs-spread-{n}-memory"
    c.write_specs(specs, n, n_specs=max(1, n // 100), world="spread")
    with c.sandbox(work / f"sandbox-memory-{n}", fast=True) as running:
        ours = measure_ours(running, specs)
    return {"world": "spread (×1000, memory only)", "n_aois": n, "wall_s": ours["wall"],
            "peak_rss_mb": ours["peak_rss_mb"], "requests": ours["client"]["requests"],
            "orders": ours["orders"], "priced": ours["priced"],
            "http_429": ours["server"]["too_many_requests"]}


def goals_for(row: dict[str, Any]) -> list[dict[str, Any]]:
    n, world = row["n_aois"], row["world"]
    if "memory only" in world:
        return [c.goal(f"peak RSS, {n} spread AOIs (MB)", row["peak_rss_mb"], "<= 1,024",
                       row["peak_rss_mb"] <= 1024)]
    tag = f"{world}, N={n}"
    naive = [
        c.goal(f"naive / ours 1:1 ({tag})", row["naive_over_ours_1to1"], ">= 1.0",
               row["naive_over_ours_1to1"] >= 1.0),
        c.goal(f"naive / ours 5:1 ({tag})", row["naive_over_ours_5pairs"], ">= 4",
               row["naive_over_ours_5pairs"] >= 4),
    ] if row["naive_wall_s"] is not None else []
    return [
        c.goal(f"ours / Σ (interval + measured RTT) ({tag})", row["ours_over_bound"],
               "<= 1.1", row["ours_over_bound"] <= 1.1),
        c.goal(f"ours / Σ (interval + measured RTT), 5 pairs/order ({tag})",
               row["ours_over_bound_5pairs"], "<= 1.1", row["ours_over_bound_5pairs"] <= 1.1),
        c.goal(f"time outside pricing ({tag})", row["outside_pricing_share"], "<= 5 %",
               row["outside_pricing_share"] <= 0.05),
        c.goal(f"peak RSS MB ({tag})", row["peak_rss_mb"], "<= 300", row["peak_rss_mb"] <= 300),
        *naive,
        c.goal(f"429s ({tag})", row["http_429"], "0", row["http_429"] == 0),
    ]


def main() -> None:
    args = c.parse_args(__doc__ or "", worlds=True)
    sizes = [args.size or (10 if args.quick else 1000)]
    worlds = c.WORLDS if args.world == "both" else (args.world,)
    memory_n = 200 if args.quick else 10_000
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as temp:
        rows = [run_size(world, n, Path(temp), with_naive=not args.no_naive)
                for world in worlds for n in sizes]
        if "spread" in worlds and not args.no_memory:
            rows.append(memory_only(memory_n, Path(temp)))
    goals = [g for row in rows for g in goals_for(row)]
    c.write_results(
        "plan",
        quick=args.quick,
        params={"time_scale": c.TIME_SCALE, "latency_ms": c.LATENCY_MS,
                "jitter_ms": c.JITTER_MS, "tile_km": c.TILE_KM, "sizes": sizes,
                "worlds": list(worlds), "spread_seed": c.SPREAD_SEED,
                "memory_only_n": None if args.no_memory else memory_n,
                "naive": not args.no_naive},
        rows=rows,
        goals=goals,
        results_dir=args.results,
    )


if __name__ == "__main__":
    main()

"""Smoke-run every benchmark script with --quick: result files and request counts, never
timings (machines are shared and noisy). About a minute of CPU on two cores, so they run with
the heavy campaigns (`pytest -m campaign`, which CI runs too), not in the default suite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.campaign

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run(name: str, results: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), "--quick", "--results", str(results)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    short = name.removeprefix("bench_")
    assert (results / f"{short}.md").read_text().startswith(f"## {short} (quick)")
    document: dict[str, Any] = json.loads((results / f"{short}.json").read_text())
    assert document["quick"] is True
    assert {"nproc", "cpu", "python"} <= set(document["machine"])
    assert document["rows"] and document["goals"]
    return document


@pytest.mark.slow
def test_plan_counts_requests_and_compares_with_the_naive_client(tmp_path: Path) -> None:
    rows = run("bench_plan", tmp_path)["rows"]
    row = rows[0]
    assert (row["world"], row["n_aois"]) == ("grid", 10)
    assert row["requests"]["prices"] == 10  # one per order, 1:1
    assert row["requests"]["search"] == 1  # one merged search for the region
    assert row["requests_5pairs"]["prices"] == 2  # 10 AOIs, 5 pairs per order
    assert row["naive_requests"] == {"token": 1, "search": 10, "prices": 10}
    assert row["naive_priced"] == 10  # the naive client's bodies are accepted
    assert row["http_429"] == 0 and row["naive_429"] == 0
    assert row["max_concurrent_ordering"] == 1
    assert {"ours_over_bound", "outside_pricing_share", "naive_over_ours_1to1",
            "naive_over_ours_5pairs", "bound_s", "peak_rss_mb"} <= set(row)
    # the bound counts the measured round trip of every price call, each above the interval
    assert row["price_calls_timed"] == row["requests"]["prices"]
    assert row["price_rtt_median_ms"] > 0
    assert row["bound_s"] > row["price_calls_timed"] / 20
    spread = rows[1]
    assert (spread["world"], spread["n_aois"]) == ("spread", 10)
    assert spread["http_429"] == 0 and spread["max_concurrent_ordering"] == 1
    assert spread["requests"]["prices"] == spread["orders"]  # one price call per order
    memory = rows[2]
    assert memory["n_aois"] == 200 and memory["peak_rss_mb"] > 0


@pytest.mark.slow
def test_replan_only_resolves_the_edited_spec(tmp_path: Path) -> None:
    row = run("bench_replan", tmp_path)["rows"][0]
    assert row["actions"] == {"no-op": 9, "reorder": 3}
    assert row["ours_requests_by_endpoint"]["prices"] == 3
    assert row["ours_requests_by_endpoint"]["search_v2"] == 1
    assert row["naive_requests"] == 1 + 12 + 12
    assert row["ours_429"] == 0


@pytest.mark.slow
def test_noop_replan_makes_no_request(tmp_path: Path) -> None:
    row = run("bench_noop", tmp_path)["rows"][0]
    assert row["no_op"] == row["resources"] == 12
    assert row["library_requests"] == row["cli_requests"] == 0
    assert row["library_clients_created"] == 0
    assert row["cli_plan_meta_requests"] == 0
    assert row["cli_exit_code"] == 0


@pytest.mark.slow
def test_apply_of_a_fresh_plan_makes_one_ordering_call_per_order(tmp_path: Path) -> None:
    rows = run("bench_apply", tmp_path)["rows"]
    throughput = next(r for r in rows if r.get("case") == "scaled latency")
    assert throughput["orders"] == 10
    assert throughput["requests"]["orders"] == 10
    assert "prices" not in throughput["requests"]  # the plan's prices are minutes old
    assert throughput["ordering_calls_per_order"] == 1
    assert throughput["http_429"] == 0 and throughput["max_concurrent_ordering"] == 1
    # the bound is made of the measured round trips of the ordering calls
    assert throughput["rtt_median_ms"] > 0 and throughput["bound_s"] > 10 / 20
    jitter = next(r for r in rows if r.get("case") == "issue 18 jitter")
    assert jitter["latency_ms"] == "10 ± 5"  # Airbus's 200 ms ± 100 ms, scaled ×20
    assert jitter["requests"]["orders"] == jitter["orders"] == 10
    assert jitter["http_429"] == 0 and jitter["bans"] == 0
    persisted = [r for r in rows if r["kind"] == "persistence"]
    assert [r["orders"] for r in persisted] == [10, 100]
    assert all(r["per_order_state_ms"] > 0 for r in persisted)


def test_startup_keeps_heavy_imports_off_version(tmp_path: Path) -> None:
    rows = run("bench_startup", tmp_path)["rows"]
    assert rows[0]["heavy_imports"] == "none"


@pytest.mark.slow
def test_bigplan_show_and_diff(tmp_path: Path) -> None:
    document = run("bench_bigplan", tmp_path)
    assert [r["step"].split(" ")[0] for r in document["rows"]] == [
        "plan", "show", "show", "diff", "diff"
    ]
    # what the steps produce, never how long they took (the machine is shared)
    untimed = [g for g in document["goals"] if not g["metric"].endswith("seconds")]
    assert untimed and all(g["met"] for g in untimed), untimed

"""Covers respect Airbus's limit of 5 AOI/item pairs per order (issue 14, item 6): a
multi-scene cover is split into several orders, each one Airbus (the sandbox, which answers
E4006 above 5 pairs) accepts, priced and budgeted on its own, and bought whole or not at all.
Among covers satisfying the policy, the one paying less overlap is bought (issue 14)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import shape
from shapely.ops import unary_union

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.geodesy import geodesic_area_km2
from oneatlas_plan.planning.planfile import expand_parts
from tests.conftest import ROOT, World

EXAMPLE = ROOT / "examples" / "coverage-large-area.yaml"
SPEC = Path("cover.yaml")
COVER = "camargue-mosaic.camargue.camargue"


def write_cover(*, pairs_per_order: int = 5, budget: str = "") -> None:
    """The shipped large-area example over a wider area that takes 6-12 SPOT scenes."""
    text = EXAMPLE.read_text()
    start = text.index("        geometry:")
    end = text.index("    search:")
    text = text[:start] + "        bbox: [3.5, 43.3, 5.5, 44.5]\n" + text[end:]
    text = text.replace("min: 0.9 ", "min: 0.95 ").replace("max_scenes: 4", "max_scenes: 12")
    text = text.replace("per_spec: 6000 EUR", f"per_spec: 600000 EUR\n{budget}")
    text = text.replace("amount: 6000", "amount: 600000")
    text = text.replace(
        "      notification_emails:",
        f"      pairs_per_order: {pairs_per_order}\n      notification_emails:",
    )
    SPEC.write_text(text)


def plan_json(world: World, *args: str) -> tuple[int, dict[str, Any]]:
    code = world.cli("plan", str(SPEC), *args, "--out", "plan.json")
    return code, expand_parts(json.loads(Path("plan.json").read_text()))


def parts(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["address"].startswith(COVER + "[part")]


def test_cover_of_several_orders_is_accepted_and_replans_to_nothing(world: World) -> None:
    write_cover()
    code, plan = plan_json(world, "--detailed-exitcode")
    assert code == ExitCode.CHANGES
    scenes = [s["id"] for r in parts(plan) for s in r["scenes"]]
    assert 6 <= len(scenes) <= 12
    assert len(set(scenes)) == len(scenes)
    assert len(plan["orders"]) == len(parts(plan)) == -(-len(scenes) // 5)
    for order in plan["orders"]:
        assert order["action"] == "create"
        assert 1 <= len(order["body"]["items"]) <= 5
        assert float(order["price"]["amount"]) > 0
    ordered = {
        s["catalogItemId"]
        for o in plan["orders"]
        for i in o["body"]["items"]
        for s in i["dataSourceIds"]
    }
    assert ordered == set(scenes)
    assert world.cli("apply", "plan.json", "--auto-approve") == ExitCode.OK
    ledger = world.orders_for("camargue-mosaic/")
    assert len(ledger) == len(plan["orders"])
    state = world.state()["resources"]
    assert sorted(state) == sorted(r["address"] for r in parts(plan))
    assert {r["status"] for r in state.values()} == {"ordered"}
    world.reset_stats()
    code, again = plan_json(world, "--detailed-exitcode")
    assert code == ExitCode.OK
    assert again["orders"] == []
    assert [(r["address"], r["action"]) for r in again["resources"]] == [(COVER, "no-op")]
    made = {k: n for k, n in world.requests_made().items() if n and not k.startswith("ctl_")}
    assert made == {}  # nothing to resolve: not even a search


def test_pairs_per_order_bounds_each_part(world: World) -> None:
    write_cover(pairs_per_order=2)
    _, plan = plan_json(world)
    scenes = sum(len(r["scenes"]) for r in parts(plan))
    assert len(plan["orders"]) == -(-scenes // 2)
    assert all(len(o["body"]["items"]) <= 2 for o in plan["orders"])
    assert world.cli("apply", "plan.json", "--auto-approve") == ExitCode.OK
    assert len(world.orders_for("camargue-mosaic/")) == len(plan["orders"])


def test_per_airbus_order_budget_applies_to_each_part_and_blocks_the_whole_cover(
    world: World,
) -> None:
    write_cover()
    _, plan = plan_json(world)
    prices = sorted(o["price"]["amount"] for o in plan["orders"])
    assert len(prices) >= 2 and float(prices[0]) < float(prices[-1])
    cap = int((float(prices[0]) + float(prices[-1])) / 2)
    write_cover(budget=f"  per_airbus_order: {cap} EUR\n")
    _, plan = plan_json(world)
    checks = [b for b in plan["budgets"] if b["scope"] == "airbus_order"]
    assert sorted(b["name"] for b in checks) == sorted(o["key"] for o in plan["orders"])
    over = [o for o in plan["orders"] if float(o["price"]["amount"]) > cap]
    assert over and all("per-Airbus-order budget" in o["reason"] for o in over)
    within = [o for o in plan["orders"] if float(o["price"]["amount"]) <= cap]
    assert within and all("bought whole or not at all" in o["reason"] for o in within)
    assert {o["action"] for o in plan["orders"]} == {"blocked"}
    assert world.cli("apply", "plan.json", "--auto-approve") == ExitCode.OK
    assert world.orders_for("camargue-mosaic/") == []


def test_the_cover_bought_pays_less_overlap_than_the_first_one_found(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cover()
    _, plan = plan_json(world)
    covered = parts(plan)
    why = [a["why"] for r in covered for a in r["alternatives"] if "paid overlap" in a["why"]]
    assert why, "the greedy cover was bought as found"
    figures = re.fullmatch(
        r"less paid overlap: the first cover found \((\d+) scenes, with this one\) bills "
        r"([\d,.]+) km² beyond the ground it covers once, the chosen cover \((\d+) scenes\) "
        r"([\d,.]+) km²",
        why[0],
    )
    assert figures is not None, why[0]
    first, chosen = (float(figures[i].replace(",", "")) for i in (2, 4))
    assert chosen < first
    # What the bought scenes bill (each AOI ∩ footprint, at least 25 km²) beyond the ground
    # they cover once is the figure the plan states.
    aoi = shape(covered[0]["aoi_geometry"])
    pieces = [aoi.intersection(shape(s["footprint"])) for r in covered for s in r["scenes"]]
    assert int(figures[3]) == len(pieces)
    billed = sum(max(25.0, geodesic_area_km2(p)) for p in pieces)
    assert billed - geodesic_area_km2(unary_union(pieces)) == pytest.approx(chosen, abs=0.01)
    capsys.readouterr()
    assert run(["show", "plan.json", "--format", "markdown"]) == ExitCode.OK
    assert "less paid overlap: the first cover found" in capsys.readouterr().out

"""Spend correctness (issue 14), through the CLI against the sandbox over HTTP: budgets that
hold, edits that do not re-buy, nothing bought twice, exit codes that mean something."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.planfile import expand_parts
from tests.conftest import World

TOULOUSE = Path("specs/toulouse-pleiades.yaml")
SCENE = "DS_PHR1B_202207151016099_FR1_PX_E001N43_0708_94508"  # the best Toulouse 2022 scene


def plan_json(world: World, *args: str) -> tuple[int, dict[str, Any]]:
    code = world.cli("plan", *args, "--out", "plan.json")
    return code, expand_parts(json.loads(Path("plan.json").read_text()))


def resource(plan: dict[str, Any], address: str) -> dict[str, Any]:
    return next(r for r in plan["resources"] if r["address"] == address)


def budget(plan: dict[str, Any], scope: str, name: str | None = None) -> dict[str, Any]:
    return next(
        b for b in plan["budgets"] if b["scope"] == scope and (name is None or b["name"] == name)
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def toulouse_with(budget_block: str = "", order_budget: str = "1000 EUR", aois: int = 1) -> None:
    """The shipped Toulouse spec with a spec-level budget and several (disjoint) AOIs."""
    text = TOULOUSE.read_text().replace("    budget: 1000 EUR", f"    budget: {order_budget}")
    text = text.replace("orders:\n", f"{budget_block}orders:\n", 1)
    extra = "".join(
        f"      - name: extra-{i}\n        bbox: [{1.30 + 0.04 * i:.2f}, 43.54, "
        f"{1.33 + 0.04 * i:.2f}, 43.57]\n"
        for i in range(1, aois)
    )
    text = text.replace("    search:\n", extra + "    search:\n", 1)
    TOULOUSE.write_text(text)


def ordered_count(world: World) -> int:
    return len(world.orders_for("toulouse/"))


# ---------------------------------------------------------------------------- 1. per Airbus order


def test_spec_level_per_airbus_order_budget_blocks(world: World) -> None:
    toulouse_with("budget:\n  per_airbus_order: 100 EUR\n")
    code, plan = plan_json(world, str(TOULOUSE))
    assert code == ExitCode.OK
    found = resource(plan, "toulouse.city-centre.polygon-1")
    assert found["action"] == "blocked"
    assert found["reason"] == (
        "order price EUR 250.00 exceeds the per-Airbus-order budget EUR 100.00"
    )
    assert world.cli("apply", str(TOULOUSE), "--auto-approve") == ExitCode.OK
    assert ordered_count(world) == 0


def test_removed_per_order_key_is_a_located_error_naming_the_new_key(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    toulouse_with("budget:\n  per_order: 100 EUR\n")
    assert run(["validate", str(TOULOUSE)]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "toulouse-pleiades.yaml:8" in err
    assert "budget.per_order was renamed: use budget.per_airbus_order" in err


# ---------------------------------------------------------------------------- 2. committed spend


def test_spec_budget_counts_what_the_state_already_spent(world: World) -> None:
    toulouse_with("budget:\n  per_spec: 400 EUR\n")
    assert world.cli("apply", str(TOULOUSE), "--auto-approve") == ExitCode.OK
    toulouse_with(aois=2)  # one more AOI; the per_spec budget stays
    _, plan = plan_json(world, str(TOULOUSE))
    extra = resource(plan, "toulouse.city-centre.extra-1")
    assert extra["action"] == "blocked"
    assert "spec toulouse budget EUR 400.00 would be exceeded" in extra["reason"]
    assert "EUR 250.00 already committed" in extra["reason"]
    check = budget(plan, "spec", "toulouse")
    assert (check["spent_before"], check["planned"], check["left"]) == ("250.00", "0", "150.00")
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert ordered_count(world) == 1


def test_unknown_outcome_counts_as_spent(world: World) -> None:
    toulouse_with("budget:\n  total: 400 EUR\n")
    world.faults(drop_next_orders=1)
    world.cli("apply", str(TOULOUSE), "--auto-approve")
    state = world.state()["resources"]["toulouse.city-centre.polygon-1"]
    assert state["orders"][-1]["status"] in ("unknown", "ordered")
    toulouse_with(aois=2)
    _, plan = plan_json(world, str(TOULOUSE))
    assert resource(plan, "toulouse.city-centre.extra-1")["action"] == "blocked"
    assert budget(plan, "total")["spent_before"] == "250.00"


def _first_of_month() -> datetime:
    return datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def test_monthly_window_forgets_last_month(world: World) -> None:
    toulouse_with("budget:\n  per_spec: {amount: 400, currency: EUR, per: month}\n")
    assert world.cli("apply", str(TOULOUSE), "--auto-approve") == ExitCode.OK
    toulouse_with(aois=2)
    _, plan = plan_json(world, str(TOULOUSE))
    assert resource(plan, "toulouse.city-centre.extra-1")["action"] == "blocked"
    # the same order, submitted the day before this month began, no longer counts
    path = world.project / "oneatlas-state.json"
    last_month = (_first_of_month() - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    state = json.loads(path.read_text())
    for order in state["resources"]["toulouse.city-centre.polygon-1"]["orders"]:
        order["submitted_at"] = last_month
    path.write_text(json.dumps(state))
    _, plan = plan_json(world, str(TOULOUSE))
    assert resource(plan, "toulouse.city-centre.extra-1")["action"] == "create"
    check = budget(plan, "spec", "toulouse")
    assert check["per"] == "month"
    assert check["window_start"] == _first_of_month().date().isoformat()
    assert check["spent_before"] == "0"


def test_prior_spend_in_another_currency_is_kept_apart(world: World) -> None:
    toulouse_with("budget:\n  total: 400 EUR\n")
    assert world.cli("apply", str(TOULOUSE), "--auto-approve") == ExitCode.OK
    path = world.project / "oneatlas-state.json"
    state = json.loads(path.read_text())
    for order in state["resources"]["toulouse.city-centre.polygon-1"]["orders"]:
        order["currency"] = "USD"
    path.write_text(json.dumps(state))
    toulouse_with(aois=2)
    _, plan = plan_json(world, str(TOULOUSE))
    assert resource(plan, "toulouse.city-centre.extra-1")["action"] == "create"
    assert budget(plan, "total")["spent_before"] == "0"


# ---------------------------------------------------------------------------- 3. spec order


def test_order_budget_covers_all_its_aois_together(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    toulouse_with(order_budget="600 EUR", aois=3)
    _, plan = plan_json(world, str(TOULOUSE))
    actions = sorted(r["action"] for r in plan["resources"])
    assert actions == ["blocked", "create", "create"]
    check = budget(plan, "order", "toulouse.city-centre")
    assert (check["planned"], check["ok"]) == ("500.00", False)
    assert "spec order toulouse.city-centre: EUR 600.00: spent before EUR 0.00, this plan " in (
        capsys.readouterr().out
    )


# ---------------------------------------------------------------------------- 4. edits


@pytest.fixture
def owned(world: World) -> World:
    assert world.cli("apply", str(TOULOUSE), "--auto-approve") == ExitCode.OK
    assert ordered_count(world) == 1
    return world


def test_metadata_edit_buys_nothing(owned: World, capsys: pytest.CaptureFixture[str]) -> None:
    edit(TOULOUSE, "john.doe@company.com", "jane.doe@company.com")
    edit(TOULOUSE, '"{spec}/{order}/{aoi}"', '"{spec}/{order}/{aoi}/v2"')
    code, plan = plan_json(owned, str(TOULOUSE), "--detailed-exitcode")
    assert code == ExitCode.OK
    found = resource(plan, "toulouse.city-centre.polygon-1")
    assert (found["action"], found["reason"]) == (
        "no-op",
        "metadata changed after ordering: applies to future orders only",
    )
    assert "metadata changed after ordering" in capsys.readouterr().out


@pytest.mark.parametrize(
    "old, new",
    [("cloud_cover: {max: 20}", "cloud_cover: {max: 10}"), ("{max: 30}", "{max: 45}")],
    ids=["tightened-still-satisfied", "loosened"],
)
def test_criteria_edit_still_satisfied_buys_nothing(owned: World, old: str, new: str) -> None:
    edit(TOULOUSE, old, new)
    code, plan = plan_json(owned, str(TOULOUSE), "--detailed-exitcode")
    assert code == ExitCode.OK
    found = resource(plan, "toulouse.city-centre.polygon-1")
    assert found["action"] == "no-op"
    assert found["reason"] == (
        "search criteria changed; the owned scene(s) still satisfy them: nothing to buy"
    )


def test_criteria_edit_no_longer_satisfied_replaces(owned: World) -> None:
    edit(TOULOUSE, "from: 2022-01-01", "from: 2022-08-01")
    code, plan = plan_json(owned, str(TOULOUSE), "--detailed-exitcode")
    assert code == ExitCode.CHANGES
    found = resource(plan, "toulouse.city-centre.polygon-1")
    assert found["action"] == "reorder"
    assert "no longer satisfy them (scene " in found["reason"]
    assert found["previous"]["sales_order_id"]
    (order,) = plan["orders"]
    assert order["price"]["amount"] == "250.00"


def test_options_edit_replaces(owned: World, capsys: pytest.CaptureFixture[str]) -> None:
    edit(TOULOUSE, "image_format: dimap_jpeg2000_regular", "image_format: dimap_geotiff")
    code, plan = plan_json(owned, str(TOULOUSE), "--detailed-exitcode")
    assert code == ExitCode.CHANGES
    found = resource(plan, "toulouse.city-centre.polygon-1")
    assert found["action"] == "reorder"
    assert found["reason"] == "the product (type or options) changed: a different product is needed"
    out = capsys.readouterr().out
    assert "previous order SAL" in out and "stays (ordered)" in out


def test_geometry_edit_that_reselects_the_owned_scene_is_a_double_purchase(owned: World) -> None:
    edit(TOULOUSE, "1.464024370605467", "1.47")
    code, plan = plan_json(owned, str(TOULOUSE), "--detailed-exitcode")
    found = resource(plan, "toulouse.city-centre.polygon-1")
    assert found["action"] == "blocked"
    assert f"scene {SCENE} of the same product already owned by " in found["reason"]
    assert "toulouse.city-centre.polygon-1 (sales order SAL" in found["reason"]
    (overlap,) = found["overlaps"]
    assert overlap["owner"] == "state" and overlap["fraction"] > 0.8
    assert overlap["price_share"] is None  # not priced: the plan does not buy it
    assert code == ExitCode.OK  # nothing would be bought
    code, plan = plan_json(owned, str(TOULOUSE), "--allow-overlap")
    found = resource(plan, "toulouse.city-centre.polygon-1")
    assert (found["action"], found["reason"]) == (
        "reorder",
        "the AOI geometry changed: a different product is needed",
    )


def test_on_change_keep_freezes_owned_resources(owned: World) -> None:
    edit(TOULOUSE, "priority: standard", "priority: rush")
    edit(TOULOUSE, "    budget: 1000 EUR", "    budget: 1000 EUR\n    on_change: keep")
    code, plan = plan_json(owned, str(TOULOUSE), "--detailed-exitcode")
    assert code == ExitCode.OK
    found = resource(plan, "toulouse.city-centre.polygon-1")
    assert found["action"] == "no-op" and found["reason"].startswith("on_change: keep")


def test_replace_forces_a_rebuy(owned: World) -> None:
    code, plan = plan_json(
        owned, str(TOULOUSE), "--replace", "toulouse.city-centre.polygon-1", "--detailed-exitcode"
    )
    assert code == ExitCode.CHANGES
    found = resource(plan, "toulouse.city-centre.polygon-1")
    assert (found["action"], found["reason"]) == ("reorder", "replacement forced with --replace")
    assert owned.cli("apply", "plan.json") == ExitCode.OK
    assert ordered_count(owned) == 2
    # The first purchase stays in the resource's history (its spend counts in every budget).
    history = owned.state()["resources"]["toulouse.city-centre.polygon-1"]["orders"]
    assert [o["status"] for o in history] == ["ordered", "ordered"]
    assert len({o["sales_order_id"] for o in history}) == 2
    assert owned.cli("plan", str(TOULOUSE), "--replace", "toulouse.nope") == ExitCode.ERROR


# ---------------------------------------------------------------------------- 5. duplicates

SECOND_ORDER = """
  - name: again
    aois:
      - name: centre
        bbox: [1.42, 43.59, 1.45, 43.61]
    search:
      constellation: [PHR]
      acquired: {from: 2022-01-01, to: 2022-12-31}
      cloud_cover: {max: 20}
      incidence_angle: {max: 30}
    product:
      type: PleiadesArchiveMono
      options:
        spectral_processing: pansharpened_natural_color
        radiometric_processing: basic
        image_format: dimap_jpeg2000_regular
        pixel_coding: 12bits
        processing_level: primary
        priority: standard
        licence: standard
    order:
      contract: Test_E2E_BR_1392-1375
      primary_market: NQUAL
"""


def test_two_orders_of_one_spec_over_the_same_ground(world: World) -> None:
    TOULOUSE.write_text(TOULOUSE.read_text() + SECOND_ORDER)
    _, plan = plan_json(world, str(TOULOUSE))
    first = resource(plan, "toulouse.again.centre")
    second = resource(plan, "toulouse.city-centre.polygon-1")
    assert first["action"] == "create"
    assert second["action"] == "blocked"
    assert "also planned for toulouse.again.centre" in second["reason"]
    assert "allow_overlap: true" in second["reason"]
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert len(world.orders_for("toulouse/")) == 1


NOT_PRICED = (
    "not priced: blocked as a double purchase; plan with --allow-overlap "
    "(or allow_overlap: true) to price and buy it"
)


def test_a_double_purchase_costs_no_price_call_unless_allowed(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    TOULOUSE.write_text(TOULOUSE.read_text() + SECOND_ORDER)
    world.reset_stats()
    capsys.readouterr()
    _, plan = plan_json(world, str(TOULOUSE))
    assert world.requests_made()["prices"] == 1  # the first purchase only
    second = resource(plan, "toulouse.city-centre.polygon-1")
    assert second["action"] == "blocked"
    assert second["reason"].startswith(
        f"scene {SCENE} of the same product also planned for toulouse.again.centre over "
    )
    assert second["reason"].endswith(f"% of the AOI); {NOT_PRICED}")  # no share of a price
    (found,) = second["overlaps"]
    assert (found["price_share"], found["currency"]) == (None, None)
    assert found["area_km2"] > 1 and 0 < found["fraction"] <= 1
    order = next(o for o in plan["orders"] if o["key"] == second["order_key"])
    assert (order["action"], order["price"], order["reason"]) == (
        "blocked", None, second["reason"]
    )
    assert plan["totals"] == {"EUR": "250.00"}
    shown = capsys.readouterr().out
    assert NOT_PRICED in shown and "not priced" in shown

    Path("plan.json").unlink()  # its young price would be reused
    world.reset_stats()
    _, plan = plan_json(world, str(TOULOUSE), "--allow-overlap")
    assert world.requests_made()["prices"] == 2
    second = resource(plan, "toulouse.city-centre.polygon-1")
    assert second["action"] == "create"
    (found,) = second["overlaps"]
    assert found["price_share"] is not None and found["currency"] == "EUR"
    assert all(o["price"] is not None for o in plan["orders"])
    assert plan["totals"] == {"EUR": "500.00"}


def test_a_double_purchase_of_what_a_budget_keeps_from_buying_is_priced_and_bought(
    world: World,
) -> None:
    """``toulouse.again.centre`` (first in address order) is over its budget: the resource
    it doubled is no double purchase after all, so it is priced (late) and bought."""
    TOULOUSE.write_text(
        TOULOUSE.read_text()
        + SECOND_ORDER.replace("      primary_market: NQUAL\n", "      primary_market: NQUAL\n"
                               "    budget: 100 EUR\n")
    )
    world.reset_stats()
    _, plan = plan_json(world, str(TOULOUSE))
    assert world.requests_made()["prices"] == 2
    first = resource(plan, "toulouse.again.centre")
    second = resource(plan, "toulouse.city-centre.polygon-1")
    assert first["action"] == "blocked" and "budget" in first["reason"]
    assert (second["action"], second["overlaps"]) == ("create", [])
    order = next(o for o in plan["orders"] if o["key"] == second["order_key"])
    assert order["action"] == "create" and order["price"]["amount"] == "250.00"
    assert order["key"] in plan["meta"]["priced_at"]
    assert plan["totals"] == {"EUR": "250.00"}
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert len(world.orders_for("toulouse/")) == 1


def test_two_specs_and_allow_overlap(world: World) -> None:
    assert world.cli("apply", str(TOULOUSE), "--auto-approve") == ExitCode.OK
    other = Path("specs/other.yaml")
    other.write_text("version: 1\nname: other\norders:" + SECOND_ORDER)
    _, plan = plan_json(world, str(other))
    found = resource(plan, "other.again.centre")
    assert found["action"] == "blocked"
    assert "already owned by toulouse.city-centre.polygon-1 (sales order SAL" in found["reason"]
    other.write_text(
        other.read_text().replace(
            "      primary_market: NQUAL", "      primary_market: NQUAL\n    allow_overlap: true"
        )
    )
    _, plan = plan_json(world, str(other))
    found = resource(plan, "other.again.centre")
    assert found["action"] == "create"
    assert found["overlaps"][0]["address"] == "toulouse.city-centre.polygon-1"


@pytest.mark.parametrize(
    "spec",
    ["specs", "examples/geojson-aois/marseille-ports.yaml", "examples/multi-aoi-defaults.yaml"],
)
def test_shipped_specs_and_examples_buy_no_scene_twice(world: World, spec: str) -> None:
    import shutil

    from tests.conftest import ROOT

    shutil.copytree(ROOT / "examples", Path("examples"))
    _, plan = plan_json(world, spec)
    buying = [r for r in plan["resources"] if r["action"] in ("create", "reorder")]
    assert buying, "the spec plans purchases"
    assert [r["address"] for r in plan["resources"] if r["action"] == "blocked"] == []
    scenes = [s["archive_identifier"] for r in buying for s in r["scenes"]]
    assert len(set(scenes)) == len(scenes), "a scene is bought twice"


# ---------------------------------------------------------------------------- 8. exit codes


def test_detailed_exitcode_ignores_blocked_and_fail_on_blocked(world: World) -> None:
    toulouse_with("budget:\n  per_airbus_order: 100 EUR\n")
    assert world.cli("plan", str(TOULOUSE), "--detailed-exitcode") == ExitCode.OK
    assert world.cli("plan", str(TOULOUSE), "--fail-on-blocked") == ExitCode.ERROR
    edit(TOULOUSE, "per_airbus_order: 100 EUR", "per_airbus_order: 1000 EUR")
    assert world.cli("plan", str(TOULOUSE), "--detailed-exitcode") == ExitCode.CHANGES
    assert world.cli("plan", str(TOULOUSE), "--fail-on-blocked") == ExitCode.OK


def test_apply_of_spec_paths_takes_replace_and_a_plan_file_refuses_it(owned: World) -> None:
    assert owned.cli(
        "apply", str(TOULOUSE), "--replace", "toulouse.city-centre.polygon-1", "--auto-approve"
    ) == ExitCode.OK
    assert ordered_count(owned) == 2
    assert owned.cli("plan", str(TOULOUSE), "--out", "plan.json") == ExitCode.OK
    for flag in (["--replace", "toulouse.city-centre.polygon-1"], ["--allow-overlap"]):
        assert owned.cli("apply", "plan.json", *flag) == ExitCode.USAGE
    assert ordered_count(owned) == 2


def test_a_rebuy_has_its_own_key_and_a_lost_answer_settles_to_the_new_order(
    owned: World,
) -> None:
    address = "toulouse.city-centre.polygon-1"
    first = owned.state()["resources"][address]["orders"][-1]
    owned.faults(drop_next_orders=1)  # the re-buy reaches Airbus, its answer is lost
    owned.cli("apply", str(TOULOUSE), "--replace", address, "--auto-approve")
    assert owned.cli("apply", str(TOULOUSE), "--auto-approve") == ExitCode.OK  # reconciles
    orders = owned.state()["resources"][address]["orders"]
    rebuy = orders[-1]
    assert rebuy["order_key"] != first["order_key"]
    assert rebuy["customer_reference"] != first["customer_reference"]
    ledger = owned.orders_for("toulouse/")
    assert len(ledger) == 2  # reconciled, not ordered a third time
    newest = max(ledger, key=lambda o: o["salesOrderId"])
    assert rebuy["status"] == "ordered"
    assert rebuy["sales_order_id"] == newest["salesOrderId"] != first["sales_order_id"]

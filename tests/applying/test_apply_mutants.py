"""What apply promises, pinned where a mutant of applying/apply.py survived the other tests
(docs/mutation-testing.md). Through the CLI against the sandbox over real HTTP."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan.applying import apply as apply_module
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.model import Plan
from oneatlas_plan.planning.planfile import expand_parts
from tests.applying.interposer import ORDERING, PRICES, TOO_MANY, Airbus, airbus
from tests.applying.test_reprice import _ordering_calls, _plan
from tests.conftest import World

__all__ = ["airbus"]
XINJIANG = "xinjiang-pneo.hejing-west.hejing-west"
REJECTED = {"errorCode": "E2203", "message": "Unable to access workspace 'ws-1'"}


def test_accept_price_changes_lets_a_higher_charge_go_on(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    orders = _plan(world)
    world.faults(price_factor=1.1)  # Airbus charges 10 % more than the reviewed plan
    capsys.readouterr()
    assert world.cli("apply", "plan.json", "--accept-price-changes") == ExitCode.OK
    out = capsys.readouterr().out
    assert _ordering_calls(world) == {"prices": 0, "orders": orders}  # no stop after the first
    assert out.count("charged EUR") == orders
    assert "beyond the tolerance" not in out
    statuses = [r["orders"][-1]["status"] for r in world.state()["resources"].values()]
    assert statuses == ["ordered"] * orders


def test_every_outcome_is_recorded_with_its_time_and_reason(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    world = airbus.world
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    airbus.wire.answer(ORDERING, 400, REJECTED)  # the first order: refused, nothing created
    world.faults(drop_next_orders=1)  # the second: created, but the answer is lost
    capsys.readouterr()
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    out = capsys.readouterr().out
    last = {a: r["orders"][-1] for a, r in world.state()["resources"].items()}
    assert sorted(o["status"] for o in last.values()) == ["accepted", "rejected", "unknown"]
    for order in last.values():
        assert order["outcome_at"] is not None, order
        assert order["outcome_at"] >= order["submitted_at"]
    reasons = {o["status"]: o["message"] for o in last.values()}
    assert "E2203" in reasons["rejected"]
    assert "outcome unknown" in reasons["unknown"]
    assert "OUTCOME UNKNOWN (reconciled at the next plan/apply)\n    order outcome unknown: " in out
    assert "REJECTED\n    order rejected (400 E2203): Unable to access workspace" in out


def test_a_price_in_another_currency_is_not_taken_for_the_planned_one(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    # OneAtlas only quotes EUR today; should it answer in another currency, the amount cannot
    # be compared with the reviewed one: the order is skipped, never bought.
    toulouse = "specs/toulouse-pleiades.yaml"
    assert airbus.world.cli("plan", toulouse, "--out", "plan.json") == ExitCode.OK

    def in_dollars(answer: dict[str, Any]) -> dict[str, Any]:
        return {**answer, "currency": "USD"}

    airbus.wire.rewrite(PRICES, in_dollars)
    capsys.readouterr()
    assert airbus.world.cli("apply", "plan.json", "--reprice", "always") == ExitCode.ERROR
    assert "price changed since the plan: EUR 250.00 -> USD 250.00" in capsys.readouterr().out
    assert airbus.wire.posts(*ORDERING) == 0
    assert airbus.world.ledger() == []


def test_a_quotation_answered_without_an_amount_is_left_for_a_person(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    # Within the spec's threshold at plan time, but Airbus's answer names no amount: nothing
    # can be compared with the threshold, so it is not accepted automatically (and no crash).
    def without_amount(answer: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in answer.items() if k != "totalAmount"}

    airbus.wire.rewrite("/api/v1/quotations", without_amount)
    capsys.readouterr()
    neo = "specs/xinjiang-pleiades-neo.yaml"
    assert airbus.world.cli("apply", neo, "--auto-approve") == ExitCode.OK
    out = capsys.readouterr().out
    assert "quoted, but Airbus's answer gave no amount: left quoted, never accepted" in out
    assert "read the amount on the quotation in OneAtlas, then accept it with" in out
    assert "quoted ?" not in out and "above" not in out
    [entry] = airbus.world.orders_for("xinjiang")
    assert entry["quotationStatus"] == "SENT"
    assert airbus.world.state()["resources"][XINJIANG]["orders"][-1]["status"] == "quoted"


def test_an_automatic_acceptance_is_reported_and_records_why_it_was_allowed(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    neo = "specs/xinjiang-pleiades-neo.yaml"
    capsys.readouterr()
    assert airbus.world.cli("apply", neo, "--auto-approve") == ExitCode.OK
    out = capsys.readouterr().out
    [entry] = airbus.world.orders_for("xinjiang")
    assert f"quotation accepted, ordered {entry['salesOrderId']} (EUR 979.72)" in out
    assert (
        "accepted automatically: EUR 979.72 <= accept_quotations_up_to EUR 2,000.00 "
        f"(quotation {entry['quotationId']})" in out
    )
    assert "Apply: 0 ordered, 0 quoted, 1 accepted, 0 rejected" in out
    # The state keeps the reason money was committed without a person: the spec's threshold.
    order = airbus.world.state()["resources"][XINJIANG]["orders"][-1]
    assert order["status"] == "accepted"
    assert order["message"] == (
        "accepted automatically: EUR 979.72 <= accept_quotations_up_to EUR 2,000.00"
    )


def test_an_order_charged_at_the_planned_price_reports_no_difference(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    orders = _plan(world)
    capsys.readouterr()
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert "charged EUR" not in capsys.readouterr().out
    messages = [r["orders"][-1]["message"] for r in world.state()["resources"].values()]
    assert len(messages) == orders and not any(messages)


def test_a_429_to_the_re_price_stops_the_run_before_any_order(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    assert airbus.world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    airbus.wire.answer(PRICES, 429, TOO_MANY)
    capsys.readouterr()
    assert airbus.world.cli("apply", "plan.json", "--reprice", "always") == ExitCode.ERROR
    out = capsys.readouterr().out
    assert "Stopped: OneAtlas rate-limited this API key (429)" in out
    assert "not submitted\n    price rate limited (429): Too many requests" in out
    assert airbus.wire.posts(*ORDERING) == 0
    assert airbus.world.ledger() == []


def test_a_charge_differing_from_the_re_price_is_reported_against_both_prices(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    # Planned at EUR 250.00, re-priced at 225.00, charged 237.50: the user sees all three and
    # the signed difference with the reviewed price (the promise is about what was reviewed).
    assert airbus.world.cli("plan", "specs/toulouse-pleiades.yaml", "--out", "plan.json") == 0
    airbus.wire.rewrite(PRICES, lambda answer: {**answer, "totalAmount": 225.0})
    airbus.wire.rewrite(ORDERING, lambda answer: {**answer, "totalAmount": 237.5})
    capsys.readouterr()
    assert airbus.world.cli("apply", "plan.json", "--reprice", "always") == ExitCode.OK
    said = "charged EUR 237.50, the plan said EUR 250.00, re-priced 225.00 (-12.50)"
    assert said in capsys.readouterr().out
    [record] = airbus.world.state()["resources"].values()
    assert record["orders"][-1]["message"] == said


def test_an_order_records_its_answer_time_and_production_a_quotation_neither(
    airbus: Airbus,
) -> None:
    # A quotation is not in production and nothing was charged for it yet: its record says
    # neither (`state list` would show "quoted, ordered"); an order says both.
    airbus.wire.rewrite("/api/v1/quotations", lambda answer: {**answer, "totalAmount": 2500.0})
    specs = ("specs/toulouse-pleiades.yaml", "specs/xinjiang-pleiades-neo.yaml")
    assert airbus.world.cli("apply", *specs, "--auto-approve") == ExitCode.OK
    last = {a: r["orders"][-1] for a, r in airbus.world.state()["resources"].items()}
    quoted = last.pop(XINJIANG)
    assert (quoted["status"], quoted["production_status"]) == ("quoted", None)
    assert not (quoted["message"] or "").startswith("charged")
    assert last and all(o["status"] == "ordered" for o in last.values())
    for order in last.values():
        assert order["production_status"] == "ordered"
        assert order["outcome_at"] is not None and order["outcome_at"] >= order["submitted_at"]


def test_a_hand_sealed_order_without_a_price_is_re_priced_and_its_charge_recorded(
    airbus: Airbus,
) -> None:
    # The planner blocks every unpriced order; a plan made by hand (checksum recomputed) may
    # still hold one: apply prices it first, and a charge that differs is not a crash.
    assert airbus.world.cli("plan", "specs/toulouse-pleiades.yaml", "--out", "plan.json") == 0
    data = expand_parts(json.loads(Path("plan.json").read_text()))
    data["orders"][0]["price"] = None
    sealed = Plan.model_validate({**data, "checksum": ""}).sealed()
    Path("plan.json").write_text(sealed.to_json())
    airbus.wire.rewrite(ORDERING, lambda answer: {**answer, "totalAmount": 237.5})
    priced = airbus.wire.posts(PRICES)
    assert airbus.world.cli("apply", "plan.json") == ExitCode.OK
    assert airbus.wire.posts(PRICES) == priced + 1
    [record] = airbus.world.state()["resources"].values()
    assert (record["orders"][-1]["status"], record["orders"][-1]["amount"]) == ("ordered", "237.50")


def test_the_state_records_the_scenes_bought_as_the_plan_showed_them(world: World) -> None:
    assert world.cli("plan", "specs/toulouse-pleiades.yaml", "--out", "plan.json") == 0
    plan = expand_parts(json.loads(Path("plan.json").read_text()))
    assert world.cli("apply", "plan.json") == ExitCode.OK
    fields = ("id", "archive_identifier", "platform", "acquisition_date")
    for resource in plan["resources"]:
        planned = [{k: scene[k] for k in fields} for scene in resource["scenes"]]
        assert all(scene["platform"] and scene["acquisition_date"] for scene in planned)
        recorded = world.state()["resources"][resource["address"]]["orders"][-1]["scenes"]
        assert [{k: scene[k] for k in fields} for scene in recorded] == planned


def test_a_lost_answer_leaves_a_record_that_finds_the_order_without_the_spec(world: World) -> None:
    # Reconcile finds an order whose answer was lost from its record alone (the spec may be
    # gone by then): the contract and workspace to search, the addresses it covers, its price.
    assert world.cli("plan", "specs/toulouse-pleiades.yaml", "--out", "plan.json") == 0
    [order] = expand_parts(json.loads(Path("plan.json").read_text()))["orders"]
    world.faults(drop_next_orders=1)
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    [resource] = world.state()["resources"].values()
    record = resource["orders"][-1]
    assert record["status"] == "unknown"
    assert record["contract_id"] == order["contract_id"] and record["contract_id"]
    assert record["delivery_workspace"] == order["body"]["delivery"]["workspace"]
    assert record["addresses"] == order["addresses"] == [resource["address"]]
    assert resource["spec_file"] == order["spec_file"] == "specs/toulouse-pleiades.yaml"
    assert (record["amount"], record["currency"]) == (
        order["price"]["amount"],
        order["price"]["currency"],
    )


def test_a_quotation_in_another_currency_is_left_for_a_person_saying_why(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    airbus.wire.rewrite("/api/v1/quotations", lambda answer: {**answer, "currency": "USD"})
    capsys.readouterr()
    neo = "specs/xinjiang-pleiades-neo.yaml"
    assert airbus.world.cli("apply", neo, "--auto-approve") == ExitCode.OK
    out = capsys.readouterr().out
    assert (
        "quoted USD 979.72, not in the currency of the spec's accept_quotations_up_to "
        "EUR 2,000.00: left quoted" in out
    )
    assert airbus.world.state()["resources"][XINJIANG]["orders"][-1]["status"] == "quoted"


def test_a_re_price_above_the_per_airbus_order_budget_orders_nothing(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    # Planned at exactly the per-Airbus-order budget; re-priced 1 EUR higher at apply time,
    # price changes accepted: the budget still refuses it, nothing is sent.
    spec = airbus.world.project / "specs" / "toulouse-pleiades.yaml"
    budget = "budget:\n  per_airbus_order: 250 EUR\n"
    spec.write_text(spec.read_text().replace("orders:\n", budget + "orders:\n", 1))
    assert airbus.world.cli("plan", str(spec), "--out", "plan.json") == ExitCode.OK
    airbus.wire.rewrite(PRICES, lambda answer: {**answer, "totalAmount": 251.0})
    capsys.readouterr()
    applied = airbus.world.cli(
        "apply", "plan.json", "--reprice", "always", "--accept-price-changes"
    )
    assert applied == ExitCode.ERROR
    assert "per-Airbus-order budget EUR 250.00" in capsys.readouterr().out
    assert airbus.wire.posts(*ORDERING) == 0 and airbus.world.ledger() == []


def test_an_order_without_a_delivery_workspace_records_none(world: World) -> None:
    spec = world.project / "specs" / "toulouse-pleiades.yaml"
    text = spec.read_text()
    delivery = text[text.index("      delivery:\n") : text.index("    budget:")]
    spec.write_text(text.replace(delivery, ""))
    assert world.cli("plan", str(spec), "--out", "plan.json") == 0
    [order] = expand_parts(json.loads(Path("plan.json").read_text()))["orders"]
    assert "workspace" not in order["body"]["delivery"]
    assert world.cli("apply", "plan.json") == ExitCode.OK
    [resource] = world.state()["resources"].values()
    assert resource["orders"][-1]["delivery_workspace"] is None


LATE_ON_30_NOVEMBER = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 1 December in Kiribati


class _FrozenClock(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> Any:
        if tz is not None:
            return LATE_ON_30_NOVEMBER.astimezone(tz)
        return LATE_ON_30_NOVEMBER.astimezone().replace(tzinfo=None)  # naive local, as datetime


@pytest.fixture
def kiribati() -> Iterator[None]:
    """The machine's local time zone is UTC+14 (Line Islands), where it is already tomorrow."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Etc/GMT-14"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_budget_windows_are_calendar_utc_whatever_the_local_time_zone(
    airbus: Airbus, kiribati: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two orders within a monthly total at the planned prices; each re-priced 1 EUR higher.
    # At 23:30 UTC on 30 November the first order spends in November (UTC, docs/SPEC.md), so
    # the second breaks November's budget, although it is already 1 December locally.
    specs = airbus.world.project / "specs"
    (specs / "xinjiang-pleiades-neo.yaml").unlink()
    assert airbus.world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    orders = json.loads(Path("plan.json").read_text())["orders"]
    limit = sum(Decimal(o["price"]["amount"]) for o in orders)
    spec = specs / "tanzania-spot.yaml"
    budget = f"budget: {{total: {{amount: {limit}, currency: EUR, per: month}}}}\n"
    spec.write_text(spec.read_text().replace("orders:\n", budget + "orders:\n", 1))
    assert airbus.world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    airbus.wire.rewrite(
        PRICES, lambda answer: {**answer, "totalAmount": float(answer["totalAmount"]) + 1}
    )
    monkeypatch.setattr(apply_module, "datetime", _FrozenClock)
    applied = airbus.world.cli(
        "apply", "plan.json", "--reprice", "always", "--accept-price-changes"
    )
    assert applied == ExitCode.ERROR
    assert len(airbus.world.ledger()) == 1
    submitted = [
        r["orders"][-1]["submitted_at"]
        for r in airbus.world.state()["resources"].values()
        if r["orders"][-1]["status"] == "ordered"
    ]
    assert submitted == ["2026-11-30T23:30:00Z"]


def test_a_plan_older_than_the_state_of_the_same_lineage_is_refused_as_stale(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("apply", "specs/toulouse-pleiades.yaml", "--auto-approve") == ExitCode.OK
    tanzania = "specs/tanzania-spot.yaml"
    assert world.cli("plan", tanzania, "specs/toulouse-pleiades.yaml", "--out", "old.json") == 0
    assert world.cli("plan", tanzania, "specs/toulouse-pleiades.yaml", "--out", "new.json") == 0
    assert world.cli("apply", "new.json") == ExitCode.OK  # the state moves on, same lineage
    ordered = len(world.ledger())
    capsys.readouterr()
    assert world.cli("apply", "old.json") == ExitCode.ERROR
    assert "plan is stale: the state changed since it was made" in capsys.readouterr().err
    assert len(world.ledger()) == ordered

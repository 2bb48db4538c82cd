"""A Pléiades Neo quotation whose acceptance was sent but not read back counts as spend until
reconcile settles it; a quotation the plan will not accept spends nothing at apply's budget
re-check. Through the CLI against the sandbox over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient
from oneatlas_plan.api.profiles import resolve_endpoint
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.planfile import read_plan
from oneatlas_plan.state.model import OrderRecord, ResourceRecord
from tests.applying.test_apply_rechecks import run, store_of
from tests.applying.test_quotations import ADDRESS, SPEC, _neo_only, _order, _threshold
from tests.conftest import API_KEY, World


def _budget(total: str) -> None:
    text = SPEC.read_text()
    SPEC.write_text(text.replace("orders:\n", f"budget:\n  total: {total}\norders:\n", 1))


def _total(world: World) -> dict[str, Any]:
    assert world.cli("plan", str(SPEC), "--out", "plan.json") == ExitCode.OK
    plan = json.loads(Path("plan.json").read_text())
    return dict(next(b for b in plan["budgets"] if b["scope"] == "total"))


def _accept_sent(world: World, at: datetime) -> None:
    """As a run killed after writing the acceptance ahead, before Airbus took it."""
    path = world.project / "oneatlas-state.json"
    state = json.loads(path.read_text())
    state["resources"][ADDRESS]["orders"][-1]["accept_sent_at"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps(state))


def test_an_acceptance_in_flight_counts_until_settled_after_the_grace_period(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _neo_only(world)
    _threshold("500 EUR")  # left quoted
    assert world.cli("apply", str(SPEC), "--auto-approve") == ExitCode.OK
    _budget("5000 EUR")
    assert _total(world)["spent_before"] == "0"  # a quotation is not spend

    _accept_sent(world, datetime.now(UTC))
    capsys.readouterr()
    assert _total(world)["spent_before"] == "979.72"
    assert "counted as spend until it is read back" in capsys.readouterr().err
    assert _order(world)["accept_sent_at"], "within the grace period it stays in flight"
    assert world.requests_made().get("accept", 0) == 0

    _accept_sent(world, datetime.now(UTC) - timedelta(minutes=11))
    # the plan's reconcile settles it first: Airbus never took the acceptance
    assert _total(world)["spent_before"] == "0"
    order = _order(world)
    assert (order["status"], order["accept_sent_at"]) == ("quoted", None)
    assert "still quoted" in str(order["message"])
    assert "an acceptance was sent but Airbus shows the quotation SENT" in (
        capsys.readouterr().err
    )
    assert world.requests_made().get("accept", 0) == 0


def test_an_acceptance_in_flight_found_accepted_is_recorded_as_spend(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The acceptance did reach Airbus (its answer was lost): the next plan records it."""
    _neo_only(world)
    _threshold("500 EUR")
    assert world.cli("apply", str(SPEC), "--auto-approve") == ExitCode.OK
    _accept_sent(world, datetime.now(UTC) - timedelta(minutes=11))
    quotation_id = str(_order(world)["quotation_id"])
    with OneAtlasClient(resolve_endpoint(world.base_url), ApiKey(API_KEY)) as client:
        client.accept_quotation("CTR21000411", quotation_id)  # taken by Airbus, not recorded
    _budget("5000 EUR")
    capsys.readouterr()
    assert _total(world)["spent_before"] == "979.72"
    order = _order(world)
    assert (order["status"], order["sales_order_id"]) == (
        "accepted", world.orders_for("xinjiang")[0]["salesOrderId"]
    )
    assert "quotation accepted (sales order" in capsys.readouterr().err
    assert world.requests_made()["accept"] == 1, "never accepted twice"


def test_a_quotation_left_for_a_person_passes_apply_budget_recheck(world: World) -> None:
    """979.72 above accept_quotations_up_to: quoted, not bought, so a total of 900 does not
    stop apply from asking for the quotation."""
    _neo_only(world)
    _threshold("500 EUR")
    _budget("900 EUR")
    assert world.cli("plan", str(SPEC), "--out", "plan.json") == ExitCode.OK
    plan = json.loads(Path("plan.json").read_text())
    [order] = plan["orders"]
    assert order["action"] == "create"
    world.reset_stats()
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert world.requests_made().get("quotations") == 1
    assert _order(world)["status"] == "quoted"


def test_a_quotation_the_plan_accepts_is_spend_at_apply_budget_recheck(world: World) -> None:
    """The other side: within the threshold it will be bought, so the total holds."""
    _neo_only(world)
    _budget("900 EUR")
    assert world.cli("plan", str(SPEC), "--out", "plan.json") == ExitCode.OK
    assert json.loads(Path("plan.json").read_text())["orders"][0]["action"] == "blocked"



def test_a_quotation_the_plan_accepts_is_charged_at_apply_budget_recheck(world: World) -> None:
    """Within the threshold (2000) the quote will be bought: when spend recorded since the plan
    leaves too little of the total, apply stops before asking for it (``apply_plan`` itself:
    the CLI would refuse the plan as stale first)."""
    _neo_only(world)
    _budget("1500 EUR")
    assert world.cli("plan", str(SPEC), "--out", "plan.json") == ExitCode.OK
    plan = read_plan(Path("plan.json"))
    assert [o.action for o in plan.orders] == ["create"]
    with store_of(world) as store, OneAtlasClient(
        resolve_endpoint(world.base_url), ApiKey(API_KEY)
    ) as client:
        store.record(ResourceRecord(  # another run bought EUR 600 meanwhile
            address="elsewhere.order.aoi",
            config_digest="sha256:x",
            orders=[OrderRecord(
                order_key="oap-elsewhere", customer_reference="elsewhere", body_digest="d",
                status="ordered", amount=Decimal(600), currency="EUR",
                submitted_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                addresses=["elsewhere.order.aoi"],
            )],
        ))
        world.reset_stats()
        [(status, message)] = run(plan, store, client)
    assert status == "skipped"
    assert "budget" in message
    assert world.requests_made().get("quotations", 0) == 0

"""Spend that outlives its resource (issue 14, follow-up): an order whose resource left the
state (spec deleted, AOI removed, cover re-split, `state rm`) still counts in every budget
and in the double-purchase check. Through the CLI against the sandbox over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from tests.applying.interposer import ORDERING, Airbus, airbus
from tests.cli.test_covers import COVER, write_cover
from tests.cli.test_spend import TOULOUSE, budget, plan_json, resource
from tests.conftest import World

ADDRESS = "toulouse.city-centre.polygon-1"
AGAIN = Path("specs/toulouse-again.yaml")
AGAIN_ADDRESS = "toulouse-again.city-centre.polygon-1"

__all__ = ["airbus"]


def again_spec(budget_block: str) -> None:
    """The Toulouse spec under another name (the same scene over the same AOI)."""
    text = TOULOUSE.read_text().replace("name: toulouse\n", "name: toulouse-again\n", 1)
    AGAIN.write_text(text.replace("orders:\n", f"{budget_block}orders:\n", 1))


@pytest.fixture
def forgotten(world: World, capsys: pytest.CaptureFixture[str]) -> World:
    """Toulouse bought (EUR 250), then its spec deleted and the forget applied."""
    assert world.cli("apply", str(TOULOUSE), "--auto-approve") == ExitCode.OK
    original = TOULOUSE.read_text()
    again_spec("")
    TOULOUSE.unlink()
    assert world.cli("plan", str(AGAIN), "--out", "plan.json") == ExitCode.OK
    assert resource(json.loads(Path("plan.json").read_text()), ADDRESS)["action"] == "forget"
    AGAIN.unlink()
    TOULOUSE.write_text(original)
    capsys.readouterr()
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert f"{ADDRESS}: forgotten (nothing was cancelled)" in capsys.readouterr().out
    state = world.state()
    assert ADDRESS not in state["resources"]
    [retired] = state["retired"]
    assert (retired["address"], retired["order"]["amount"]) == (ADDRESS, "250.00")
    assert retired["reason"] == "no longer in the specs: forgotten by apply"
    return world


def test_a_deleted_spec_still_counts_under_total(
    forgotten: World, capsys: pytest.CaptureFixture[str]
) -> None:
    again_spec("budget:\n  total: 400 EUR\n")
    capsys.readouterr()
    _, plan = plan_json(forgotten, str(AGAIN), "--allow-overlap")
    found = resource(plan, AGAIN_ADDRESS)
    assert found["action"] == "blocked"
    assert "total budget EUR 400.00 would be exceeded" in found["reason"]
    assert "EUR 250.00 already committed" in found["reason"]
    check = budget(plan, "total")
    assert (check["spent_before"], check["left"]) == ("250.00", "150.00")
    assert "spent before EUR 250.00" in capsys.readouterr().out
    assert forgotten.cli("apply", "plan.json") == ExitCode.OK
    assert len(forgotten.orders_for("toulouse")) == 1


def test_a_readded_spec_counts_its_old_spend_and_does_not_rebuy_the_scene(
    forgotten: World,
) -> None:
    text = TOULOUSE.read_text().replace("orders:\n", "budget:\n  per_spec: 400 EUR\norders:\n", 1)
    TOULOUSE.write_text(text)
    _, plan = plan_json(forgotten, str(TOULOUSE))
    found = resource(plan, ADDRESS)
    assert found["action"] == "blocked"
    assert f"already owned by {ADDRESS}" in found["reason"]
    assert budget(plan, "spec", "toulouse")["spent_before"] == "250.00"
    _, plan = plan_json(forgotten, str(TOULOUSE), "--allow-overlap")
    assert "spec toulouse budget EUR 400.00 would be exceeded" in resource(plan, ADDRESS)["reason"]


def test_state_rm_keeps_the_spend_until_resolved_not_ordered(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    world = airbus.world
    # The answer is lost and the order never reached Airbus. Reconcile cannot prove it absent
    # (a legacy contract, and no order of it left in the state to prove the order search).
    airbus.wire.answer(ORDERING, 502, {"message": "Bad gateway", "internalCode": 502})
    assert world.cli("apply", str(TOULOUSE), "--auto-approve") == ExitCode.ERROR
    assert world.state()["resources"][ADDRESS]["orders"][-1]["status"] == "unknown"
    assert run(["state", "rm", ADDRESS]) == ExitCode.OK
    err = capsys.readouterr().err
    assert "Its spend still counts in every budget" in err
    assert f"state resolve {ADDRESS} --not-ordered" in err
    assert run(["state", "list"]) == ExitCode.OK
    listed = capsys.readouterr().out
    assert "Retired" in listed and ADDRESS in listed
    text = TOULOUSE.read_text().replace("orders:\n", "budget:\n  total: 400 EUR\norders:\n", 1)
    TOULOUSE.write_text(text)
    _, plan = plan_json(world, str(TOULOUSE), "--allow-overlap")
    assert f"{ADDRESS} (retired order 0): the outcome of its order is still unknown" in (
        capsys.readouterr().err
    )
    assert budget(plan, "total")["spent_before"] == "250.00"
    assert resource(plan, ADDRESS)["action"] == "blocked"
    assert run(["state", "resolve", ADDRESS, "--not-ordered"]) == ExitCode.OK
    assert f"{ADDRESS} (retired order 0): not_ordered" in capsys.readouterr().out
    _, plan = plan_json(world, str(TOULOUSE), "--allow-overlap")
    assert budget(plan, "total")["spent_before"] == "0"
    assert resource(plan, ADDRESS)["action"] == "create"


def test_state_rm_of_an_ordered_resource_keeps_its_spend_for_good(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("apply", str(TOULOUSE), "--auto-approve") == ExitCode.OK
    assert run(["state", "rm", ADDRESS]) == ExitCode.OK
    assert run(["state", "resolve", ADDRESS, "--not-ordered"]) == ExitCode.ERROR
    assert "what was bought stays counted" in capsys.readouterr().err
    assert run(["state", "list", "--format", "json"]) == ExitCode.OK
    listed: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert listed["spent"] == {"EUR": "250.00"}
    assert [r["address"] for r in listed["retired"]] == [ADDRESS]
    assert run(["state", "show", ADDRESS]) == ExitCode.OK
    shown = capsys.readouterr().out
    assert "not in the state; its retired orders still count as spend" in shown
    assert "removed with `state rm` by" in shown and "amount: EUR 250.00" in shown


def test_a_cover_resplit_keeps_the_spend_of_its_old_parts(world: World) -> None:
    write_cover(pairs_per_order=2)
    assert world.cli("apply", "cover.yaml", "--auto-approve") == ExitCode.OK
    first = world.state()["resources"]
    spent = sum(float(r["orders"][-1]["amount"]) for r in first.values())
    assert len(first) >= 3
    write_cover(pairs_per_order=5)
    assert world.cli(
        "apply", "cover.yaml", "--auto-approve", "--replace", COVER, "--allow-overlap"
    ) == ExitCode.OK
    state = world.state()
    gone = sorted(set(first) - set(state["resources"]))
    assert gone, "the re-split has fewer parts"
    assert sorted({r["address"] for r in state["retired"]}) == gone
    spent += sum(float(r["orders"][-1]["amount"]) for r in state["resources"].values())
    write_cover(pairs_per_order=5, budget="  total: 1 EUR\n")
    _, plan = plan_json(world, "cover.yaml")
    assert float(budget(plan, "total")["spent_before"]) == pytest.approx(spent)

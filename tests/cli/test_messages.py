"""Messages of issue 19 item 6, each through the CLI against the sandbox."""

from __future__ import annotations

import pytest

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from tests.conftest import World


def test_unknown_target_exits_1_naming_the_closest(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("plan", "specs", "--target", "toulouse.city-center") == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "--target 'toulouse.city-center' matches no resource address" in err
    assert "closest: toulouse.city-centre" in err
    assert world.cli("plan", "specs", "--target", "toulouse") == ExitCode.OK


def test_unknown_refresh_address_exits_1_naming_the_closest(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("apply", "specs/toulouse-pleiades.yaml", "--auto-approve") == ExitCode.OK
    capsys.readouterr()
    assert world.cli("refresh", "toulouse.city-centre.polygon-2") == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "address 'toulouse.city-centre.polygon-2' matches no resource address" in err
    assert "closest: toulouse.city-centre.polygon-1" in err
    assert world.cli("refresh", "toulouse.city-centre.polygon-1") == ExitCode.OK


def test_plan_hint_repeats_the_flags_and_is_silent_without_changes(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = "specs/toulouse-pleiades.yaml"
    assert world.cli("plan", spec, "--out", "p.json", "--state", "s.json") == ExitCode.OK
    err = capsys.readouterr().err
    assert (
        f"Apply it with: oneatlas-plan apply p.json --endpoint {world.base_url} --state s.json"
        in err
    )
    assert world.cli("apply", "p.json", "--state", "s.json") == ExitCode.OK
    capsys.readouterr()
    assert world.cli("plan", spec, "--out", "q.json", "--state", "s.json") == ExitCode.OK
    err = capsys.readouterr().err
    assert "Apply it with" not in err
    assert "Plan written to q.json: no changes, nothing to apply." in err


def test_quotations_list_all_has_a_status_column(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("apply", "specs/xinjiang-pleiades-neo.yaml", "--auto-approve") == 0
    capsys.readouterr()
    assert run(["quotations", "list", "--all"]) == ExitCode.OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["QUOTATION", "ADDRESS", "STATUS"]
    assert lines[1].split()[2] == "accepted"  # the spec's threshold accepted it


def test_after_a_reconcile_found_nothing_the_reason_says_so(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    from pathlib import Path

    assert world.cli("apply", "specs/toulouse-pleiades.yaml", "--auto-approve") == 0
    path = Path("oneatlas-state.json")
    state = json.loads(path.read_text())
    record = state["resources"]["toulouse.city-centre.polygon-1"]
    order = record["orders"][-1]
    # as after a kill -9 between the pending record and Airbus's answer, for an order
    # Airbus never received
    record["status"] = order["status"] = "unknown"
    order["order_key"] = "oap-000000000000"
    order["customer_reference"] = "toulouse-city-centre-polygon-1~oap-000000000000"
    order["sales_order_id"] = None
    path.write_text(json.dumps(state))
    capsys.readouterr()
    assert world.cli("plan", "specs/toulouse-pleiades.yaml") == ExitCode.OK
    out, err = capsys.readouterr()
    assert "still unknown (not found at Airbus yet); it stays blocked" in err
    assert "Airbus showed no order with its customerReference when this plan was made" in out
    assert "reconciled with Airbus at the next plan/apply" not in out

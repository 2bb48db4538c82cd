"""apply against the sandbox over real HTTP, counting real orders in its ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.planfile import expand_parts
from tests.conftest import World
from tests.holds import ORDER_ENDPOINTS, hold, release, wait_until_held

SPEC_COUNT = 3  # orders in the shipped specs/


def test_apply_then_reapply_never_orders_twice(world: World) -> None:
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert len(world.ledger()) == SPEC_COUNT
    assert world.cli("apply", "specs", "--auto-approve") == ExitCode.OK
    assert world.cli("plan", "specs", "--detailed-exitcode") == ExitCode.OK
    assert len(world.ledger()) == SPEC_COUNT
    statuses = {a: r["status"] for a, r in world.state()["resources"].items()}
    assert statuses == {
        "tanzania-spot.malagarasi.malagarasi-west": "ordered",
        "toulouse.city-centre.polygon-1": "ordered",
        # quoted EUR 979.72, accepted by the spec's accept_quotations_up_to: 2000 EUR
        "xinjiang-pneo.hejing-west.hejing-west": "ordered",
    }


def test_plan_with_changes_exits_2_with_detailed_exitcode(world: World) -> None:
    assert world.cli("plan", "specs", "--detailed-exitcode") == ExitCode.CHANGES
    assert world.ledger() == []


def test_tampered_plan_is_refused(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    plan = expand_parts(json.loads(Path("plan.json").read_text()))
    plan["orders"][0]["body"]["items"][0]["datastripIds"] = ["DS_SOMETHING_ELSE"]
    Path("plan.json").write_text(json.dumps(plan))
    capsys.readouterr()
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    assert "checksum mismatch" in capsys.readouterr().err
    assert world.ledger() == []


def test_stale_plan_is_refused(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert world.cli("plan", "specs", "--out", "old.json") == ExitCode.OK
    assert world.cli("plan", "specs", "--out", "new.json") == ExitCode.OK
    assert world.cli("apply", "new.json") == ExitCode.OK
    capsys.readouterr()
    assert world.cli("apply", "old.json") == ExitCode.ERROR
    assert "plan is stale: the state changed since it was made" in capsys.readouterr().err
    assert len(world.ledger()) == SPEC_COUNT


def test_plan_for_another_endpoint_is_refused(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    capsys.readouterr()
    assert run(["apply", "plan.json", "--endpoint", "http://127.0.0.2:1"]) == ExitCode.ERROR
    assert "the plan was made for endpoint" in capsys.readouterr().err


def test_commit_then_drop_becomes_unknown_then_reconciled_without_a_second_order(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.faults(drop_next_orders=1)
    assert world.cli("plan", "specs/toulouse-pleiades.yaml", "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    record = world.state()["resources"]["toulouse.city-centre.polygon-1"]
    assert record["status"] == "unknown"
    assert len(world.orders_for("toulouse")) == 1, "Airbus committed the order"
    capsys.readouterr()
    # The next plan reconciles it by customerReference and sees nothing left to do.
    assert world.cli("plan", "specs/toulouse-pleiades.yaml", "--detailed-exitcode") == ExitCode.OK
    assert "reconciled toulouse.city-centre.polygon-1" in capsys.readouterr().err
    assert world.cli("apply", "specs/toulouse-pleiades.yaml", "--auto-approve") == ExitCode.OK
    assert len(world.orders_for("toulouse")) == 1
    record = world.state()["resources"]["toulouse.city-centre.polygon-1"]
    assert record["status"] == "ordered"
    assert record["orders"][-1]["sales_order_id"] == world.orders_for("toulouse")[0]["salesOrderId"]


def test_a_removed_spec_is_forgotten_without_cancelling(world: World) -> None:
    assert world.cli("apply", "specs", "--auto-approve") == ExitCode.OK
    Path("specs/tanzania-spot.yaml").unlink()
    assert world.cli("apply", "specs", "--auto-approve") == ExitCode.OK
    assert "tanzania-spot.malagarasi.malagarasi-west" not in world.state()["resources"]
    assert len(world.ledger()) == SPEC_COUNT


def test_spec_edited_after_the_plan_is_reported(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("plan", "specs/toulouse-pleiades.yaml", "--out", "plan.json") == ExitCode.OK
    spec = Path("specs/toulouse-pleiades.yaml")
    spec.write_text(spec.read_text() + "\n# edited after review\n")
    capsys.readouterr()
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert (
        "specs/toulouse-pleiades.yaml changed since the plan was made: applying the plan as "
        "reviewed" in capsys.readouterr().err
    )
    assert len(world.orders_for("toulouse")) == 1


def test_ctrl_c_lets_the_in_flight_order_finish_and_be_recorded(world: World) -> None:
    import os
    import signal
    import subprocess
    import sys

    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    hold(world.base_url, *ORDER_ENDPOINTS)  # order 1 committed, its answer held back
    process = subprocess.Popen(
        [sys.executable, "-m", "oneatlas_plan", "apply", "plan.json", "--endpoint", world.base_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        # Ctrl-C as from a terminal, even when the suite runs as a background job (SIGINT ignored)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )

    def still_running() -> None:
        if process.poll() is not None:
            raise AssertionError(f"apply ended before its first order: {process.communicate()}")

    try:
        (in_flight,) = wait_until_held(world.base_url, check=still_running)
        (committed,) = world.ledger()
        assert in_flight["customerReference"] == committed["customerReference"]
        # The signal is pending in the child before its answer is even released.
        process.send_signal(signal.SIGINT)
    finally:
        release(world.base_url)
    try:
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == ExitCode.INTERRUPTED, err
    assert "Traceback" not in err
    assert "interrupted: the remaining orders were not submitted" in out
    assert "1 submitted, 2 not submitted" in out
    (first,) = world.ledger()
    record = next(
        r
        for r in world.state()["resources"].values()
        if r["orders"][-1]["customer_reference"] == first["customerReference"]
    )
    assert record["status"] == "ordered"
    assert record["orders"][-1]["sales_order_id"] == first["salesOrderId"]
    assert len(world.state()["resources"]) == 1


def test_apply_specs_without_confirmation_orders_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal: nobody can say yes
    assert world.cli("apply", "specs") == ExitCode.ERROR
    assert "Apply cancelled." in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("no\n"))
    assert world.cli("apply", "specs") == ExitCode.ERROR
    assert world.ledger() == []
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    assert world.cli("apply", "specs") == ExitCode.OK
    assert len(world.ledger()) == SPEC_COUNT

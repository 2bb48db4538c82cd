"""apply's messages: refusals before anything is shown, the prompt, the interrupted count."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.model import StateRef
from oneatlas_plan.planning.planfile import read_plan, write_plan
from tests.conftest import World

PLAN_TABLE_HEADER = "ADDRESS"


def test_stale_plan_is_refused_as_stale_without_printing_it(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("plan", "specs", "--out", "old.json") == ExitCode.OK
    assert world.cli("apply", "specs/toulouse-pleiades.yaml", "--auto-approve") == ExitCode.OK
    capsys.readouterr()
    assert world.cli("apply", "old.json") == ExitCode.ERROR
    out, err = capsys.readouterr()
    assert PLAN_TABLE_HEADER not in out and "to order" not in out
    serial = world.state()["serial"]
    assert (
        f"plan is stale: the state changed since it was made (plan: serial 0, state: serial "
        f"{serial}); run plan again" in err
    )
    assert "another state" not in err


def test_plan_of_another_state_names_both_lineages(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("apply", "specs/toulouse-pleiades.yaml", "--auto-approve") == ExitCode.OK
    state = world.state()
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    plan = read_plan(Path("plan.json"))
    other = "00000000-0000-4000-8000-000000000006"
    foreign = plan.model_copy(update={"state": StateRef(lineage=other, serial=6)}).sealed()
    write_plan(foreign, Path("foreign.json"))
    capsys.readouterr()
    assert world.cli("apply", "foreign.json") == ExitCode.ERROR
    out, err = capsys.readouterr()
    assert PLAN_TABLE_HEADER not in out
    assert (
        f"the plan was made against another state (lineage {other}, serial 6), not this one "
        f"(lineage {state['lineage']}, serial {state['serial']}): check --state / "
        "ONEATLAS_STATE, or plan again" in err
    )
    assert "stale" not in err


def test_sandbox_plan_applied_elsewhere_says_add_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "render"))
    from plan_factory import mixed_plan

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ONEATLAS_API_KEY", "not-used")
    monkeypatch.delenv("ONEATLAS_ENDPOINT", raising=False)
    write_plan(mixed_plan(), tmp_path / "plan.json")  # made with --sandbox
    assert run(["apply", "plan.json", "--state", "s.json"]) == ExitCode.ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert (
        "the plan was made for endpoint 'sandbox', not 'production'; add --sandbox to apply "
        "it to the sandbox, or plan again against this endpoint" in err
    )


def test_prompt_restates_count_amount_and_endpoint(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("no\n"))
    assert world.cli("apply", "specs") == ExitCode.ERROR
    err = capsys.readouterr().err
    assert (
        f"Place 3 orders for EUR 1,634.65 on endpoint {world.base_url}? "
        "Only 'yes' will be accepted" in err
    )
    assert world.ledger() == []


def test_apply_reports_submitted_and_not_submitted(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    capsys.readouterr()
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert "3 submitted, 0 not submitted" in capsys.readouterr().out
    assert len(json.loads(Path("plan.json").read_text())["orders"]) == 3

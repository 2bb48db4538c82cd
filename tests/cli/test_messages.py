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

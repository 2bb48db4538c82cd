"""The refresh / download / quotations commands: help, and clear errors without a sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode


@pytest.mark.parametrize(
    "argv", [["refresh", "--help"], ["download", "--help"], ["quotations", "accept", "--help"]]
)
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == ExitCode.OK
    assert "Usage: oneatlas-plan" in capsys.readouterr().out


def test_nothing_to_do_without_a_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ONEATLAS_STATE", raising=False)
    endpoint = ["--endpoint", "http://127.0.0.1:9"]  # never contacted: nothing to do
    assert run(["download", *endpoint]) == ExitCode.OK
    assert "Nothing to download" in capsys.readouterr().out
    assert run(["refresh", *endpoint]) == ExitCode.OK
    assert "Nothing to refresh" in capsys.readouterr().out
    assert run(["quotations", "list"]) == ExitCode.OK
    assert "No quotation awaits a decision" in capsys.readouterr().out
    assert not (tmp_path / "oneatlas-state.json").exists()


def test_bad_input_is_a_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["refresh", "--lock-timeout", "soon"]) == ExitCode.USAGE
    assert "'soon' is not a duration" in capsys.readouterr().err
    Path("oneatlas-state.json").write_text("{not json")
    assert run(["quotations", "accept", "x", "--endpoint", "http://127.0.0.1:9"]) == (
        ExitCode.ERROR
    )
    err = capsys.readouterr().err
    assert "is not valid JSON" in err and "Traceback" not in err

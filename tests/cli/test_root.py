from __future__ import annotations

import subprocess
import sys

import pytest

from oneatlas_plan import __version__
from oneatlas_plan._secrets import redact, register_secret
from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == ExitCode.OK
    assert __version__ in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["no-such-command"]) == ExitCode.USAGE
    assert "No such command" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--no-such-option"]) == ExitCode.USAGE
    assert "No such option" in capsys.readouterr().err


def test_python_dash_m_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "oneatlas_plan", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Plan and apply Airbus OneAtlas" in result.stdout


def test_redact_masks_registered_secrets() -> None:
    register_secret("s3cr3t-key-value")
    assert redact("key=s3cr3t-key-value!") == "key=***!"

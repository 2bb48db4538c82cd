from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from oneatlas_plan.cli import cli, run
from oneatlas_plan.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
BROKEN = REPO / "tests" / "spec" / "data" / "broken"


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_shipped_specs_and_examples_are_valid() -> None:
    result = CliRunner().invoke(cli, ["validate", "specs/", "examples/"], catch_exceptions=False)
    assert result.exit_code == ExitCode.OK, result.output
    assert (
        "orders[0].aois[0]: area 17.1 km² is under the 25 km² archive billing minimum"
        in result.stdout
    )
    assert result.stderr.strip() == ""
    assert result.stdout.splitlines()[-1].startswith("6 spec files valid (")


def test_default_path_is_specs(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate"]) == ExitCode.OK
    assert capsys.readouterr().out.splitlines()[-1] == "3 spec files valid (0 warnings, 1 note)"


def test_broken_spec_exits_1_with_located_messages(capsys: pytest.CaptureFixture[str]) -> None:
    path = BROKEN.relative_to(REPO) / "cloud-cover-range.yaml"
    assert run(["validate", str(path)]) == ExitCode.ERROR
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}:11:21: orders[0].search.cloud_cover.max: must be between 0 and 100 (got 150)",
        "1 problem in 1 spec file (0 warnings, 0 notes)",
    ]


def test_every_problem_of_every_file_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    rel = BROKEN.relative_to(REPO)
    code = run(["validate", str(rel / "email.yaml"), str(rel / "yaml-syntax.yaml"), "specs"])
    assert code == ExitCode.ERROR
    err = capsys.readouterr().err
    assert f"{rel}/email.yaml:21:51:" in err
    assert f"{rel}/yaml-syntax.yaml:12:12: invalid YAML" in err
    assert "2 problems in 5 spec files" in err


def test_bad_input_never_yields_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bin.yaml").write_bytes(bytes(range(256)))
    (tmp_path / "bomb.yaml").write_text((BROKEN / "alias-bomb.yaml").read_text())
    assert run(["validate", str(tmp_path)]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "not a text file (binary content)" in err
    assert "alias bomb" in err


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter in the repository, as a user's shell would start one."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, timeout=120, cwd=REPO
    )


def test_python_dash_m_validate_specs() -> None:
    result = _python("-m", "oneatlas_plan", "validate", "specs/")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "3 spec files valid (0 warnings, 1 note)"


def test_validate_loads_neither_the_state_nor_the_http_client() -> None:
    """Checking specs is offline: the state model, its lock and the OneAtlas client are the
    other commands' start-up cost (shapely and pyproj are needed: AOIs are checked)."""
    probe = (
        "import sys, json\n"
        "from oneatlas_plan.cli import run\n"
        "code = run(sys.argv[1:])\n"
        "names = ('oneatlas_plan.state.model', 'oneatlas_plan.state.lock', 'requests',\n"
        "         'oneatlas_plan.applying.reprice', 'shapely', 'pyproj')\n"
        "print(json.dumps([m for m in names if m in sys.modules]), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    result = _python("-c", probe, "validate", "specs/toulouse-pleiades.yaml")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stderr.splitlines()[-1]) == ["shapely", "pyproj"]

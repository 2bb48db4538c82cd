"""oneatlas-plan.toml: found like pyproject.toml, below the environment and the flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from oneatlas_plan.cli import run
from oneatlas_plan.config import find_config, read_config
from oneatlas_plan.errors import ConfigError, ExitCode
from oneatlas_plan.state.model import ResourceRecord
from oneatlas_plan.state.store import StateStore


def _state(path: Path, address: str) -> None:
    with StateStore(path, fsync=False) as store:
        store.record(ResourceRecord(address=address, config_digest="sha256:c"))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "team"
    (root / "specs" / "deep").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "oneatlas-plan.toml").write_text('state = "states/from-config.json"\n')
    (root / "states").mkdir()
    _state(root / "states" / "from-config.json", "config.a.b")
    _state(root / "from-env.json", "env.a.b")
    _state(root / "from-flag.json", "flag.a.b")
    monkeypatch.chdir(root / "specs" / "deep")
    monkeypatch.delenv("ONEATLAS_STATE", raising=False)
    monkeypatch.delenv("ONEATLAS_CONFIG", raising=False)
    return root


def _listed(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = run(["state", "list", *args])
    out, err = capsys.readouterr()
    assert code == ExitCode.OK, err
    return out


def test_flag_over_environment_over_config_found_in_a_parent(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "config.a.b" in _listed(capsys)  # relative to the config file, not the cwd
    monkeypatch.setenv("ONEATLAS_STATE", str(project / "from-env.json"))
    assert "env.a.b" in _listed(capsys)
    assert "flag.a.b" in _listed(capsys, "--state", str(project / "from-flag.json"))


def test_the_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "oneatlas-plan.toml").write_text('state = "x.json"\n')
    inner = tmp_path / "repo" / "specs"
    inner.mkdir(parents=True)
    (tmp_path / "repo" / ".git").mkdir()
    assert find_config(inner, {}) is None
    assert find_config(tmp_path, {}) == tmp_path / "oneatlas-plan.toml"
    assert find_config(inner, {"ONEATLAS_CONFIG": str(tmp_path / "oneatlas-plan.toml")}) == (
        tmp_path / "oneatlas-plan.toml"
    )


def test_an_unknown_key_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "oneatlas-plan.toml"
    path.write_text('stat = "typo.json"\n[defaults]\nlock_timeout = "2m"\n')
    with pytest.raises(ConfigError, match=r"oneatlas-plan.toml: stat: Extra inputs"):
        read_config(path)


def test_a_password_in_the_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "oneatlas-plan.toml"
    path.write_text('state = "postgresql://u:hunter22@db/imagery?schema=s"\n')
    with pytest.raises(ConfigError, match="holds a password") as raised:
        read_config(path)
    assert "hunter22" not in str(raised.value)


def test_bad_toml_is_a_clear_error_not_a_traceback(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "oneatlas-plan.toml").write_text("state = \n")
    code = run(["state", "list"])
    assert code == ExitCode.ERROR
    assert "oneatlas-plan.toml: not valid TOML" in capsys.readouterr().err

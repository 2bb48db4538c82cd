from __future__ import annotations

from pathlib import Path

from oneatlas_plan.cli.context import AppContext
from oneatlas_plan.state.backends import open_backend


def context(state: str, environ: dict[str, str]) -> AppContext:
    return AppContext(
        endpoint=None,
        use_sandbox=False,
        state=open_backend(state),
        api_key_file=None,
        verbose=0,
        environ=environ,
    )


def test_the_spec_cache_is_beside_a_state_file(tmp_path: Path) -> None:
    app = context(str(tmp_path / "project" / "oneatlas-state.json"), {})
    assert app.spec_cache_dir == tmp_path / "project" / ".oneatlas-cache" / "specs"
    assert app.workspace().spec_cache == app.spec_cache_dir


def test_the_spec_cache_of_a_database_state_is_per_user(tmp_path: Path) -> None:
    environ = {"ONEATLAS_RUNTIME_DIR": str(tmp_path / "runtime")}
    app = context("postgresql://u@127.0.0.1:1/db?schema=s", environ)
    assert app.spec_cache_dir == tmp_path / "runtime" / "specs"

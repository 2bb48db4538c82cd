from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import pytest

from oneatlas_plan.api.retry import DEFAULT_TIMEOUT
from oneatlas_plan.cli.context import TIMEOUT_ENV, AppContext, configure_logging, http_timeout
from oneatlas_plan.errors import ConfigError
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


def test_client_timeouts_come_from_the_environment() -> None:
    assert http_timeout({}) == DEFAULT_TIMEOUT == (10.0, 120.0)
    assert http_timeout({TIMEOUT_ENV: "2, 30"}) == (2.0, 30.0)
    assert http_timeout({TIMEOUT_ENV: "5"}) == (5.0, 5.0)
    for bad in ("fast", "0,10", "1,2,3", "-1", "1,nan", "1,99999"):
        with pytest.raises(ConfigError, match=f"{TIMEOUT_ENV}=.*CONNECT,READ"):
            http_timeout({TIMEOUT_ENV: bad})


def test_the_client_uses_the_timeouts_of_the_environment(tmp_path: Path) -> None:
    environ = {TIMEOUT_ENV: "2,30", "ONEATLAS_API_KEY": "k-test",
               "ONEATLAS_RUNTIME_DIR": str(tmp_path / "runtime")}
    with context(str(tmp_path / "state.json"), environ) as app:
        app.endpoint = "http://127.0.0.1:9"
        assert app.client()._timeout == (2.0, 30.0)


def test_a_later_run_in_the_same_process_logs_to_its_own_stderr() -> None:
    first, second = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(first):
        configure_logging(0)
    first.close()
    with contextlib.redirect_stderr(second):
        configure_logging(0)
        logging.getLogger("oneatlas_plan.api.gate").warning("the key is busy until %s", "noon")
    assert "WARNING oneatlas_plan.api.gate: the key is busy until noon" in second.getvalue()
    assert "Logging error" not in second.getvalue()

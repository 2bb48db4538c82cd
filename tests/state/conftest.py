from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oneatlas_plan.state.backends import StateBackend, open_backend
from oneatlas_plan.state.backends import StateStore as BackendStore
from oneatlas_plan.state.store import StateStore


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state.json"


@pytest.fixture
def store(state_path: Path) -> Iterator[StateStore]:
    store = StateStore(state_path, fsync=False)
    yield store
    store.close()


@pytest.fixture(params=["file", "postgresql"])
def state_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``--state`` of each backend: a file path, or a URL on a fresh schema of a real server."""
    if request.param == "file":
        return str(tmp_path / "shared-state.json")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def backend(state_location: str) -> Iterator[StateBackend]:
    opened = open_backend(state_location)
    yield opened
    opened.close()


@pytest.fixture
def any_store(backend: StateBackend) -> Iterator[BackendStore]:
    store = backend.store()
    yield store
    store.close()

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oneatlas_plan.state.store import StateStore


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state.json"


@pytest.fixture
def store(state_path: Path) -> Iterator[StateStore]:
    store = StateStore(state_path, fsync=False)
    yield store
    store.close()

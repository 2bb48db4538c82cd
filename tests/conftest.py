from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from oneatlas_plan.cli import run
from oneatlas_plan.sandbox.embedded import start_embedded
from oneatlas_plan.state.model import State
from tests.pg_server import SKIP_REASON, PostgresServer, destroy, start_server

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "sandbox-key-for-tests-7c1f"
# Mutation testing (docs/mutation-testing.md): run only the tests under these space-separated
# node-id prefixes, whatever else mutmut asks for, so each module is tested by its own subset.
MUTATION_TESTS = "ONEATLAS_MUTATION_TESTS"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: half as many workers again as CPUs. A third of the suite's time is spent
    waiting (child processes, servers, pacing), not computing: on 2 cores, 3 workers took
    2 min 03 s where 2 took 2 min 49 s (1 Dec 2026)."""
    return max(2, (os.cpu_count() or 1) * 3 // 2)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    scope = os.environ.get(MUTATION_TESTS, "").split()
    if not scope:
        return
    kept = [i for i in items if i.nodeid.startswith(tuple(scope))]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


@dataclass
class World:
    """A sandbox on loopback plus a project directory holding the shipped specs."""

    base_url: str
    project: Path

    def cli(self, *args: str) -> int:
        return run([*args, "--endpoint", self.base_url])

    def ledger(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.base_url}/sandbox/v1/ledger", timeout=10)
        response.raise_for_status()
        return list(response.json())

    def orders_for(self, fragment: str) -> list[dict[str, Any]]:
        return [o for o in self.ledger() if fragment in (o.get("customerReference") or "")]

    def faults(self, **knobs: Any) -> None:
        response = requests.post(f"{self.base_url}/sandbox/v1/faults", json=knobs, timeout=10)
        response.raise_for_status()

    def requests_made(self) -> dict[str, int]:
        response = requests.get(f"{self.base_url}/sandbox/v1/stats", timeout=10)
        response.raise_for_status()
        return dict(response.json()["requests"])

    def reset_stats(self) -> None:
        requests.post(f"{self.base_url}/sandbox/v1/reset-stats", timeout=10).raise_for_status()

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.project / "oneatlas-state.json").read_text()))


@pytest.fixture(autouse=True)
def _private_runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Ordering gates (api/gate.py) of each test in its own directory, never in ~/.cache;
    subprocesses inherit it."""
    directory = tmp_path / "runtime"
    monkeypatch.setenv("ONEATLAS_RUNTIME_DIR", str(directory))
    return directory


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "specs", project / "specs")
    monkeypatch.chdir(project)
    monkeypatch.setenv("ONEATLAS_API_KEY", API_KEY)
    monkeypatch.delenv("ONEATLAS_ENDPOINT", raising=False)
    monkeypatch.delenv("ONEATLAS_STATE", raising=False)
    with start_embedded(tmp_path / "sandbox-data", api_key=API_KEY, time_scale=50) as sandbox:
        yield World(base_url=sandbox.base_url, project=project)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for this test session (each xdist worker starts its own)."""
    try:
        server = start_server()
    except FileNotFoundError:
        pytest.skip(SKIP_REASON)
    try:
        yield server
    finally:
        destroy(server)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """A state URL on its own fresh schema."""
    return postgres_server.url()


@pytest.fixture
def deep_state_copies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size (resources) of every whole-state deep copy made from now on in the test."""
    copies: list[int] = []
    original = State.model_copy

    def counting(self: State, *args: Any, **kwargs: Any) -> State:
        if kwargs.get("deep"):
            copies.append(len(self.resources))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(State, "model_copy", counting)
    return copies

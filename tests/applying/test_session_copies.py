"""apply reads the state under the lock without copying all of it (issue 18: each whole-state
deep copy cost 0.5–0.8 s at 10,000 resources)."""

from __future__ import annotations

import pytest

from oneatlas_plan.errors import ExitCode
from tests.conftest import World


def test_apply_makes_no_whole_state_copy(world: World, request: pytest.FixtureRequest) -> None:
    assert world.cli("apply", "specs/toulouse-pleiades.yaml", "--auto-approve") == ExitCode.OK
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    copies: list[int] = request.getfixturevalue("deep_state_copies")
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert len(world.ledger()) == 3
    assert copies == []

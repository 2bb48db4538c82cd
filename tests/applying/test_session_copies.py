"""apply reads the state under the lock without copying all of it (issue 18: each whole-state
deep copy cost 0.5–0.8 s at 10,000 resources)."""

from __future__ import annotations

from typing import Any

import pytest

from oneatlas_plan.errors import ExitCode
from oneatlas_plan.state.model import State
from tests.conftest import World


def test_apply_makes_no_whole_state_copy(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert world.cli("apply", "specs/toulouse-pleiades.yaml", "--auto-approve") == ExitCode.OK
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    copies: list[int] = []
    original = State.model_copy

    def counting(self: State, *args: Any, **kwargs: Any) -> State:
        if kwargs.get("deep"):
            copies.append(len(self.resources))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(State, "model_copy", counting)
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert len(world.ledger()) == 3
    assert copies == []

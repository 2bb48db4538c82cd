"""The shape of the submission loop: each order's pending record is durably written before its
POST, and every state write happens between ordering turns (in the interval the gate makes the
next request wait anyway), never while a turn is open (it would lengthen every call).
Order of events only, never timings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from oneatlas_plan import _files
from oneatlas_plan.api.gate import FileGate, Turn
from oneatlas_plan.errors import ExitCode
from tests.conftest import World

SPECS = ("specs/toulouse-pleiades.yaml", "specs/tanzania-spot.yaml")  # two legacy orders


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool, str]]:
    """(what, whether an ordering turn was open, detail), in the order they happened."""
    seen: list[tuple[str, bool, str]] = []
    open_turns: list[Turn] = []
    turn, append, send = FileGate.turn, _files.append, requests.Session.send

    @contextmanager
    def watched_turn(self: FileGate, interval: float) -> Iterator[Turn]:
        with turn(self, interval) as opened:
            open_turns.append(opened)
            try:
                yield opened
            finally:
                open_turns.remove(opened)

    def watched_append(fd: int, data: bytes, **options: Any) -> None:
        append(fd, data, **options)  # returns once written, fsynced and read back
        seen.append(("journal", bool(open_turns), data.decode()))

    def watched_send(self: requests.Session, request: Any, **options: Any) -> Any:
        seen.append(("send", bool(open_turns), str(request.path_url)))
        return send(self, request, **options)

    monkeypatch.setattr(FileGate, "turn", watched_turn)
    monkeypatch.setattr(_files, "append", watched_append)
    monkeypatch.setattr(requests.Session, "send", watched_send)
    return seen


def test_state_writes_happen_between_turns_and_each_pending_before_its_post(
    world: World, events: list[tuple[str, bool, str]]
) -> None:
    assert world.cli("plan", *SPECS, "--out", "plan.json") == ExitCode.OK
    world.reset_stats()
    events.clear()
    assert world.cli("apply", "plan.json") == ExitCode.OK

    orders = [e for e in events if e[0] == "send" and e[2] == "/api/v1/orders"]
    assert len(orders) == 2 and world.requests_made().get("orders") == 2
    assert "prices" not in world.requests_made()  # young prices: no re-price
    assert all(in_turn for _, in_turn, _ in orders)  # every POST inside a turn
    journal = [e for e in events if e[0] == "journal"]
    assert journal and not any(in_turn for _, in_turn, _ in journal)
    # per order: its pending line is on disk before the POST, its outcome line after it
    for index, post in enumerate(events):
        if post[0] != "send" or post[2] != "/api/v1/orders":
            continue
        before = [e[2] for e in events[:index] if e[0] == "journal"]
        after = [e[2] for e in events[index + 1:] if e[0] == "journal"]
        assert before and '"status":"pending"' in before[-1].replace(" ", "")
        assert after and '"status":"ordered"' in after[0].replace(" ", "")

"""Holding requests until a test releases them: a handshake where a delay would have to
outlast something (a client's start-up, a signal, a kill).

A test arms a hold (``POST /sandbox/v1/hold``), waits until ``GET /sandbox/v1/held`` lists the
request, acts (kills the client, sends it SIGINT, sends a second request), then releases it
(``POST /sandbox/v1/release``). Nothing here times out: the sandbox's shutdown releases
whatever is still held.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

RECEIVED = "received"  # the body was read, nothing acted on (no order recorded)
HANDLED = "handled"  # the handler ran (an order committed), its answer not yet sent
STAGES = (RECEIVED, HANDLED)


@dataclass
class _Armed:
    endpoints: frozenset[str]
    stage: str
    remaining: int

    def public(self) -> dict[str, Any]:
        return {
            "endpoints": sorted(self.endpoints),
            "stage": self.stage,
            "remaining": self.remaining,
        }


@dataclass
class _Held:
    id: int
    endpoint: str
    stage: str
    detail: dict[str, Any]
    held_at: float = field(default_factory=time.time)
    released: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "stage": self.stage,
            "heldAt": self.held_at,
            **self.detail,
        }


class Holds:
    """Armed holds and the requests they hold; thread-safe."""

    def __init__(self, endpoints: Iterable[str]) -> None:
        self._endpoints = frozenset(endpoints)
        self._changed = threading.Condition()
        self._armed: list[_Armed] = []
        self._held: dict[int, _Held] = {}
        self._ids = itertools.count(1)
        self._closed = False

    def arm(self, endpoints: Collection[str], count: int, stage: str) -> None:
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}")
        if count < 1 or not endpoints:
            raise ValueError("a hold needs at least one endpoint and a count of at least 1")
        unknown = set(endpoints) - self._endpoints
        if unknown:
            raise ValueError(f"unknown endpoint(s): {', '.join(sorted(unknown))}")
        with self._changed:
            self._armed.append(_Armed(frozenset(endpoints), stage, count))

    def hold(self, endpoint: str, stage: str, detail: Callable[[], dict[str, Any]]) -> bool:
        """Block here if an armed hold takes this request (``detail()`` describes it in the
        held list); False when the sandbox shut down while it was held."""
        with self._changed:
            armed = next(
                (a for a in self._armed if a.stage == stage and endpoint in a.endpoints), None
            )
            if armed is None or self._closed:
                return True
            armed.remaining -= 1
            if armed.remaining == 0:
                self._armed.remove(armed)
        described = detail()  # may read the request's body: not under the lock
        with self._changed:
            held = _Held(next(self._ids), endpoint, stage, described)
            self._held[held.id] = held
            while not held.released and not self._closed:
                self._changed.wait()
            self._held.pop(held.id, None)
            return held.released

    def release(self, ids: Collection[int] | None = None) -> list[int]:
        """Release the given held requests, or (None) every held request and every armed hold."""
        with self._changed:
            chosen = list(self._held) if ids is None else [i for i in ids if i in self._held]
            for held_id in chosen:
                self._held.pop(held_id).released = True
            if ids is None:
                self._armed.clear()
            self._changed.notify_all()
            return chosen

    def close(self) -> None:
        """The sandbox is stopping: let every held request go and hold nothing more."""
        with self._changed:
            self._closed = True
            self._armed.clear()
            self._changed.notify_all()

    def snapshot(self) -> dict[str, Any]:
        with self._changed:
            return {
                "armed": [a.public() for a in self._armed],
                "held": [h.public() for h in sorted(self._held.values(), key=lambda h: h.id)],
            }

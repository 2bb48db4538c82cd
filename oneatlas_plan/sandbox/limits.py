"""Airbus's published rate limits: ordering 1 request at a time and 1 request/s with a
10-minute ban on excess; search 100 requests/s. Also records per-request statistics."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import SandboxConfig

ORDERING = "ordering"
SEARCH = "search"
_TOLERANCE = 0.02  # 2 % of the minimum interval, for clock jitter


@dataclass
class Verdict:
    allowed: bool
    reason: str = ""
    ticket: int = -1


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    too_many: int = 0
    bans: int = 0
    max_concurrent_ordering: int = 0
    ordering: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    injected_errors: int = 0
    connections: int = 0


class Limiter:
    """Per-key rate limiting and concurrency accounting for the two endpoint groups."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._inflight = {ORDERING: 0, SEARCH: 0}
        self._last_ordering = -1e18
        self._search_window: deque[float] = deque()
        self._banned_until: dict[str, float] = {}
        self._open_connections = 0  # live, not a statistic: never reset
        self.stats = Stats()

    def reset_stats(self) -> None:
        with self._lock:
            self.stats = Stats()

    def connection_opened(self) -> None:
        with self._lock:
            self.stats.connections += 1
            self._open_connections += 1

    def connection_closed(self) -> None:
        with self._lock:
            self._open_connections -= 1

    def reset_bans(self) -> None:
        with self._lock:
            self._banned_until.clear()

    def enter(self, group: str, key: str, endpoint: str) -> Verdict:
        now = self._clock()
        with self._lock:
            if group == ORDERING:
                return self._enter_ordering(key, endpoint, now)
            return self._enter_search(now)

    def leave(self, group: str, verdict: Verdict, status: int) -> None:
        now = self._clock()
        with self._lock:
            if verdict.allowed:
                self._inflight[group] -= 1
            if group == ORDERING and verdict.ticket >= 0:
                entry = self.stats.ordering[verdict.ticket]
                entry["completed"] = now
                entry["status"] = status

    def banned_until(self, key: str) -> float:
        return self._banned_until.get(key, 0.0)

    def _enter_ordering(self, key: str, endpoint: str, now: float) -> Verdict:
        cfg = self.config
        concurrent = self._inflight[ORDERING] + 1
        self.stats.max_concurrent_ordering = max(self.stats.max_concurrent_ordering, concurrent)
        ticket = len(self.stats.ordering)
        self.stats.ordering.append(
            {
                "endpoint": endpoint,
                "arrived": now,
                "completed": None,
                "concurrent": concurrent,
                "status": None,
            }
        )
        if not cfg.limits_enabled:
            self._inflight[ORDERING] += 1
            self._last_ordering = now
            return Verdict(True, ticket=ticket)
        reason = ""
        if self._banned_until.get(key, 0.0) > now:
            reason = "banned"
        elif concurrent > cfg.ordering_concurrency:
            reason = "concurrency"
        elif now - self._last_ordering < (1.0 - _TOLERANCE) / cfg.effective_ordering_rps:
            reason = "rate"
        if reason:
            self.stats.too_many += 1
            if reason != "banned":
                self.stats.bans += 1
                self._banned_until[key] = now + cfg.effective_ban_seconds
            return Verdict(False, reason, ticket)
        self._inflight[ORDERING] += 1
        self._last_ordering = now
        return Verdict(True, ticket=ticket)

    def _enter_search(self, now: float) -> Verdict:
        cfg = self.config
        if not cfg.limits_enabled:
            self._inflight[SEARCH] += 1
            return Verdict(True)
        window = self._search_window
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= cfg.effective_search_rps:
            self.stats.too_many += 1
            return Verdict(False, "rate")
        if self._inflight[SEARCH] >= cfg.search_concurrency:
            self.stats.too_many += 1
            return Verdict(False, "concurrency")
        window.append(now)
        self._inflight[SEARCH] += 1
        return Verdict(True)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            s = self.stats
            return {
                "requests": dict(s.requests),
                "statuses": dict(s.statuses),
                "too_many_requests": s.too_many,
                "bans": s.bans,
                "banned_keys": sum(1 for t in self._banned_until.values() if t > self._clock()),
                "max_concurrent_ordering": s.max_concurrent_ordering,
                "ordering_requests": [dict(e) for e in s.ordering],
                "dropped_connections": s.dropped,
                "injected_errors": s.injected_errors,
                "tcp_connections": s.connections,
                "open_connections": self._open_connections,
            }

"""The search budget: bounded concurrency plus a minimum interval between starts, per process.

Ordering requests do not use it: they take turns at the :mod:`ordering gate
<oneatlas_plan.api.gate>`, which reaches other processes and paces from the end of each request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class RateLimiter:
    """At most ``concurrency`` holders at once; two slots start at least ``interval`` apart.

    Slots are handed out in reservation order; waiting is done outside the internal lock with
    the injected ``sleep`` so tests can use a fake clock.
    """

    def __init__(
        self,
        interval: float,
        concurrency: int,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.interval = interval
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._next_start = float("-inf")

    def reserve(self) -> float:
        """Reserve the next start time; returns the seconds to wait for it."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
            return start - now

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the duration of a request."""
        self._slots.acquire()
        try:
            wait = self.reserve()
            if wait > 0:
                self._sleep(wait)
            yield
        finally:
            self._slots.release()


_registry: dict[tuple[object, ...], RateLimiter] = {}
_registry_lock = threading.Lock()


def shared_limiter(
    scope: tuple[object, ...],
    interval: float,
    concurrency: int,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> RateLimiter:
    """The process-wide limiter for ``scope`` (host, key fingerprint), created on first use:
    Airbus limits the API key, so every client in the process must share one budget."""
    key = (*scope, clock, sleep)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = RateLimiter(interval, concurrency, clock=clock, sleep=sleep)
            _registry[key] = limiter
        limiter.interval = max(limiter.interval, interval)
        return limiter

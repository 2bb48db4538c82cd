"""Client-side rate limiter: bounded concurrency plus a minimum interval between starts."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class RateLimiter:
    """At most ``concurrency`` holders at once; two slots start at least ``interval`` apart.

    Slots are handed out in reservation order; waiting is done outside the internal lock with
    the injected ``sleep`` so tests can use a fake clock.

    With ``after_completion`` (the ordering API, one request at a time) the interval is also
    counted from the end of the previous request: ``next start >= end + interval``. The
    server saw the previous request at some unknown moment before its answer came back, so
    this is the only pacing that provably keeps two arrivals ``interval`` apart whatever the
    latency does (a start-based pacing with a latency allowance got the key banned under
    jitter in the fault-storm tests). It costs one round trip per ordering call.
    """

    def __init__(
        self,
        interval: float,
        concurrency: int,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        after_completion: bool = False,
        start_after: float = 0.0,
    ) -> None:
        self.after_completion = after_completion
        self.interval = interval
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._next_start = clock() + start_after if start_after > 0 else float("-inf")

    def reserve(self) -> float:
        """Reserve the next start time; returns the seconds to wait for it."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
            return start - now

    @contextmanager
    def slot(self, kind: str = "") -> Iterator[None]:
        """Hold one slot for the duration of a request (``kind``, e.g. the endpoint, is
        informational)."""
        self._slots.acquire()
        try:
            wait = self.reserve()
            if wait > 0:
                self._sleep(wait)
            yield
        finally:
            if self.after_completion:
                self._completed()
            self._slots.release()

    def _completed(self) -> None:
        with self._lock:
            self._next_start = max(self._next_start, self._clock() + self.interval)


_registry: dict[tuple[object, ...], RateLimiter] = {}
_registry_lock = threading.Lock()


def shared_limiter(
    scope: tuple[object, ...],
    interval: float,
    concurrency: int,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    after_completion: bool = False,
    start_after: float = 0.0,
) -> RateLimiter:
    """The process-wide limiter for ``scope`` (host, key fingerprint, group), created on first
    use: Airbus limits the API key, so every client in the process must share one budget."""
    key = (*scope, clock, sleep)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = RateLimiter(interval, concurrency, clock=clock, sleep=sleep,
                                  after_completion=after_completion, start_after=start_after)
            _registry[key] = limiter
        limiter.interval = max(limiter.interval, interval)
        return limiter


class Unlimited:
    """A limiter that never waits (token, access and data hosts)."""

    @contextmanager
    def slot(self, kind: str = "") -> Iterator[None]:
        yield

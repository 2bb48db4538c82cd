from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from oneatlas_plan.api.ratelimit import RateLimiter
from oneatlas_plan.api.retry import RetryPolicy, backoff_delay, parse_retry_after, retry_wait


def test_backoff_grows_exponentially_within_jitter_bounds_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert backoff_delay(0, policy, 0.0) == 0.25
    assert backoff_delay(0, policy, 1.0) == 0.5
    assert backoff_delay(1, policy, 0.0) == 0.5
    assert backoff_delay(2, policy, 0.5) == pytest.approx(1.5)
    assert backoff_delay(10, policy, 1.0) == 4.0
    assert backoff_delay(10, policy, 0.0) == 2.0
    assert backoff_delay(1000, policy, 0.99) <= 4.0


def test_retry_after_wins_over_backoff() -> None:
    policy = RetryPolicy()
    assert retry_wait(3, policy, 0.5, 7.0) == 7.0
    assert retry_wait(0, policy, 0.0, None) == 0.25


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:10 GMT", now) == 10.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_rate_limiter_spaces_starts_with_a_fake_clock() -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(1.1, 1, clock=lambda: now[0], sleep=sleep)
    starts = []
    for _ in range(4):
        with limiter.slot():
            starts.append(now[0])
            now[0] += 0.2  # the request takes 200 ms
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([1.1, 1.1, 1.1])
    assert waits == pytest.approx([0.9, 0.9, 0.9])

"""Retry policy, capped exponential backoff with jitter, ``Retry-After`` parsing, the default
timeouts (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# (connect, read) seconds of every request unless told otherwise (``ONEATLAS_HTTP_TIMEOUT``)
DEFAULT_TIMEOUT = (10.0, 120.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How idempotent requests are retried.

    ``retries`` extra attempts at most; the n-th wait (0-based) is drawn from
    ``[d/2, d]`` with ``d = min(max_delay, base_delay * 2**n)``. A ``Retry-After`` longer than
    ``max_retry_after`` is not waited for: the call fails with a resumable error instead.
    """

    retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0


def backoff_delay(attempt: int, policy: RetryPolicy, fraction: float) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based); ``fraction`` in [0, 1)."""
    ceiling = min(policy.max_delay, policy.base_delay * (2.0 ** min(attempt, 62)))
    return ceiling / 2.0 + ceiling / 2.0 * min(max(fraction, 0.0), 1.0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if unusable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_wait(
    attempt: int, policy: RetryPolicy, fraction: float, retry_after: float | None
) -> float:
    """The wait before the next attempt: ``Retry-After`` when given, else the backoff."""
    if retry_after is not None:
        return retry_after
    return backoff_delay(attempt, policy, fraction)

"""Holding a request in the sandbox until the test lets it go (``/sandbox/v1/hold``, ``held``,
``release``): the handshake that replaces a delay a test would have to outlast."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

ORDER_ENDPOINTS = ("orders", "quotations")


def hold(base_url: str, *endpoints: str, count: int = 1, stage: str = "handled") -> None:
    """Hold the next ``count`` requests to ``endpoints`` at ``stage`` ("received": nothing acted
    on yet; "handled": an order committed, its answer not sent)."""
    response = requests.post(
        f"{base_url}/sandbox/v1/hold",
        json={"endpoints": list(endpoints), "count": count, "stage": stage},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def held(base_url: str) -> list[dict[str, Any]]:
    response = requests.get(f"{base_url}/sandbox/v1/held", timeout=10)
    response.raise_for_status()
    return list(response.json()["held"])


def wait_until_held(
    base_url: str,
    *,
    count: int = 1,
    check: Callable[[], None] | None = None,
    timeout: float = 60,
) -> list[dict[str, Any]]:
    """Poll until ``count`` requests are held; ``check`` (e.g. "the client is still running")
    may raise to stop early. The timeout only bounds a failure: nothing is meant to take long."""
    deadline = time.monotonic() + timeout
    while len(now := held(base_url)) < count:
        if check is not None:
            check()
        assert time.monotonic() < deadline, f"no request was held within {timeout} s"
        time.sleep(0.01)
    return now


def release(base_url: str, ids: list[int] | None = None) -> list[int]:
    """Let the given held requests go; None: every held request and every hold still armed."""
    body: dict[str, Any] = {} if ids is None else {"ids": ids}
    response = requests.post(f"{base_url}/sandbox/v1/release", json=body, timeout=10)
    response.raise_for_status()
    return list(response.json()["released"])

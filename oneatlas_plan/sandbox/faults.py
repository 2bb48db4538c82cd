"""Fault injection: latency and jitter, random 5xx before side effects, and "commit then drop"."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from typing import Any

from .config import Faults
from .errors import ApiFailure, api_error

# A response header (never sent) by which a handler asks the server to close the connection
# after its answer, e.g. a download cut short of its Content-Length (a network cut).
CLOSE_AFTER_RESPONSE = "X-Sandbox-Close-After"


class DropConnection(Exception):
    """Raised after an order is committed to close the socket without answering."""


class FaultInjector:
    def __init__(self, faults: Faults, seed: int | None = None) -> None:
        self.faults = faults
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def delay(self) -> None:
        f = self.faults
        if f.latency_ms <= 0 and f.jitter_ms <= 0:
            return
        with self._lock:
            jitter = self._rng.uniform(-f.jitter_ms, f.jitter_ms) if f.jitter_ms > 0 else 0.0
        time.sleep(max(0.0, f.latency_ms + jitter) / 1000.0)

    def maybe_error(self, ordering: bool) -> ApiFailure | None:
        """An injected 500/502/503 (before any side effect), or None."""
        with self._lock:
            if self.faults.error_rate <= 0 or self._rng.random() >= self.faults.error_rate:
                return None
            status = self._rng.choice((500, 502, 503))
        if status == 500 and ordering:
            return ApiFailure(500, {"code": "UNEXPECTED_SERVER_ERROR"})
        messages = {
            500: "Internal server error",
            502: "Bad gateway",
            503: "The server is currently unavailable (because it is overloaded or down "
            "for maintenance). Generally, this is a temporary state.",
        }
        return api_error(status, messages[status])

    def should_drop(self) -> bool:
        with self._lock:
            if self.faults.drop_next_orders > 0:
                self.faults.drop_next_orders -= 1
                return True
            p = self.faults.drop_probability
            return p > 0 and self._rng.random() < p

    def should_corrupt_download(self) -> bool:
        with self._lock:
            if self.faults.corrupt_downloads > 0:
                self.faults.corrupt_downloads -= 1
                return True
            return False

    def order_delay(self) -> None:
        if self.faults.order_delay_ms > 0:
            time.sleep(self.faults.order_delay_ms / 1000.0)


def drop_socket(environ: dict[str, Any]) -> None:
    """Close the client connection under the server's feet (no status line is ever written)."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)

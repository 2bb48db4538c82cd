"""No cyclic garbage collection while a bulk of acyclic objects is made or walked."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def bulk() -> Iterator[None]:
    """Each collection triggered while tens of thousands of records are parsed, validated or
    dumped would walk them all, for nothing (they hold no cycles): half the CPU of reading a
    10,000-resource state."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

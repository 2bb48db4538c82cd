"""Canonical JSON: the one way plans, state and digests are serialised.

Sorted keys, 2-space indent, UTF-8, trailing newline; digests are sha256 over the compact
canonical form, so the same value always has the same digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

# Objects and arrays a plan or state file may hold: ~100 times what a 20 MB plan has. `[],`
# costs 3 bytes on disk and ~60 in memory, so this bounds what a hostile file can cost.
MAX_JSON_CONTAINERS = 2_000_000


def loads_bounded(
    text: str,
    max_containers: int = MAX_JSON_CONTAINERS,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """``json.loads`` for files: ValueError (not a MemoryError or a hang) when the text has
    more than ``max_containers`` objects and arrays (counted as ``{`` and ``[``, even inside
    strings: a bound, not an exact count). ``object_pairs_hook`` as for ``json.loads``."""
    count = text.count("{") + text.count("[")
    if count > max_containers:
        raise ValueError(
            f"too many JSON objects and arrays ({count:,}; the limit is {max_containers:,})"
        )
    return json.loads(text, object_pairs_hook=object_pairs_hook)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    """Pretty canonical JSON (for files people read and diff)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=_default) + "\n"


def compact(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def digest(value: Any) -> str:
    """sha256 hex digest of the compact canonical form."""
    return hashlib.sha256(compact(value).encode("utf-8")).hexdigest()

"""Canonical JSON: the one way plans, state and digests are serialised.

Sorted keys, 2-space indent, UTF-8, trailing newline; digests are sha256 over the compact
canonical form, so the same value always has the same digest. Plan files use a denser layout
(:func:`dumps_dense`): an object or array that holds no object is written on one line.
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


def _holds_object(value: dict[str, Any] | list[Any]) -> bool:
    for item in value.values() if isinstance(value, dict) else value:
        if isinstance(item, dict) or (isinstance(item, list) and _holds_object(item)):
            return True
    return False


def _one_line(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_default)


def _dense(value: Any, indent: str, out: list[str]) -> None:
    if not isinstance(value, dict | list) or not value or not _holds_object(value):
        out.append(_one_line(value))
        return
    inner = indent + "  "
    if isinstance(value, dict):
        out.append("{\n")
        last = len(value) - 1
        for i, key in enumerate(sorted(value)):
            out.append(f"{inner}{_one_line(key)}: ")
            _dense(value[key], inner, out)
            out.append(",\n" if i < last else "\n")
        out.append(indent + "}")
    else:
        out.append("[\n")
        last = len(value) - 1
        for i, item in enumerate(value):
            out.append(inner)
            _dense(item, inner, out)
            out.append(",\n" if i < last else "\n")
        out.append(indent + "]")


def dumps_dense(value: Any) -> str:
    """Canonical JSON laid out like :func:`dumps` (sorted keys, 2-space indent, trailing
    newline), except that an object or array holding no object, at any depth, is written on
    one line (``, `` and ``: `` separators): a GeoJSON geometry, a list of ids, a flat record
    each take one line instead of one line per number."""
    out: list[str] = []
    _dense(value, "", out)
    out.append("\n")
    return "".join(out)


def compact(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def digest(value: Any) -> str:
    """sha256 hex digest of the compact canonical form."""
    return hashlib.sha256(compact(value).encode("utf-8")).hexdigest()

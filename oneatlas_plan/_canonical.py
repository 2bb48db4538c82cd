"""Canonical JSON: the one way plans, state and digests are serialised.

Sorted keys, 2-space indent, UTF-8, trailing newline; digests are sha256 over the compact
canonical form, so the same value always has the same digest. Plan files use a denser layout
(:func:`dumps_dense`): an object or array that holds no object is written on one line.
"""

from __future__ import annotations

import hashlib
import json
import math
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
    """Pretty canonical JSON (for files people read and diff): exactly ``json.dumps(value,
    indent=2, sort_keys=True, ensure_ascii=False)`` plus a newline, written by a direct walk
    (~2.5x faster than the json module's pure-Python indenting encoder: a 10,000-resource
    state file is rewritten at every checkpoint); anything but plain dicts with string keys,
    lists, tuples and scalars takes the json module's own path."""
    out: list[str] = []
    try:
        _pretty(value, "", out)
    except _NotPlain:
        return (
            json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=_default)
            + "\n"
        )
    out.append("\n")
    return "".join(out)


class _NotPlain(Exception):
    """A value :func:`_pretty` leaves to the json module."""


_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None), Decimal})


def _pretty(value: Any, indent: str, out: list[str]) -> None:
    kind = type(value)
    if kind is dict:
        if not value:
            out.append("{}")
            return
        if not all(type(key) is str for key in value):
            raise _NotPlain
        inner = indent + "  "
        out.append("{\n")
        for i, key in enumerate(sorted(value)):
            out.append(f",\n{inner}{key_text(key)}: " if i else f"{inner}{key_text(key)}: ")
            _pretty(value[key], inner, out)
        out.append(f"\n{indent}}}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = indent + "  "
        out.append("[\n")
        for i, item in enumerate(value):
            out.append(f",\n{inner}" if i else inner)
            _pretty(item, inner, out)
        out.append(f"\n{indent}]")
    elif kind in _PLAIN_SCALARS:
        out.append(_scalar(value))
    else:
        raise _NotPlain


def _holds_object(value: dict[str, Any] | list[Any]) -> bool:
    for item in value.values() if isinstance(value, dict) else value:
        if isinstance(item, dict) or (isinstance(item, list) and _holds_object(item)):
            return True
    return False


def _one_shot(item_separator: str, key_separator: str) -> Callable[[Any], str]:
    """``JSONEncoder(sort_keys=True, ensure_ascii=False, ...).encode`` without its cost per
    call: ``encode`` makes a new C encoder each time, most of the time spent on the small
    values plans are made of; this one is made once. (No check for circular references:
    the values encoded here come from JSON or from models.)"""
    python = json.JSONEncoder(
        sort_keys=True,
        ensure_ascii=False,
        default=_default,
        separators=(item_separator, key_separator),
    )
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return python.encode
    encoder = make(
        None, _default, json.encoder.encode_basestring, None, key_separator, item_separator,
        True, False, True,
    )  # fmt: skip

    def encode(value: Any) -> str:
        return "".join(encoder(value, 0))

    return encode


_one_line = _one_shot(", ", ": ")
_KEYS: dict[str, str] = {}  # object keys repeat in every resource: encoded once


def key_text(key: str) -> str:
    """An object key as JSON (the same in every layout)."""
    encoded = _KEYS.get(key)
    if encoded is None:
        encoded = _KEYS[key] = _one_line(key)
    return encoded


_encode_str = json.encoder.encode_basestring  # as json.dumps(ensure_ascii=False), in C


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return str(_encode_str(value))
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)
    return _one_line(value)


def _dense(value: Any, indent: str) -> str:
    """``value`` (a dict or a list) in the dense layout."""
    is_dict = type(value) is dict
    if dict not in map(type, value.values() if is_dict else value):
        line = _one_line(value)
        # No "{" but the first: no object inside; else look (a string may hold a "{").
        if "{" not in line[1:] or not _holds_object(value):
            return line
    inner = indent + "  "
    if is_dict:
        members = [f"{inner}{key_text(k)}: {_member(value[k], inner)}" for k in sorted(value)]
        return "{\n" + ",\n".join(members) + f"\n{indent}}}"
    return "[\n" + ",\n".join([inner + _member(v, inner) for v in value]) + f"\n{indent}]"


def _member(value: Any, indent: str) -> str:
    kind = type(value)
    if kind is dict or kind is list:
        return _dense(value, indent)
    if kind is str:
        return str(_encode_str(value))
    return _scalar(value)


def dumps_dense(value: Any) -> str:
    """Canonical JSON laid out like :func:`dumps` (sorted keys, 2-space indent, trailing
    newline), except that an object or array holding no object, at any depth, is written on
    one line (``, `` and ``: `` separators): a GeoJSON geometry, a list of ids, a flat record
    each take one line instead of one line per number."""
    return _member(value, "") + "\n"


compact: Callable[[Any], str] = _one_shot(",", ":")
"""The compact canonical form (what digests and checksums are computed on)."""


def digest(value: Any) -> str:
    """sha256 hex digest of the compact canonical form."""
    return hashlib.sha256(compact(value).encode("utf-8")).hexdigest()

"""Resource addresses given on the command line (``--target``, ``refresh ADDRESS``)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from oneatlas_plan.errors import ConfigError


def matches(address: str, target: str) -> bool:
    """``target`` is the address itself or a prefix ending at a ``.`` or ``[``."""
    target = target.rstrip(".")
    return address == target or address.startswith((target + ".", target + "["))


def check_targets(targets: Sequence[str], known: Iterable[str], *, what: str) -> None:
    """Refuse a target that matches no known address, naming the closest ones."""
    addresses = sorted(set(known))
    for target in targets:
        if any(matches(address, target) for address in addresses):
            continue
        prefixes = sorted({p for a in addresses for p in _prefixes(a)})
        close = difflib.get_close_matches(target, prefixes, n=3, cutoff=0.5)
        hint = (
            "closest: " + ", ".join(close)
            if close
            else f"known: {', '.join(addresses[:5]) or 'none'}"
            + (f" and {len(addresses) - 5} more" if len(addresses) > 5 else "")
        )
        raise ConfigError(f"{what} {target!r} matches no resource address ({hint})")


def _prefixes(address: str) -> list[str]:
    parts = address.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]

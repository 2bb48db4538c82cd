"""Copying a state between backends (`state push`, `state pull`) without losing a change.

A copy replaces the target only when it is the same state, newer (same lineage, higher
serial), or the target is empty. A target of another lineage, or of the same lineage with a
higher serial, or with the same serial but other content, is refused: that is exactly what
a stale plan is refused for.
"""

from __future__ import annotations

from dataclasses import dataclass

from oneatlas_plan.errors import StateError
from oneatlas_plan.state.backends import StateBackend
from oneatlas_plan.state.model import State


@dataclass(frozen=True)
class Copied:
    serial: int
    resources: int
    unchanged: bool


def check_overwrite(incoming: State, existing: State | None, target: str) -> bool:
    """True when the target already holds ``incoming``; raises when it holds something newer."""
    if existing is None or (existing.serial == 0 and not existing.resources):
        return False
    if existing.lineage != incoming.lineage:
        raise StateError(
            f"refusing to overwrite {target}: it holds another state (lineage "
            f"{existing.lineage}, serial {existing.serial}; the copy has lineage "
            f"{incoming.lineage}). Copy into an empty state, or remove that one first"
        )
    if existing.serial > incoming.serial:
        raise StateError(
            f"refusing to overwrite {target}: it is newer (serial {existing.serial} > "
            f"{incoming.serial}); copy it the other way first"
        )
    if existing.serial == incoming.serial:
        if existing == incoming:
            return True
        raise StateError(
            f"refusing to overwrite {target}: it has the same serial {existing.serial} but "
            "other content (the two copies diverged); inspect both with `state export`"
        )
    return False


def copy_state(source: StateBackend, target: StateBackend, *, lock_timeout: float) -> Copied:
    """Copy the state of ``source`` over ``target``, under the target's run lock."""
    with source.store() as reader:
        if not reader.exists():
            raise StateError(f"there is no state at {source.location} to copy")
        incoming = reader.load()
    lock = target.lock()
    lock.acquire(lock_timeout)
    try:
        with target.store() as writer:
            existing = writer.load() if writer.exists() else None
            unchanged = check_overwrite(incoming, existing, target.location)
            if not unchanged:
                writer.replace(incoming)
    finally:
        lock.release()
    return Copied(serial=incoming.serial, resources=len(incoming.resources), unchanged=unchanged)

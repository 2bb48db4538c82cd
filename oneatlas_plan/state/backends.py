"""The state as one interface with two backends, chosen from ``--state`` at the edge.

* :class:`StateStore` is what the use cases (plan, apply, reconcile, refresh, quotations,
  download, the ``state`` repairs) need from a store: read the state, change one record at
  a time durably, checkpoint, close.
* :class:`StateBackend` is where a state lives: it opens stores, takes the run lock, breaks
  a dead run's lock, and migrates its own format.

:func:`open_backend` maps the text of ``--state`` / ``ONEATLAS_STATE`` / the project config
to a backend: ``postgresql://…`` (or ``postgres://…``) gives :mod:`.postgres`, anything else
is a JSON file path (:mod:`.store`, :mod:`.lock`). Nothing else in the package asks which
backend it has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from oneatlas_plan._closing import Closing
from oneatlas_plan.api.gate import OrderingGate, machine_gate
from oneatlas_plan.state.lock import LockInfo, StateLock, break_lock
from oneatlas_plan.state.model import REMOVED, ResourceRecord, RetiredOrder, State
from oneatlas_plan.state.store import FileStateStore

OnStale = Callable[[LockInfo], None]
URL_SCHEMES = ("postgresql://", "postgres://")


class StateStore(Protocol):
    """Load and durably change one state. Writers hold the backend's run lock."""

    @property
    def location(self) -> str:
        """Where the state is, for messages (never with a password)."""
        ...

    def exists(self) -> bool: ...

    def load(self) -> State:
        """Read the state afresh (a consistent snapshot); a copy the caller may modify."""
        ...

    def state(self) -> State:
        """A copy of the state as this store knows it (loading it first if needed)."""
        ...

    def view(self) -> State:
        """The state as this store knows it, not a copy (loading it first if needed): to read
        at once, never to change or keep past the next change."""
        ...

    def get(self, address: str) -> ResourceRecord | None: ...

    def record(self, record: ResourceRecord) -> ResourceRecord:
        """Insert or replace one record durably before returning; serial +1 (unless equal)."""
        ...

    def record_all(self, records: Sequence[ResourceRecord]) -> None:
        """Insert or replace several records in one durable change: all, or (StateError) none
        of them; serial +1 (unless all equal). The write-ahead of an order's resources."""
        ...

    def update(
        self, address: str, fn: Callable[[ResourceRecord], ResourceRecord]
    ) -> ResourceRecord: ...

    def remove(self, address: str, reason: str = REMOVED) -> ResourceRecord:
        """Forget a resource and retire its orders that spent (``State.retired``, with
        ``reason``) in one durable change; serial +1."""
        ...

    def record_retired(self, index: int, entry: RetiredOrder) -> None:
        """Replace ``State.retired[index]`` durably (settled by a person or by reconcile);
        serial +1."""
        ...

    def replace(self, state: State) -> None:
        """Replace the whole state, lineage and serial included (push, pull, restore)."""
        ...

    def checkpoint(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class RunLock(Protocol):
    """The lock a writing run holds for its whole duration."""

    def acquire(self, timeout: float = 0.0, on_stale: OnStale | None = None) -> LockInfo: ...

    def release(self) -> None: ...


class StateBackend(Protocol):
    """Where one state lives."""

    @property
    def location(self) -> str:
        """``--state`` as given, without a password: what messages and hints show."""
        ...

    @property
    def local_dir(self) -> Path:
        """The directory for local companions (the embedded sandbox's data)."""
        ...

    def store(self) -> StateStore: ...

    def lock(self) -> RunLock: ...

    def break_lock(self, lock_id: str) -> LockInfo:
        """What `state unlock` does: free the lock ``lock_id`` of a dead run."""
        ...

    def migrate(self) -> list[str]:
        """Bring the backend's format up to date; describe what was done."""
        ...

    def ordering_gate(self, origin: str, api_key: str, runtime_dir: Path) -> OrderingGate:
        """The gate every process using this backend shares for ``api_key`` on ``origin``
        (the ordering budget of the key); the key itself is never stored, a salted
        fingerprint only. ``runtime_dir`` holds per-user machine-local gates."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class FileBackend(Closing):
    """The JSON state file (the default): :class:`FileStateStore` plus ``<file>.lock``."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self._fsync = fsync

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def local_dir(self) -> Path:
        return self.path.resolve().parent

    def store(self) -> StateStore:
        return FileStateStore(self.path, fsync=self._fsync)

    def lock(self) -> RunLock:
        return StateLock(self.path, fsync=self._fsync)

    def break_lock(self, lock_id: str) -> LockInfo:
        return break_lock(self.path, lock_id)

    def migrate(self) -> list[str]:
        return [
            f"{self.path}: a state file is migrated when read and rewritten by the next "
            "change; nothing to do"
        ]

    def ordering_gate(self, origin: str, api_key: str, runtime_dir: Path) -> OrderingGate:
        return machine_gate(runtime_dir, origin, api_key)

    def close(self) -> None:
        pass



def is_database_url(location: str) -> bool:
    return location.strip().lower().startswith(URL_SCHEMES)


def open_backend(location: str | Path, *, base_dir: Path | None = None) -> StateBackend:
    """The backend for ``--state``: a PostgreSQL URL or a file path (relative to ``base_dir``)."""
    text = str(location)
    if is_database_url(text):
        from oneatlas_plan.state.postgres import PostgresBackend

        return PostgresBackend.from_url(text.strip())
    path = Path(text).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    return FileBackend(path)

"""The state lock: ``<state>.lock``, created atomically (O_CREAT|O_EXCL) for a whole run.

The lock file holds who (user), where (host), which process (pid and, on Linux, its start
time so that a reused pid is not mistaken for the holder), when, and a lock id (uuid4).

A lock whose holder is a dead process on this host is *stale*: :meth:`StateLock.acquire`
reports it (``on_stale`` callback, or a logged warning) and takes it over. A lock held from
another host can only be broken by a person, by id: :func:`break_lock`.

Removing someone else's lock (taking over a stale one, breaking one) is done while holding
``<state>.lock.takeover`` (also exclusive) and after re-reading the lock id, so two processes
cannot both take over, nor remove a fresh lock made in between.

Both files are created complete or not at all (written to a temp file, then hard-linked
into place; see :func:`oneatlas_plan._files.create_exclusive`): a full disk gives a clear
:class:`StateError`, never an empty lock. An unreadable lock or takeover file (empty or
garbage, as older versions could leave on a full disk) is waited for like a live one, and
taken over once it is older than ``UNREADABLE_GRACE`` seconds: nobody writes one in place.

All functions take the **state file's** path; :func:`lock_path_for` gives the lock's.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

from oneatlas_plan import _files, _testhooks
from oneatlas_plan.errors import StateError, StateLockedError
from oneatlas_plan.state.model import utc_iso, utc_now

logger = logging.getLogger(__name__)

FIRST_DELAY = 0.05
MAX_DELAY = 2.0
UNREADABLE_GRACE = 10.0  # seconds an unreadable lock/takeover file is respected
MAX_LOCK_BYTES = 64 * 1024
MAX_PID = 2**31 - 1


def lock_path_for(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


def _takeover_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock.takeover")


@dataclass(frozen=True)
class LockInfo:
    lock_id: str
    user: str
    host: str
    pid: int
    created_at: str
    process_start: str | None = None

    @property
    def holder(self) -> str:
        return f"{self.user}@{self.host}"

    def describe(self) -> str:
        return f"{self.holder} (pid {self.pid}, since {self.created_at}, lock id {self.lock_id})"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=2) + "\n"


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no USER/LOGNAME and no passwd entry (some containers)
        return f"uid{os.getuid()}"


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to detect pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of stat(5)


def is_alive(pid: int, process_start: str | None = None) -> bool:
    """Whether ``pid`` (on this host) is the process that wrote the lock."""
    if not 0 < pid <= MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    if process_start is not None:
        now_start = _process_start(pid)
        if now_start is not None and now_start != process_start:
            return False  # the pid was reused by another process
    return True


def is_stale(info: LockInfo) -> bool:
    """A lock of a dead process on this host. Locks of other hosts are never stale here."""
    return info.host == socket.gethostname() and not is_alive(info.pid, info.process_start)


class UnreadableLockError(StateError):
    pass


def read_lock(state_path: Path) -> LockInfo | None:
    """The current lock, or None when the state is not locked.

    Raises :class:`UnreadableLockError` when the lock file exists but cannot be parsed.
    """
    path = lock_path_for(state_path)
    try:
        text = _files.read_regular(path, MAX_LOCK_BYTES).decode("utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise UnreadableLockError(
            f"lock file {path} is unreadable: {error.strerror or error}; if no oneatlas-plan "
            "run is in progress on this state, delete that file"
        ) from None
    except UnicodeDecodeError as error:
        raise UnreadableLockError(
            f"lock file {path} is unreadable (not UTF-8 text: {error.reason}); if no "
            "oneatlas-plan run is in progress on this state, delete that file"
        ) from error
    try:
        data = json.loads(text)
        info = LockInfo(
            lock_id=str(data["lock_id"]),
            user=str(data["user"]),
            host=str(data["host"]),
            pid=int(data["pid"]),
            created_at=str(data["created_at"]),
            process_start=data.get("process_start"),
        )
        if not 0 < info.pid <= MAX_PID:
            raise ValueError(f"pid {str(data['pid'])[:40]} is not a process id")
        return info
    except (ValueError, KeyError, TypeError, RecursionError, AttributeError) as error:
        raise UnreadableLockError(
            f"lock file {path} is unreadable ({type(error).__name__}: {error}); if no "
            "oneatlas-plan run is in progress on this state, delete that file"
        ) from error


def _create_exclusive(path: Path, text: str, *, fsync: bool = True) -> bool:
    """Create ``path`` complete (False if it exists); StateError if it cannot be written."""
    try:
        return _files.create_exclusive(path, text.encode("utf-8"), fsync=fsync)
    except OSError as error:
        raise StateError(
            f"cannot create the lock file {path}: {error.strerror or error}; nothing was "
            "changed (free some space on that filesystem and run again)"
        ) from None


def _age(path: Path) -> float | None:
    """Seconds since ``path`` was last modified, or None if it is gone."""
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None


def _remove_unreadable(path: Path) -> bool:
    """Remove an unreadable lock or takeover file once it is older than the grace (called
    while holding the takeover file, or for the takeover file itself)."""
    age = _age(path)
    if age is None or age < UNREADABLE_GRACE:
        return False
    path.unlink(missing_ok=True)
    return True


def _remove_if(state_path: Path, lock_id: str) -> bool:
    """Remove the lock if it still has ``lock_id``; False if it changed or someone else is
    removing it right now."""
    takeover = _takeover_path(state_path)
    me = f"{socket.gethostname()} {os.getpid()}\n"
    if not _create_exclusive(takeover, me):
        _clear_dead_takeover(takeover)
        return False
    try:
        try:
            current = read_lock(state_path)
        except UnreadableLockError:
            return lock_id == UNREADABLE_ID and _remove_unreadable(lock_path_for(state_path))
        if current is None or current.lock_id != lock_id:
            return False
        lock_path_for(state_path).unlink()
        return True
    finally:
        takeover.unlink(missing_ok=True)


def _clear_dead_takeover(takeover: Path) -> None:
    """A takeover file left by a process killed in the middle of a takeover (or an empty or
    garbage one left by an older version on a full disk)."""
    try:
        host, pid = _files.read_regular(takeover, MAX_LOCK_BYTES).decode("utf-8").split()
        if host == socket.gethostname() and not is_alive(int(pid)):
            takeover.unlink(missing_ok=True)
    except FileNotFoundError:
        pass
    except (OSError, ValueError):  # unreadable: nobody writes one in place
        with contextlib.suppress(OSError):
            _remove_unreadable(takeover)


UNREADABLE_ID = "(unreadable)"


def _unreadable_info(path: Path) -> LockInfo:
    """What is reported when an unreadable lock file is taken over."""
    try:
        since = utc_iso(datetime.fromtimestamp(path.stat().st_mtime).astimezone())
    except OSError:
        since = "?"
    return LockInfo(
        lock_id=UNREADABLE_ID, user="unknown", host="unknown", pid=0, created_at=since
    )


class StateLock:
    """The lock of one state file; a context manager (acquire on enter, release on exit).

    ``clock`` gives the (aware) time written in the lock; ``sleep`` is used between
    attempts, and the time waited is the sum of the sleeps (so tests can fake both).
    """

    def __init__(
        self,
        state_path: Path,
        *,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 0.0,
        on_stale: Callable[[LockInfo], None] | None = None,
        fsync: bool = True,
    ) -> None:
        self.state_path = state_path
        self.path = lock_path_for(state_path)
        self._clock = clock
        self._sleep = sleep
        self._timeout = timeout
        self._on_stale = on_stale
        self._fsync = fsync
        self.info: LockInfo | None = None

    @property
    def held(self) -> bool:
        return self.info is not None

    def acquire(
        self, timeout: float = 0.0, on_stale: Callable[[LockInfo], None] | None = None
    ) -> LockInfo:
        """Take the lock, waiting up to ``timeout`` seconds (exponential backoff).

        Raises :class:`StateLockedError` naming the holder when it is still held.
        """
        if self.info is not None:
            raise StateError(f"{self.path}: lock already held by this process")
        waited = 0.0
        delay = FIRST_DELAY
        while True:
            info = self._try_create()
            if info is not None:
                self.info = info
                return info
            holder = self._holder_or_take_over(on_stale)
            if holder is None:
                continue  # released or taken over: try again at once
            if waited >= timeout:
                raise StateLockedError(self._locked_message(holder))
            if waited == 0:
                _testhooks.mark("lock-wait")
            pause = min(delay, timeout - waited)
            self._sleep(pause)
            waited += pause
            delay = min(delay * 2, MAX_DELAY)

    def _try_create(self) -> LockInfo | None:
        info = LockInfo(
            lock_id=str(uuid.uuid4()),
            user=current_user(),
            host=socket.gethostname(),
            pid=os.getpid(),
            created_at=utc_iso(self._clock()),
            process_start=_process_start(os.getpid()),
        )
        if not _create_exclusive(self.path, info.to_json(), fsync=self._fsync):
            return None
        return info

    def _holder_or_take_over(
        self, on_stale: Callable[[LockInfo], None] | None
    ) -> LockInfo | str | None:
        """The live holder (LockInfo, or a description when unreadable), or None to retry."""
        try:
            holder = read_lock(self.state_path)
        except UnreadableLockError as error:
            age = _age(self.path)
            if age is None or age < UNREADABLE_GRACE:
                return str(error)  # wait, then report
            holder = _unreadable_info(self.path)
        if holder is None or not (holder.lock_id == UNREADABLE_ID or is_stale(holder)):
            return holder
        if not _remove_if(self.state_path, holder.lock_id):
            return holder  # someone else is taking it over: wait like for a live lock
        report = on_stale or self._on_stale
        if report is None:
            logger.warning("took over the stale lock of %s", holder.describe())
        else:
            report(holder)
        return None

    def _locked_message(self, holder: LockInfo | str) -> str:
        if isinstance(holder, str):
            return f"state {self.state_path} is locked: {holder}"
        return (
            f"state {self.state_path} is locked by {holder.describe()}; wait, or if that run "
            f"is dead, run: oneatlas-plan state unlock {holder.lock_id} --state {self.state_path}"
        )

    def release(self) -> None:
        """Remove our lock (a no-op if not held). Warns if someone broke it meanwhile."""
        info, self.info = self.info, None
        if info is None:
            return
        try:
            current = read_lock(self.state_path)
        except UnreadableLockError:
            current = None
        if current is None or current.lock_id != info.lock_id:
            logger.warning("the lock of %s was broken by someone else during this run", self.path)
            return
        self.path.unlink(missing_ok=True)
        if self._fsync:
            with contextlib.suppress(OSError):
                _files.fsync_dir(self.path.parent)

    def __enter__(self) -> StateLock:
        if self.info is None:
            self.acquire(self._timeout, self._on_stale)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def break_lock(state_path: Path, lock_id: str) -> LockInfo:
    """Remove the lock with id ``lock_id`` (what `state unlock` does); return what it held.

    Refuses when the state is not locked, when the id does not match, and when the holder
    is a live process on this host.
    """
    path = lock_path_for(state_path)
    holder = read_lock(state_path)
    if holder is None:
        raise StateError(f"state {state_path} is not locked (no {path})")
    if holder.lock_id != lock_id:
        raise StateError(
            f"lock id {lock_id} does not match the lock of state {state_path}, held by "
            f"{holder.describe()}"
        )
    if holder.host == socket.gethostname() and is_alive(holder.pid, holder.process_start):
        raise StateError(
            f"refusing to unlock state {state_path}: it is held by {holder.describe()}, a "
            "process still running on this host; wait for it to finish or stop it first"
        )
    if not _remove_if(state_path, lock_id) and not _remove_if(state_path, lock_id):
        # (the second try follows the removal of a dead or unreadable takeover file)
        raise StateError(f"the lock of state {state_path} changed meanwhile; try again")
    return holder

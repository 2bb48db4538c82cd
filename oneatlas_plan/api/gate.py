"""The ordering gate: one ordering request at a time per API key, wherever the gate reaches.

Airbus bans an API key for 10 minutes when its ordering API (the Pay-Per-Order host: prices,
orders, quotations, contract look-ups) sees two requests at once or closer than the published
interval. The limit is the key's, not the process's, so the exclusion has to reach every
process that uses the key: :class:`FileGate` (every process of one user on one machine, an
``fcntl`` lock) here, the key's row in a PostgreSQL state database for teams
(:mod:`oneatlas_plan.state.pg_gate`, offered by the state backend). :class:`LocalGate` covers one
process only (library use and the embedded sandbox, which no other process can reach).

The client (:mod:`oneatlas_plan.api.client`) receives one gate, chosen at the edge, and wraps
each ordering request in :meth:`OrderingGate.turn`. A gate guarantees, for the key it guards:

* at most one turn is open at a time;
* a turn opens no earlier than ``interval`` after the previous turn's request ended (or after
  the latest moment it could still be in progress, when its answer never came): pacing from
  the *end* of the previous request is the only pacing that provably keeps two arrivals at
  Airbus ``interval`` apart whatever the latency does;
* a request is in flight from :meth:`Turn.sent` until its turn closes: before the request
  leaves, the gate records where every other process reads it (the gate file, the committed
  row) that the key is busy until the latest moment the request could still be running at
  Airbus (the ``allowance`` the client gives). A turn that closes
  normally replaces that mark with the request's real end; a turn cut off (an exception out
  of it, Ctrl-C; a killed process, whose lock the kernel or the server releases) leaves it,
  and the next turn anywhere the gate reaches waits for it, saying why and until when;
* a ban recorded in any turn is shown to every later turn (``Turn.banned_until``), until it
  ends; the holder must then not send.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from oneatlas_plan.errors import ConfigError

logger = logging.getLogger(__name__)

RUNTIME_DIR_ENV = "ONEATLAS_RUNTIME_DIR"
GATE_FORMAT = 1
_RECORD_BYTES = 4096  # what a turn reads of the gate file
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass
class Turn:
    """One exclusive turn on the ordering API.

    The gate fills ``banned_until`` when the turn opens; the holder reports what happened
    with :meth:`sent`, :meth:`in_doubt` and :meth:`ban`, which the gate records when the turn
    closes (:meth:`sent` at once: that mark must outlive the process). Plain data shared by
    every gate implementation; ``on_sent`` is how the gate hears of :meth:`sent`.
    """

    banned_until: datetime | None = None
    was_sent: bool = False
    doubt_seconds: float = 0.0
    ban_seconds: float = 0.0
    cut_off: bool = False
    on_sent: Callable[[float], None] | None = field(default=None, repr=False, compare=False)

    def banned(self, now: datetime | None = None) -> bool:
        """Whether a recorded ban forbids sending now."""
        return self.banned_until is not None and self.banned_until > (now or datetime.now(UTC))

    def sent(self, allowance: float = 0.0) -> None:
        """The request is about to leave: the next turn is paced from this turn's end. Until
        the turn closes, the gate holds every other turn back for ``allowance`` seconds from
        now (the latest moment the request could still be running at Airbus), so that a
        process cut off now still keeps the key to itself. Raises (and the request must not
        be sent) when that mark cannot be recorded."""
        if self.on_sent is not None:
            self.on_sent(allowance)
        self.was_sent = True

    def in_doubt(self, seconds: float) -> None:
        """No answer came back: Airbus may still be processing the request for ``seconds``
        after now, so the next turn waits that long before the interval even starts."""
        self.doubt_seconds = max(self.doubt_seconds, seconds)

    def ban(self, seconds: float) -> None:
        """Airbus answered 429: nothing may be sent with this key for ``seconds``."""
        self.ban_seconds = max(self.ban_seconds, seconds)


@contextmanager
def hand_out(turn: Turn, close: Callable[[Turn], None]) -> Iterator[Turn]:
    """Yield ``turn`` to its holder and ``close`` it whatever happens; anything escaping the
    holder (an error, Ctrl-C) marks the turn cut off first. Shared by every gate."""
    try:
        yield turn
    except BaseException:
        turn.cut_off = True
        raise
    finally:
        close(turn)


class OrderingGate(Protocol):
    """Hands out exclusive, paced turns on the ordering API of one key and host."""

    def turn(self, interval: float) -> AbstractContextManager[Turn]:
        """Block until this key has no ordering request in flight anywhere the gate reaches
        and ``interval`` seconds have passed since the previous one ended; yield the turn.

        When a ban is recorded the turn opens at once with ``banned_until`` set (nothing to
        wait for: the holder must not send)."""
        ...

    def banned_until(self) -> datetime | None:
        """The end of a ban recorded for this key (None: none, or over), without a turn."""
        ...

    def close(self) -> None:
        """Free what the gate holds (a database connection); its owner calls it once."""
        ...


@dataclass
class _Record:
    """What a gate remembers: when the previous request may have ended, any ban."""

    idle_at: float | None = None  # pacing clock; None: unknown
    banned_until: float = 0.0  # wall clock (epoch seconds)
    # wall clock: the latest end of a request whose answer never came (in flight when its
    # process was cut off, or in doubt), for a reader that cannot trust ``idle_at``
    busy_until: float = 0.0

    def send(self, allowance: float, now: float, wall: float) -> None:
        """A request leaves: the key is busy until it may have ended at the latest."""
        self.idle_at = now + allowance
        self.busy_until = wall + allowance

    def close(self, turn: Turn, now: float, wall: float) -> None:
        if turn.was_sent:
            idle_at = now + turn.doubt_seconds
            busy_until = wall + turn.doubt_seconds if turn.doubt_seconds > 0 else 0.0
            if turn.cut_off:  # no answer, no knowing: the in-flight mark stands
                idle_at = max(idle_at, self.idle_at if self.idle_at is not None else idle_at)
                busy_until = max(busy_until, self.busy_until)
            self.idle_at, self.busy_until = idle_at, busy_until
        if turn.ban_seconds > 0:
            self.banned_until = max(self.banned_until, wall + turn.ban_seconds)

    def ban_end(self, wall: float) -> datetime | None:
        if self.banned_until <= wall:
            return None
        return datetime.fromtimestamp(self.banned_until, UTC)


def say_busy(seconds: float, until: datetime) -> None:
    """Tell the person waiting why a turn is held back beyond the interval (once per wait)."""
    logger.warning(
        "an earlier ordering request with this API key got no answer (it timed out, or its "
        "run was interrupted or killed) and may still be in progress at OneAtlas: the next "
        "ordering request waits until %s UTC (%.0f s), so that the key is not banned for "
        "two requests at once", f"{until:%Y-%m-%d %H:%M:%S}", max(seconds, 1.0))


def _wait_for(idle_at: float, interval: float, clock: Clock, sleep: Sleep, wall: Clock) -> None:
    """Wait until ``interval`` after ``idle_at`` (pacing clock), saying so when a request
    whose answer never came is what holds the turn back."""
    busy = idle_at - clock()
    if busy > 0:
        say_busy(busy + interval, datetime.fromtimestamp(wall() + busy + interval, UTC))
    wait_until(idle_at + interval, clock, sleep)


def wait_until(target: float, clock: Clock, sleep: Sleep) -> None:
    """Sleep until ``clock() >= target`` (``time.sleep`` sleeps at least as long as asked,
    on the monotonic clock, since Python 3.5)."""
    remaining = target - clock()
    if remaining > 0:
        sleep(remaining)


class LocalGate:
    """A gate for the threads of one process (shared per key and host: :func:`local_gate`).

    It cannot know what another process did, so its first turn waits one interval."""

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep,
                 wall: Clock = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self._record = _Record(idle_at=clock())

    @contextmanager
    def turn(self, interval: float) -> Iterator[Turn]:
        with self._lock:
            record = self._record
            opened = Turn(banned_until=record.ban_end(self._wall()),
                          on_sent=lambda allowance: record.send(allowance, self._clock(),
                                                                self._wall()))
            if opened.banned_until is None and record.idle_at is not None:
                _wait_for(record.idle_at, interval, self._clock, self._sleep, self._wall)
            with hand_out(opened, lambda turn: record.close(turn, self._clock(), self._wall())):
                yield opened

    def banned_until(self) -> datetime | None:
        with self._lock:
            return self._record.ban_end(self._wall())

    def close(self) -> None:
        pass


_local_gates: dict[tuple[object, ...], LocalGate] = {}
_local_lock = threading.Lock()


def local_gate(scope: tuple[object, ...], *, clock: Clock = time.monotonic,
               sleep: Sleep = time.sleep) -> LocalGate:
    """The process-wide :class:`LocalGate` for ``scope`` (origin, key fingerprint)."""
    key = (*scope, clock, sleep)
    with _local_lock:
        gate = _local_gates.get(key)
        if gate is None:
            gate = _local_gates[key] = LocalGate(clock=clock, sleep=sleep)
        return gate


class FileGate:
    """A gate for every process of this user on this machine: an ``fcntl.flock`` on a small
    file holding the end of the previous ordering request and any ban.

    The lock is taken on a fresh file description per turn, so the threads of one process
    exclude each other too; the kernel releases it when a holder dies, so a killed run never
    blocks the next. The previous request's end is kept on the monotonic clock together with
    the boot id (a time from another boot is long past); bans on the wall clock (they are
    shown to people and outlive reboots).
    """

    def __init__(self, path: Path, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep,
                 wall: Clock = time.time, clock_id: str | None = None) -> None:
        self.path = path
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self._clock_id = clock_id if clock_id is not None else _boot_clock_id()
        self._threads = threading.Lock()

    @contextmanager
    def turn(self, interval: float) -> Iterator[Turn]:
        with self._threads, self._locked() as fd:
            record = self._read(fd)

            def mark(allowance: float) -> None:
                record.send(allowance, self._clock(), self._wall())
                # In the page cache, the mark outlives any process (SIGKILL included); an fsync
                # would cost 2-4 ms an ordering call here, and only matter after an OS crash.
                try:
                    self._write(fd, record, durable=False)
                except OSError as error:
                    raise ConfigError(
                        f"cannot record the ordering request about to leave in {self.path} "
                        f"({error.strerror or error}); nothing was sent"
                    ) from None

            opened = Turn(banned_until=record.ban_end(self._wall()), on_sent=mark)
            if opened.banned_until is None:
                # Unknown (first use, unreadable file): as if a request had just ended.
                idle_at = record.idle_at if record.idle_at is not None else self._clock()
                _wait_for(idle_at, interval, self._clock, self._sleep, self._wall)

            def close(turn: Turn) -> None:
                if turn.was_sent or turn.ban_seconds > 0:
                    record.close(turn, self._clock(), self._wall())
                    # a cut-off turn's mark is already written, and stands
                    self._write(fd, record, durable=turn.ban_seconds > 0)

            with hand_out(opened, close):
                yield opened

    def banned_until(self) -> datetime | None:
        with self._threads, self._locked() as fd:
            return self._read(fd).ban_end(self._wall())

    def close(self) -> None:
        pass  # a lock file description lives for one turn only

    @contextmanager
    def _locked(self) -> Iterator[int]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # releases the lock

    def _read(self, fd: int) -> _Record:
        try:
            data = json.loads(os.pread(fd, _RECORD_BYTES, 0) or b"{}")
        except (ValueError, OSError):
            data = {}
        return _parse(data if isinstance(data, dict) else {}, self._clock_id, self._clock(),
                      self._wall())

    def _write(self, fd: int, record: _Record, *, durable: bool) -> None:
        data = {"format": GATE_FORMAT, "clock": self._clock_id, "idle_at": record.idle_at,
                "banned_until": record.banned_until, "busy_until": record.busy_until}
        payload = json.dumps(data, sort_keys=True).encode()
        # Written over the previous record in place, padded with spaces (which JSON ignores)
        # to its length: no truncation per turn, a metadata change that cost milliseconds of
        # the interval on a busy disk. Only a file too long to be a record is truncated.
        size = os.fstat(fd).st_size
        if size > _RECORD_BYTES:
            os.ftruncate(fd, 0)
        elif size > len(payload):
            payload = payload.ljust(size)
        written = 0
        while written < len(payload):
            written += os.pwrite(fd, payload[written:], written)
        if durable:
            os.fsync(fd)


def _parse(data: Mapping[str, Any], clock_id: str, now: float, wall: float) -> _Record:
    idle_at = _number(data.get("idle_at")) if data.get("clock") == clock_id else None
    busy_until = _number(data.get("busy_until")) or 0.0
    if idle_at is None and busy_until > wall:
        # another boot's pacing clock, but a request it sent may still be running
        idle_at = now + (busy_until - wall)
    return _Record(idle_at=idle_at, banned_until=_number(data.get("banned_until")) or 0.0,
                   busy_until=busy_until)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _boot_clock_id() -> str:
    """``monotonic:<boot id>``: monotonic readings of one boot are comparable across
    processes (Linux); without a boot id a reading is never reused by another process."""
    try:
        return "monotonic:" + _BOOT_ID.read_text().strip()
    except OSError:
        return f"monotonic:pid-{os.getpid()}"


# ---------------------------------------------------------------------------- where gates live


def runtime_dir(environ: Mapping[str, str]) -> Path:
    """``$ONEATLAS_RUNTIME_DIR``, else ``$XDG_CACHE_HOME/oneatlas-plan``, else
    ``~/.cache/oneatlas-plan``."""
    explicit = environ.get(RUNTIME_DIR_ENV)
    if explicit:
        return Path(explicit)
    cache = environ.get("XDG_CACHE_HOME") or str(Path(environ.get("HOME") or Path.home())
                                                   / ".cache")
    return Path(cache) / "oneatlas-plan"


def gate_path(directory: Path, origin: str, api_key: str) -> Path:
    """``<directory>/gates/<fingerprint>.lock`` for the key on ``origin`` (scheme://host:port).

    The fingerprint is an HMAC of origin and key under a random per-user salt kept beside the
    gates: the key itself is never written anywhere, and the file name reveals nothing."""
    gates = _private_dir(directory / "gates")
    salt = _salt(gates / "salt")
    digest = hmac.new(salt, f"{origin}\n{api_key}".encode(), hashlib.sha256).hexdigest()
    return gates / f"{digest[:32]}.lock"


def machine_gate(directory: Path, origin: str, api_key: str, **options: Any) -> FileGate:
    """The :class:`FileGate` every process of this user shares for ``api_key`` on ``origin``."""
    return FileGate(gate_path(directory, origin, api_key), **options)


def _private_dir(path: Path) -> Path:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as error:
        raise ConfigError(
            f"cannot use {path} for the ordering gate ({error.strerror or error}); set "
            f"{RUNTIME_DIR_ENV} to a private directory"
        ) from None
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            f"{path} is not private to this user (owner uid {info.st_uid}, mode "
            f"{stat.S_IMODE(info.st_mode):o}); another user could block or fake the ordering "
            f"gate: fix it or set {RUNTIME_DIR_ENV} to a private directory"
        )
    return path


def _salt(path: Path) -> bytes:
    """The per-user salt, created once atomically (a link never half-exists)."""
    for _ in range(3):
        with contextlib.suppress(FileNotFoundError):
            text = path.read_text().strip()
            if len(text) == 64:
                return bytes.fromhex(text)
        staging = path.with_name(f".salt-{os.getpid()}-{threading.get_ident()}")
        staging.write_text(secrets.token_hex(32))
        staging.chmod(0o600)
        try:
            os.link(staging, path)
        except FileExistsError:
            pass
        except OSError as error:
            if error.errno != errno.EEXIST:
                raise ConfigError(f"cannot create {path}: {error.strerror}") from None
        finally:
            staging.unlink(missing_ok=True)
    raise ConfigError(f"{path} is not a valid ordering-gate salt; delete it and run again")

"""The ordering gate of a PostgreSQL state: one ordering budget per API key for every process,
on every machine, that uses the state database.

One row of ``ordering_gates`` per key fingerprint (an HMAC-SHA256 of origin and key under a
random salt kept in ``ordering_gate_salt``: the key never reaches the database). A turn holds a
session-level advisory lock on the fingerprint on the gate's own connection (autocommit) for
the whole ordering request: if the holder dies, the server ends its session and the lock with
it. The row keeps the end of the previous request (plus its doubt period) and any ban, each
change committed at once: when the request leaves, the row says the key is busy until the
latest moment it could still be running at Airbus, and a holder cut off before its answer
leaves that mark for the next turn to wait for (a row lock would have rolled it back with the
dead holder's transaction).

Every time comes from the database's clock (``clock_timestamp()``, the real time, not the
transaction's start): the machines of a team disagree on the time, the server is the one clock
they all read. What is waited for locally is a duration the server computed, so a client's
clock never enters the pacing; a ban's end is handed to the caller as ``now + remaining`` on
the caller's own clock, for the same reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from oneatlas_plan._secrets import redact
from oneatlas_plan.api.gate import Sleep, Turn, hand_out, say_busy
from oneatlas_plan.errors import StateError
from oneatlas_plan.state.pg_schema import GATE_LOCK_CLASS

logger = logging.getLogger(__name__)

SALT_TABLE = "ordering_gate_salt"
GATE_TABLE = "ordering_gates"
# How soon the server notices a holder whose machine vanished (its lock is then released).
_KEEPALIVES = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10,
               "tcp_keepalives_count": 3}

Wall = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return redact(lines[0] if lines else type(error).__name__)


def key_fingerprint(salt: bytes, origin: str, api_key: str) -> str:
    """The name of the key's row: reveals nothing, cannot be checked without the salt."""
    return hmac.new(salt, f"{origin}\n{api_key}".encode(), hashlib.sha256).hexdigest()[:32]


def _lock_key(fingerprint: str) -> int:
    """The advisory lock's second key (int4) from the fingerprint; a rare collision between two
    keys of one database only makes them take turns together."""
    value = int(fingerprint[:8], 16)
    return value - (1 << 32) if value >= 1 << 31 else value


class PostgresGate:
    """Exclusive, paced turns on the ordering API of one key, through one row of the database.

    Build it with :func:`open_gate`. The threads of one process share its connection and take
    turns on a thread lock first; processes exclude each other on the advisory lock."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str, fingerprint: str,
                 location: str, *, sleep: Sleep = time.sleep, wall: Wall = _utc_now) -> None:
        self._conn = conn
        self._table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(GATE_TABLE))
        self.fingerprint = fingerprint
        self._lock = (GATE_LOCK_CLASS, _lock_key(fingerprint))
        self._location = location
        self._sleep = sleep
        self._wall = wall
        self._threads = threading.Lock()
        self._lost: str | None = None

    @contextmanager
    def turn(self, interval: float) -> Iterator[Turn]:
        with self._threads:
            try:
                self._query(sql.SQL("SELECT pg_advisory_lock(%s, %s)"), self._lock,
                            "taking a turn at the ordering gate")
                wait, ban_left = self._open(interval)
            except BaseException:
                self._release()  # Ctrl-C may have come as the lock was granted
                raise
            try:
                opened = Turn(banned_until=self._ban_end(ban_left), on_sent=self._mark)
                if opened.banned_until is None and wait > 0:
                    if wait > interval:  # the previous request's answer never came
                        say_busy(wait, self._wall() + timedelta(seconds=wait))
                    self._sleep(wait)
                with hand_out(opened, self._close):
                    yield opened
            finally:
                self._release()

    def banned_until(self) -> datetime | None:
        with self._threads:
            row = self._query(
                sql.SQL("SELECT extract(epoch FROM banned_until - clock_timestamp()) "
                        "FROM {} WHERE fingerprint = %s").format(self._table),
                (self.fingerprint,), "reading the ordering gate")
            return self._ban_end(row[0] if row else None)

    def close(self) -> None:
        with self._threads, contextlib.suppress(psycopg.Error):
            self._conn.close()

    # ------------------------------------------------------------------ one turn
    def _open(self, interval: float) -> tuple[float, Any]:
        """The seconds left until the turn may send, and those left of a ban (the advisory lock
        held). An unknown previous end counts as just now."""
        row = self._query(
            sql.SQL(
                "SELECT extract(epoch FROM coalesce(idle_at, clock_timestamp())"
                " + make_interval(secs => %s::float8) - clock_timestamp()),"
                " extract(epoch FROM banned_until - clock_timestamp())"
                " FROM {} WHERE fingerprint = %s"
            ).format(self._table),
            (interval, self.fingerprint), "taking a turn at the ordering gate")
        if row is None:  # the row is made by open_gate and never deleted by the tool
            raise StateError(f"state {self._location}: the ordering gate row of this API key "
                             "is missing; run the command again")
        return float(row[0]), row[1]

    def _mark(self, allowance: float) -> None:
        """The request is about to leave: committed before it does, the key is busy until
        ``allowance`` from now (what a holder cut off from here leaves behind)."""
        self._query(
            sql.SQL("UPDATE {} SET idle_at = clock_timestamp() + make_interval(secs => %s::float8),"
                    " updated_at = clock_timestamp() WHERE fingerprint = %s").format(self._table),
            (allowance, self.fingerprint), "recording the ordering request about to leave",
            fetch=False)

    def _close(self, turn: Turn) -> None:
        """Record the turn (a cut-off one keeps its in-flight mark). A failure here must not
        hide the answer the holder got: it is logged, and the next turn refuses."""
        if not (turn.was_sent or turn.ban_seconds > 0):
            return
        try:
            self._conn.execute(
                sql.SQL(
                    "UPDATE {} SET"
                    " idle_at = CASE"
                    "   WHEN %(sent)s AND %(cut)s THEN greatest(idle_at, clock_timestamp()"
                    "        + make_interval(secs => %(doubt)s::float8))"
                    "   WHEN %(sent)s"
                    "   THEN clock_timestamp() + make_interval(secs => %(doubt)s::float8)"
                    "   ELSE idle_at END,"
                    " banned_until = CASE WHEN %(ban)s::float8 > 0"
                    "   THEN greatest(banned_until, clock_timestamp()"
                    "                 + make_interval(secs => %(ban)s::float8))"
                    "   ELSE banned_until END,"
                    " updated_at = clock_timestamp()"
                    " WHERE fingerprint = %(fp)s"
                ).format(self._table),
                {"sent": turn.was_sent, "cut": turn.cut_off, "doubt": turn.doubt_seconds,
                 "ban": turn.ban_seconds, "fp": self.fingerprint},
            )
        except psycopg.Error as error:
            self._lose(f"the ordering gate in the state database {self._location} failed "
                       f"({_first_line(error)}) after an ordering request; nothing more is sent "
                       "by this run: run the command again")

    def _release(self) -> None:
        """Unlock; if that fails the session may still hold the lock: end it (the server then
        releases every lock of the session)."""
        if self._conn.closed:
            return
        try:
            self._conn.execute(sql.SQL("SELECT pg_advisory_unlock(%s, %s)"), self._lock)
        except psycopg.Error as error:
            self._lose(f"releasing the ordering gate in the state database {self._location} "
                       f"failed ({_first_line(error)}); nothing more is sent by this run: run "
                       "the command again")
            with contextlib.suppress(psycopg.Error):
                self._conn.close()

    def _lose(self, message: str) -> None:
        if self._lost is None:
            self._lost = message
            logger.warning("%s", message)

    def _query(self, query: sql.SQL | sql.Composed, params: Any, doing: str, *,
               fetch: bool = True) -> Any:
        if self._lost is not None:
            raise StateError(self._lost)
        try:
            cursor = self._conn.execute(query, params)
            return cursor.fetchone() if fetch else None
        except psycopg.Error as error:
            raise StateError(
                f"state {self._location}: {doing} failed ({_first_line(error)}); nothing was "
                "sent"
            ) from None

    def _ban_end(self, seconds_left: Any) -> datetime | None:
        if seconds_left is None or float(seconds_left) <= 0:
            return None
        return self._wall() + timedelta(seconds=float(seconds_left))


def open_gate(conninfo: str, schema: str, location: str, origin: str, api_key: str, *,
              connect_timeout: int = 10, sleep: Sleep = time.sleep) -> PostgresGate:
    """Connect the gate (its own connection, never the state's writer), make the salt and the
    key's row if missing; the schema must already be migrated."""
    try:
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout,
                               application_name=f"oneatlas-plan gate {os.getpid()}")
    except psycopg.Error as error:
        raise StateError(
            f"cannot connect the ordering gate to the state database {location}: "
            f"{_first_line(error)}"
        ) from None
    try:
        with conn.transaction():
            fingerprint = key_fingerprint(_salt(conn, schema), origin, api_key)
            conn.execute(
                sql.SQL("INSERT INTO {}.{} (fingerprint) VALUES (%s) ON CONFLICT DO NOTHING"
                        ).format(sql.Identifier(schema), sql.Identifier(GATE_TABLE)),
                (fingerprint,),
            )
        for name, value in _KEEPALIVES.items():  # ignored on a Unix socket
            conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    except psycopg.Error as error:
        with contextlib.suppress(psycopg.Error):
            conn.close()
        raise StateError(
            f"state {location}: setting up the ordering gate failed: {_first_line(error)}"
        ) from None
    return PostgresGate(conn, schema, fingerprint, location, sleep=sleep)


def _salt(conn: psycopg.Connection[Any], schema: str) -> bytes:
    table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(SALT_TABLE))
    conn.execute(sql.SQL("INSERT INTO {} (salt) VALUES (%s) ON CONFLICT DO NOTHING").format(table),
                 (secrets.token_bytes(32),))
    row = conn.execute(sql.SQL("SELECT salt FROM {}").format(table)).fetchone()
    if row is None:  # inserted or already there, in this transaction
        raise StateError(f"the {schema} schema lost its gate salt (SELECT found no row)")
    return bytes(row[0])

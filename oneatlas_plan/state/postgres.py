"""The PostgreSQL state backend: ``--state postgresql://user@host/db?schema=NAME``.

The same promises as the file, from the database's own guarantees:

* one row per resource and one per order record (``resources``, ``orders``), one per
  retired order (``retired_orders``: a resource leaves and its orders are retired in the
  same transaction), and one ``state_meta`` row holding the lineage and serial; every
  change is its own transaction, committed before the call returns, that re-checks the
  lineage/serial it read (so a change made behind this run's back is refused, never
  overwritten) and bumps the serial;
* readers take a REPEATABLE READ, READ ONLY snapshot and never wait for a writer;
* the run lock is a session-level advisory lock on the connection that writes: if the
  process dies, the server ends the session and the lock with it. ``lock_holder`` names the
  holder for messages and `state unlock` (which ends a hung holder's session);
* a lost connection is never silently replaced (the lock went with it): the run stops, and
  what was committed stays (a pending record is reconciled by the next run).

The credentials come from the URL, ``PGPASSWORD``, ``~/.pgpass`` or a service file (libpq);
a password given in the URL is registered as a secret (masked in every message) and never
shown in :attr:`PostgresBackend.location`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from oneatlas_plan import _canonical, _testhooks
from oneatlas_plan._bulk import bulk
from oneatlas_plan._closing import Closing
from oneatlas_plan._secrets import MASK, redact, register_secret
from oneatlas_plan.errors import StateError, StateLockedError
from oneatlas_plan.state.lock import (
    FIRST_DELAY,
    MAX_DELAY,
    LockInfo,
    _process_start,
    current_user,
    is_alive,
)
from oneatlas_plan.state.model import (
    REMOVED,
    STATE_VERSION,
    ResourceRecord,
    RetiredOrder,
    State,
    retire,
    updated_record,
    utc_iso,
    utc_now,
)
from oneatlas_plan.state.pg_gate import PostgresGate, open_gate
from oneatlas_plan.state.pg_schema import (
    BOOKKEEPING,
    LATEST,
    MIGRATION_LOCK_CLASS,
    MIGRATIONS,
    STATE_LOCK_CLASS,
)

logger = logging.getLogger(__name__)

DEFAULT_SCHEMA = "oneatlas_plan"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_TOOL_PARAMETERS = ("schema",)


@dataclass(frozen=True)
class DatabaseUrl:
    """A state URL split into what libpq gets and what the tool keeps."""

    conninfo: str  # the URL without the tool's own parameters (may hold a password)
    schema: str
    display: str  # the URL with any password masked

    @classmethod
    def parse(cls, text: str) -> DatabaseUrl:
        parts = urlsplit(text)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = next((v for k, v in query if k == "schema"), DEFAULT_SCHEMA)
        secrets = [p for p in [parts.password, *(v for k, v in query if k == "password")] if p]
        for secret in secrets:
            register_secret(secret)
        kept = [(k, v) for k, v in query if k not in _TOOL_PARAMETERS]
        conninfo = urlunsplit(parts._replace(query=urlencode(kept)))
        display = text
        for secret in secrets:
            display = display.replace(secret, MASK)
        if not _SCHEMA_NAME.match(schema):
            raise StateError(
                f"state {display}: schema {schema!r} is not a plain SQL name "
                "(letters, digits and _, not starting with a digit, at most 63)"
            )
        return cls(conninfo=conninfo, schema=schema, display=display)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return redact(text[0] if text else type(error).__name__)


class PostgresBackend(Closing):
    """One state in one schema of one PostgreSQL database; one connection, made on first use."""

    def __init__(
        self,
        url: DatabaseUrl,
        *,
        connect_timeout: int = 10,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.url = url
        self._connect_timeout = connect_timeout
        self._sleep = sleep
        self._clock = clock
        self._conn: psycopg.Connection[Any] | None = None
        self._lost: str | None = None
        self._migrated = False
        self._mutex = threading.RLock()
        self.lock_key = zlib.crc32(url.schema.encode("utf-8")) & 0x7FFFFFFF
        self.held: LockInfo | None = None

    @classmethod
    def from_url(cls, text: str) -> PostgresBackend:
        return cls(DatabaseUrl.parse(text))

    @property
    def location(self) -> str:
        return self.url.display

    @property
    def local_dir(self) -> Path:
        return Path.cwd()

    def table(self, name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.url.schema), sql.Identifier(name))

    # ------------------------------------------------------------------ the connection
    def connection(self) -> psycopg.Connection[Any]:
        with self._mutex:
            if self._lost is not None:
                raise StateError(self._lost)
            if self._conn is None:
                try:
                    self._conn = psycopg.connect(
                        self.url.conninfo,
                        autocommit=True,
                        application_name="oneatlas-plan",
                        connect_timeout=self._connect_timeout,
                    )
                except psycopg.Error as error:
                    raise StateError(
                        f"cannot connect to the state database {self.location}: "
                        f"{_first_line(error)}"
                    ) from None
            return self._conn

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Turn a database error into a StateError; a lost connection stays lost."""
        try:
            yield
        except psycopg.OperationalError as error:
            if self._conn is not None and self._conn.broken:
                self._lost = (
                    f"lost the connection to the state database {self.location} while "
                    f"{doing} ({_first_line(error)}); this run stopped: what was committed is "
                    "kept, run the command again (an unsettled order is reconciled first)"
                )
                self.held = None  # the server released the session's advisory lock
                raise StateError(self._lost) from None
            raise StateError(
                f"state {self.location}: {doing} failed: {_first_line(error)}"
            ) from None
        except psycopg.Error as error:
            raise StateError(
                f"state {self.location}: {doing} failed: {_first_line(error)}"
            ) from None

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                with contextlib.suppress(psycopg.Error):
                    self._conn.close()
                self._conn = None


    # ------------------------------------------------------------------ migrations
    def schema_version(self, cursor: psycopg.Cursor[Any]) -> int:
        """0 when the tool never ran here; refuses a newer version."""
        cursor.execute("SELECT to_regclass(%s)", (f'"{self.url.schema}".schema_migrations',))
        row = cursor.fetchone()
        if row is None or row[0] is None:
            return 0
        cursor.execute(
            sql.SQL("SELECT coalesce(max(version), 0) FROM {}").format(
                self.table("schema_migrations")
            )
        )
        version = int(cursor.fetchone()[0])  # type: ignore[index]
        if version > LATEST:
            raise StateError(
                f"state {self.location} was migrated by a newer oneatlas-plan (schema version "
                f"{version}, this one knows up to {LATEST}); upgrade oneatlas-plan"
            )
        return version

    def migrate(self) -> list[str]:
        done: list[str] = []
        conn = self.connection()
        with self.errors("migrating the schema"), conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", (MIGRATION_LOCK_CLASS, self.lock_key)
            )
            cur.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.url.schema))
            )
            cur.execute(sql.SQL(BOOKKEEPING).format(schema=sql.Identifier(self.url.schema)))
            current = self.schema_version(cur)
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                cur.execute(sql.SQL(migration.sql).format(schema=sql.Identifier(self.url.schema)))
                cur.execute(
                    sql.SQL("INSERT INTO {} (version, description) VALUES (%s, %s)").format(
                        self.table("schema_migrations")
                    ),
                    (migration.version, migration.description),
                )
                done.append(f"applied migration {migration.version}: {migration.description}")
        self._migrated = True
        if not done:
            done.append(f"schema {self.url.schema} is up to date (version {LATEST})")
        return done

    def ensure_schema(self) -> None:
        if not self._migrated:
            self.migrate()

    # ------------------------------------------------------------------ stores and locks
    def store(self) -> PostgresStore:
        return PostgresStore(self)

    def lock(self) -> PostgresLock:
        return PostgresLock(self)

    def ordering_gate(self, origin: str, api_key: str, runtime_dir: Path) -> PostgresGate:
        """The key's row in this database, on a connection of its own (a turn is a
        transaction held for the whole ordering request: never the writer's connection)."""
        self.ensure_schema()
        return open_gate(self.url.conninfo, self.url.schema, self.location, origin, api_key,
                         connect_timeout=self._connect_timeout)

    def holder(self) -> tuple[int, LockInfo | None] | None:
        """(database session pid, what it recorded) of the run lock's holder, or None."""
        conn = self.connection()
        with self.errors("reading the lock"), conn.cursor() as cur:
            cur.execute(
                """SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
                   AND classid = %s AND objid = %s AND objsubid = 2
                   AND database = (SELECT oid FROM pg_database
                                   WHERE datname = current_database())""",
                (STATE_LOCK_CLASS, self.lock_key),
            )
            row = cur.fetchone()
            if row is None:
                return None
            pid = int(row[0])
            if self.schema_version(cur) == 0:
                return pid, None
            cur.execute(
                sql.SQL(
                    "SELECT lock_id, holder_user, host, pid, created_at, process_start "
                    "FROM {} WHERE backend_pid = %s"
                ).format(self.table("lock_holder")),
                (pid,),
            )
            info = cur.fetchone()
        if info is None:
            return pid, None
        return pid, LockInfo(
            lock_id=info[0],
            user=info[1],
            host=info[2],
            pid=int(info[3]),
            created_at=info[4],
            process_start=info[5],
        )

    def break_lock(self, lock_id: str) -> LockInfo:
        found = self.holder()
        if found is None:
            raise StateError(f"state {self.location} is not locked")
        session, info = found
        if info is None or info.lock_id != lock_id:
            held_by = info.describe() if info else f"database session {session}"
            raise StateError(
                f"lock id {lock_id} does not match the lock of state {self.location}, held "
                f"by {held_by}"
            )
        if info.host == socket.gethostname() and is_alive(info.pid, info.process_start):
            raise StateError(
                f"refusing to unlock state {self.location}: it is held by {info.describe()}, "
                "a process still running on this host; wait for it to finish or stop it first"
            )
        conn = self.connection()
        with self.errors("ending the holder's database session"), conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (session,))
            ended = cur.fetchone()
            if not ended or not ended[0]:
                raise StateError(
                    f"could not end database session {session} holding state {self.location}"
                )
            for _ in range(100):
                if self.holder() is None:
                    break
                self._sleep(0.05)
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE lock_id = %s").format(self.table("lock_holder")),
                (lock_id,),
            )
        return info


class PostgresLock:
    """The run lock: a session-level advisory lock on the backend's connection."""

    def __init__(self, backend: PostgresBackend) -> None:
        self._backend = backend
        self.info: LockInfo | None = None

    def acquire(
        self, timeout: float = 0.0, on_stale: Callable[[LockInfo], None] | None = None
    ) -> LockInfo:
        backend = self._backend
        if backend.held is not None:
            raise StateError(f"state {backend.location}: lock already held by this process")
        backend.ensure_schema()
        conn = backend.connection()
        waited, delay = 0.0, FIRST_DELAY
        while True:
            with backend.errors("taking the lock"), conn.cursor() as cur:
                cur.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (STATE_LOCK_CLASS, backend.lock_key)
                )
                got = cur.fetchone()
                if got is not None and got[0]:
                    self.info = self._record_holder(cur)
                    backend.held = self.info
                    return self.info
            if waited >= timeout:
                raise StateLockedError(self._locked_message())
            if waited == 0:
                _testhooks.mark("lock-wait")
            pause = min(delay, timeout - waited)
            backend._sleep(pause)
            waited += pause
            delay = min(delay * 2, MAX_DELAY)

    def _record_holder(self, cur: psycopg.Cursor[Any]) -> LockInfo:
        info = LockInfo(
            lock_id=str(uuid.uuid4()),
            user=current_user(),
            host=socket.gethostname(),
            pid=os.getpid(),
            created_at=utc_iso(self._backend._clock()),
            process_start=_process_start(os.getpid()),
        )
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (lock_id, holder_user, host, pid, process_start, created_at, "
                "backend_pid) VALUES (%s, %s, %s, %s, %s, %s, pg_backend_pid()) "
                "ON CONFLICT (singleton) DO UPDATE SET lock_id = EXCLUDED.lock_id, "
                "holder_user = EXCLUDED.holder_user, host = EXCLUDED.host, pid = EXCLUDED.pid, "
                "process_start = EXCLUDED.process_start, created_at = EXCLUDED.created_at, "
                "backend_pid = EXCLUDED.backend_pid"
            ).format(self._backend.table("lock_holder")),
            (info.lock_id, info.user, info.host, info.pid, info.process_start, info.created_at),
        )
        return info

    def _locked_message(self) -> str:
        location = self._backend.location
        found = self._backend.holder()
        if found is None:
            return f"state {location} is locked (the holder just released it; try again)"
        session, info = found
        if info is None:
            return f"state {location} is locked by database session {session} (starting)"
        return (
            f"state {location} is locked by {info.describe()}; wait, or if that run is hung, "
            f"run: oneatlas-plan state unlock {info.lock_id} --state '{location}'"
        )

    def release(self) -> None:
        info, self.info = self.info, None
        backend = self._backend
        if info is None or backend.held is None:
            return  # never taken, or gone with a lost connection
        backend.held = None
        try:
            conn = backend.connection()
            with backend.errors("releasing the lock"), conn.cursor() as cur:
                cur.execute(
                    sql.SQL("DELETE FROM {} WHERE lock_id = %s").format(
                        backend.table("lock_holder")
                    ),
                    (info.lock_id,),
                )
                cur.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", (STATE_LOCK_CLASS, backend.lock_key)
                )
        except StateError as error:
            logger.warning("%s (the database releases the lock when the session ends)", error)

    def __enter__(self) -> PostgresLock:
        if self.info is None:
            self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class PostgresStore(Closing):
    """Read and change the state held by a :class:`PostgresBackend`."""

    def __init__(self, backend: PostgresBackend) -> None:
        self._backend = backend
        self._mutex = threading.RLock()
        self._state: State | None = None
        self._data: str | None = None  # the state last read, as JSON

    @property
    def location(self) -> str:
        return self._backend.location

    def _t(self, name: str) -> sql.Composed:
        return self._backend.table(name)

    # ----------------------------------------------------------------------------- reading
    def exists(self) -> bool:
        conn = self._backend.connection()
        with self._backend.errors("reading the state"), conn.transaction(), conn.cursor() as cur:
            if self._backend.schema_version(cur) == 0:
                return False
            cur.execute(sql.SQL("SELECT 1 FROM {}").format(self._t("state_meta")))
            return cur.fetchone() is not None

    def load(self) -> State:
        """A consistent snapshot (REPEATABLE READ, READ ONLY): never waits for a writer."""
        conn = self._backend.connection()
        with (
            self._mutex,
            self._backend.errors("reading the state"),
            conn.transaction(),
            conn.cursor() as cur,
        ):
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            data = self._read(cur)
        state = self._validate(data)
        # This store's own copy is made only if it is used (a reader never does): validating
        # twice from the rows is cheaper than a deep copy of 10,000 records.
        self._state, self._data = None, data
        return state

    def _read(self, cur: psycopg.Cursor[Any]) -> str:
        """The whole state as one JSON text, assembled by the server."""
        version = self._backend.schema_version(cur)
        if version == 0:
            return State.new().to_json()
        if version < LATEST:
            raise StateError(
                f"state {self.location} has schema version {version}, this oneatlas-plan "
                f"needs {LATEST}: run `oneatlas-plan state migrate --state '{self.location}'`"
            )
        cur.execute(
            sql.SQL(
                """SELECT json_build_object(
                     'version', m.version, 'lineage', m.lineage, 'serial', m.serial,
                     'resources', coalesce((
                       SELECT json_object_agg(r.address, json_build_object(
                         'address', r.address, 'config_digest', r.config_digest,
                         'spec_file', r.spec_file,
                         'orders', coalesce((
                           SELECT json_agg(o.record ORDER BY o.position) FROM {orders} o
                           WHERE o.address = r.address), '[]'::json)))
                       FROM {resources} r), '{{}}'::json),
                     'retired', coalesce((
                       SELECT json_agg(x.record ORDER BY x.position) FROM {retired} x),
                       '[]'::json))::text
                   FROM {meta} m"""
            ).format(
                orders=self._t("orders"),
                resources=self._t("resources"),
                meta=self._t("state_meta"),
                retired=self._t("retired_orders"),
            )
        )
        row = cur.fetchone()
        return State.new().to_json() if row is None else str(row[0])

    def _validate(self, data: str) -> State:
        try:
            with bulk():
                return State.model_validate_json(data)
        except ValidationError as error:
            older = _older_format(data)
            if older is not None:
                return older
            from oneatlas_plan.state.store import format_validation_error

            raise StateError(
                f"state {self.location} holds an invalid record: {format_validation_error(error)}"
            ) from None

    def state(self) -> State:
        with self._mutex, bulk():
            return self._loaded().model_copy(deep=True)

    def view(self) -> State:
        with self._mutex:
            return self._loaded()

    def get(self, address: str) -> ResourceRecord | None:
        with self._mutex:
            record = self._loaded().resources.get(address)
            return None if record is None else record.model_copy(deep=True)

    def _loaded(self) -> State:
        if self._state is None:
            if self._data is None:
                self.load()
            if self._data is None:
                raise RuntimeError("the state was not loaded")
            self._state = self._validate(self._data)
        return self._state

    # ----------------------------------------------------------------------------- writing
    @contextlib.contextmanager
    def _change(self, doing: str) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction that first checks the state is still the one this store read."""
        self._backend.ensure_schema()
        state = self._loaded()
        conn = self._backend.connection()
        with self._backend.errors(doing), conn.transaction(), conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT lineage, serial FROM {} FOR UPDATE").format(self._t("state_meta"))
            )
            row = cur.fetchone()
            if row is None and state.serial == 0:
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {} (version, lineage, serial) VALUES (%s, %s, 0) "
                        "ON CONFLICT DO NOTHING RETURNING lineage"
                    ).format(self._t("state_meta")),
                    (STATE_VERSION, state.lineage),
                )
                row = (state.lineage, 0) if cur.fetchone() else None
            if row is None or (row[0], int(row[1])) != (state.lineage, state.serial):
                found = "no state" if row is None else f"lineage {row[0]} serial {row[1]}"
                raise StateError(
                    f"state {self.location} was changed by someone else during this run "
                    f"(expected lineage {state.lineage} serial {state.serial}, found {found}); "
                    "nothing was written: run the command again"
                )
            yield cur
            cur.execute(
                sql.SQL("UPDATE {} SET serial = serial + 1, updated_at = now()").format(
                    self._t("state_meta")
                )
            )

    def record(self, record: ResourceRecord) -> ResourceRecord:
        stored = ResourceRecord.model_validate(record.model_dump())
        with self._mutex:
            state = self._loaded()
            previous = state.resources.get(stored.address)
            if previous == stored:
                return stored
            with self._change(f"recording {stored.address}") as cur:
                self._write_resource(cur, stored, previous)
            state.resources[stored.address] = stored.model_copy(deep=True)
            state.serial += 1
        return stored.model_copy(deep=True)

    def record_all(self, records: Sequence[ResourceRecord]) -> None:
        stored = [ResourceRecord.model_validate(r.model_dump()) for r in records]
        with self._mutex:
            state = self._loaded()
            changed = [r for r in stored if state.resources.get(r.address) != r]
            if not changed:
                return
            with self._change(f"recording {', '.join(r.address for r in changed)}") as cur:
                for record in changed:
                    self._write_resource(cur, record, state.resources.get(record.address))
            for record in changed:
                state.resources[record.address] = record.model_copy(deep=True)
            state.serial += 1

    def _write_resource(
        self, cur: psycopg.Cursor[Any], record: ResourceRecord, previous: ResourceRecord | None
    ) -> None:
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (address, config_digest, spec_file, status) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (address) DO UPDATE SET "
                "config_digest = EXCLUDED.config_digest, spec_file = EXCLUDED.spec_file, "
                "status = EXCLUDED.status"
            ).format(self._t("resources")),
            (record.address, record.config_digest, record.spec_file, record.status),
        )
        before = previous.orders if previous is not None else []
        rows = [
            (
                record.address,
                position,
                order.order_key,
                order.status,
                Jsonb(order.model_dump(mode="json")),
            )
            for position, order in enumerate(record.orders)
            if position >= len(before) or before[position] != order
        ]
        if rows:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {} (address, position, order_key, status, record) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (address, position) DO UPDATE SET "
                    "order_key = EXCLUDED.order_key, status = EXCLUDED.status, "
                    "record = EXCLUDED.record"
                ).format(self._t("orders")),
                rows,
            )
        if len(before) > len(record.orders):
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE address = %s AND position >= %s").format(
                    self._t("orders")
                ),
                (record.address, len(record.orders)),
            )

    def update(
        self, address: str, fn: Callable[[ResourceRecord], ResourceRecord]
    ) -> ResourceRecord:
        with self._mutex:
            return self.record(updated_record(self.get(address), address, fn, str(self.location)))

    def remove(self, address: str, reason: str = REMOVED) -> ResourceRecord:
        with self._mutex:
            current = self.get(address)
            if current is None:
                raise StateError(f"no resource {address!r} in state {self.location}")
            retired = retire(current, utc_iso(self._backend._clock()), reason)
            state = self._loaded()
            first = len(state.retired)
            with self._change(f"removing {address}") as cur:
                cur.execute(
                    sql.SQL("DELETE FROM {} WHERE address = %s").format(self._t("resources")),
                    (address,),
                )
                if retired:
                    cur.executemany(
                        sql.SQL(
                            "INSERT INTO {} (position, address, order_key, status, record) "
                            "VALUES (%s, %s, %s, %s, %s)"
                        ).format(self._t("retired_orders")),
                        [_retired_row(first + n, entry) for n, entry in enumerate(retired)],
                    )
            state.resources.pop(address, None)
            state.retired.extend(retired)
            state.serial += 1
            return current

    def record_retired(self, index: int, entry: RetiredOrder) -> None:
        stored = RetiredOrder.model_validate(entry.model_dump())
        with self._mutex:
            state = self._loaded()
            if not 0 <= index < len(state.retired):
                raise StateError(f"no retired order #{index} in state {self.location}")
            if state.retired[index] == stored:
                return
            with self._change(f"settling retired order #{index}") as cur:
                cur.execute(
                    sql.SQL(
                        "UPDATE {} SET address = %s, order_key = %s, status = %s, record = %s "
                        "WHERE position = %s"
                    ).format(self._t("retired_orders")),
                    (*_retired_row(index, stored)[1:], index),
                )
            state.retired[index] = stored
            state.serial += 1

    def replace(self, state: State) -> None:
        """Replace everything by ``state`` in one transaction (lineage and serial included)."""
        self._backend.ensure_schema()
        conn = self._backend.connection()
        with (
            self._mutex,
            self._backend.errors("replacing the state"),
            conn.transaction(),
            conn.cursor() as cur,
        ):
            cur.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self._t("state_meta")))
            for table in ("retired_orders", "orders", "resources", "state_meta"):
                cur.execute(sql.SQL("DELETE FROM {}").format(self._t(table)))
            cur.execute(
                sql.SQL("INSERT INTO {} (version, lineage, serial) VALUES (%s, %s, %s)").format(
                    self._t("state_meta")
                ),
                (state.version, state.lineage, state.serial),
            )
            with cur.copy(
                sql.SQL("COPY {} (address, config_digest, spec_file, status) FROM STDIN").format(
                    self._t("resources")
                )
            ) as copy:
                for record in state.resources.values():
                    copy.write_row(
                        (record.address, record.config_digest, record.spec_file, record.status)
                    )
            with cur.copy(
                sql.SQL("COPY {} (address, position, order_key, status, record) FROM STDIN").format(
                    self._t("orders")
                )
            ) as copy:
                for record in state.resources.values():
                    for position, order in enumerate(record.orders):
                        copy.write_row(
                            (
                                record.address,
                                position,
                                order.order_key,
                                order.status,
                                _canonical.compact(order.model_dump(mode="json")),
                            )
                        )
            with cur.copy(
                sql.SQL(
                    "COPY {} (position, address, order_key, status, record) FROM STDIN"
                ).format(self._t("retired_orders"))
            ) as copy:
                for position, entry in enumerate(state.retired):
                    row = _retired_row(position, entry)
                    copy.write_row((*row[:4], _canonical.compact(entry.model_dump(mode="json"))))
        self._state = state.model_copy(deep=True)

    def checkpoint(self) -> None:
        """Nothing to fold: every change is committed when made."""

    def close(self) -> None:
        """The connection belongs to the backend (it may hold the run lock)."""



def _retired_row(position: int, entry: RetiredOrder) -> tuple[Any, ...]:
    return (
        position,
        entry.address,
        entry.order.order_key,
        entry.order.status,
        Jsonb(entry.model_dump(mode="json")),
    )


def _older_format(data: str) -> State | None:
    """A state whose ``state_meta.version`` is an older state format (the rows are the same
    records): migrated in memory, as the file backend does; None for anything else."""
    import json

    from oneatlas_plan.state.migrations import migrate

    parsed = json.loads(data)
    version = parsed.get("version") if isinstance(parsed, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version >= STATE_VERSION:
        return None
    try:
        return State.model_validate(migrate(parsed))
    except (StateError, ValidationError):
        return None

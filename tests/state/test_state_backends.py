"""The state interface on both backends, and what only PostgreSQL promises (real server)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from state_factories import make_order, make_record

from oneatlas_plan._secrets import redact
from oneatlas_plan.errors import StateError, StateLockedError
from oneatlas_plan.state.backends import StateBackend, open_backend
from oneatlas_plan.state.model import STATE_VERSION
from oneatlas_plan.state.postgres import PostgresBackend
from oneatlas_plan.state.transfer import copy_state
from tests.pg_server import PostgresServer

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys, time
from oneatlas_plan.state.backends import open_backend
backend = open_backend(sys.argv[1])
print(backend.lock().acquire(0).lock_id, flush=True)
time.sleep(120)
"""


def _conninfo(url: str) -> str:
    return url.split("?")[0]


@pytest.fixture
def holder(state_location: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, state_location],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    lock_id = proc.stdout.readline().strip()
    yield proc, lock_id
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    proc.stdout.close()


# ------------------------------------------------------------------ both backends


def test_a_new_state_is_empty_until_the_first_change(backend: StateBackend) -> None:
    store = backend.store()
    assert not store.exists()
    assert store.load().serial == 0
    store.record(make_record("a"))
    assert store.exists()


def test_a_second_run_times_out_naming_the_holder(
    backend: StateBackend, state_location: str
) -> None:
    lock = backend.lock()
    info = lock.acquire(0)
    with open_backend(state_location) as other:
        with pytest.raises(StateLockedError) as raised:
            other.lock().acquire(0.2)
        message = str(raised.value)
        assert f"pid {os.getpid()}" in message
        assert f"state unlock {info.lock_id}" in message
        lock.release()
        other.lock().acquire(0)


def test_a_killed_holder_does_not_block_the_next_run(
    state_location: str, holder: tuple[subprocess.Popen[str], str]
) -> None:
    proc, _ = holder
    with open_backend(state_location) as backend:
        with pytest.raises(StateLockedError, match=f"pid {proc.pid}"):
            backend.lock().acquire(0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        # the file backend takes a dead local holder's lock over; PostgreSQL ended its session
        backend.lock().acquire(5)


def test_unlock_refuses_a_live_holder_on_this_host(
    state_location: str, holder: tuple[subprocess.Popen[str], str]
) -> None:
    _, lock_id = holder
    with open_backend(state_location) as backend:
        with pytest.raises(StateError, match="still running on this host"):
            backend.break_lock(lock_id)
        with pytest.raises(StateError, match="does not match"):
            backend.break_lock("00000000-0000-4000-8000-000000000000")


def test_push_then_pull_round_trips_and_refuses_a_newer_target(
    tmp_path: Path, state_location: str
) -> None:
    source = open_backend(tmp_path / "local.json")
    with source.store() as store:
        store.record(make_record("a"))
        store.record(make_record("b", make_order("k2", "pending")))
        store.record(make_record("r"))
        store.remove("r")  # its order is retired: copied too
    with open_backend(state_location) as shared:
        copied = copy_state(source, shared, lock_timeout=0)
        assert (copied.serial, copied.resources, copied.unchanged) == (4, 2, False)
        assert shared.store().load() == source.store().load()
        assert [e.address for e in shared.store().load().retired] == ["r"]
        assert copy_state(source, shared, lock_timeout=0).unchanged
        shared.store().record(make_record("c"))  # the shared state moves on
        with pytest.raises(StateError, match="it is newer"):
            copy_state(source, shared, lock_timeout=0)
        back = open_backend(tmp_path / "back.json")
        copy_state(shared, back, lock_timeout=0)
        assert back.store().load() == shared.store().load()
        other = open_backend(tmp_path / "other.json")
        other.store().record(make_record("z"))
        with pytest.raises(StateError, match="another state"):
            copy_state(other, shared, lock_timeout=0)


# ------------------------------------------------------------------ PostgreSQL only


def test_rows_per_resource_and_per_order(pg_url: str) -> None:
    with open_backend(pg_url) as backend:
        store = backend.store()
        store.record(make_record("a", make_order("k1", "rejected"), make_order("k2")))
        store.record(make_record("b"))
        assert isinstance(backend, PostgresBackend)
        with psycopg.connect(_conninfo(pg_url)) as conn:
            schema = backend.url.schema
            resources = conn.execute(f'SELECT count(*) FROM "{schema}".resources').fetchone()
            orders = conn.execute(
                f'SELECT address, position, status FROM "{schema}".orders ORDER BY 1, 2'
            ).fetchall()
            serial = conn.execute(f'SELECT serial FROM "{schema}".state_meta').fetchone()
        assert resources == (2,)
        assert orders == [("a", 0, "rejected"), ("a", 1, "ordered"), ("b", 0, "ordered")]
        assert serial == (2,)


def test_a_database_state_of_an_older_format_is_read_and_written(pg_url: str) -> None:
    """State format v3 only added optional order fields: a database made by v2 still reads."""
    with open_backend(pg_url) as backend:
        backend.store().record(make_record("a"))
        schema = backend.url.schema  # type: ignore[attr-defined]
    with psycopg.connect(_conninfo(pg_url)) as conn:
        conn.execute(f'UPDATE "{schema}".state_meta SET version = 2')
    with open_backend(pg_url) as backend:
        store = backend.store()
        state = store.load()
        assert state.version == STATE_VERSION and set(state.resources) == {"a"}
        store.record(make_record("b"))
        assert set(backend.store().load().resources) == {"a", "b"}


def test_a_database_of_the_previous_schema_migrates_and_then_keeps_retired_spend(
    pg_url: str, postgres_server: PostgresServer
) -> None:
    """Schema 2 (state format 3, no retired_orders table): readers are told to migrate; the
    migration adds the table, moves the format to 4 and keeps every record."""
    with open_backend(pg_url) as backend:
        backend.store().record(make_record("a", make_order("k1", amount=Decimal(250),
                                                                currency="EUR")))
        schema = backend.url.schema  # type: ignore[attr-defined]
    postgres_server.sql(
        f'DROP TABLE "{schema}".retired_orders; '
        f'DELETE FROM "{schema}".schema_migrations WHERE version = 3; '
        f'UPDATE "{schema}".state_meta SET version = 3'
    )
    with open_backend(pg_url) as backend:
        with pytest.raises(StateError, match=r"has schema version 2.*state migrate"):
            backend.store().load()
        assert backend.migrate() == [
            "applied migration 3: retired orders: the orders of resources that left the "
            "state (state format 4)"
        ]
        store = backend.store()
        state = store.load()
        assert (state.version, set(state.resources), state.retired) == (4, {"a"}, [])
        store.remove("a", "gone")
    with open_backend(pg_url) as backend:
        state = backend.store().load()
        assert state.resources == {}
        [entry] = state.retired
        assert (entry.address, entry.reason, entry.order.amount) == ("a", "gone", Decimal(250))


def test_readers_never_wait_for_a_writer(pg_url: str) -> None:
    with open_backend(pg_url) as backend:
        backend.store().record(make_record("a"))
        schema = backend.url.schema  # type: ignore[attr-defined]
    with psycopg.connect(_conninfo(pg_url)) as writer:
        writer.execute(f'SELECT * FROM "{schema}".state_meta FOR UPDATE')
        writer.execute(f"UPDATE \"{schema}\".resources SET spec_file = 'x'")  # uncommitted
        seen: list[object] = []

        def read() -> None:
            with open_backend(pg_url) as reading:
                seen.append(reading.store().load())

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "the reader waited for the writer's transaction"
        writer.rollback()
    assert seen[0].resources["a"].spec_file == "specs/a.yaml"  # type: ignore[attr-defined]


def test_a_change_behind_the_stores_back_is_refused(pg_url: str) -> None:
    with open_backend(pg_url) as first, open_backend(pg_url) as second:
        mine = first.store()
        mine.record(make_record("a"))
        second.store().record(make_record("b"))
        with pytest.raises(StateError, match="changed by someone else"):
            mine.record(make_record("c"))
        assert set(second.store().load().resources) == {"a", "b"}


def test_a_lost_connection_stops_the_run_and_frees_the_lock(pg_url: str) -> None:
    with open_backend(pg_url) as backend:
        backend.lock().acquire(0)
        store = backend.store()
        store.record(make_record("a", make_order("k1", "pending")))
        session = backend.holder()[0]  # type: ignore[attr-defined]
        with psycopg.connect(_conninfo(pg_url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (session,))
        with pytest.raises(StateError, match="lost the connection") as raised:
            store.update("a", lambda r: r.model_copy(update={"config_digest": "new"}))
        assert "run the command again" in str(raised.value)
        with pytest.raises(StateError, match="lost the connection"):
            store.record(make_record("b"))  # never silently reconnected (the lock is gone)
    with open_backend(pg_url) as again:
        again.lock().acquire(0)
        assert again.store().load().resources["a"].status == "pending"


def test_unlock_ends_the_session_of_a_hung_holder_elsewhere(
    pg_url: str, postgres_server: PostgresServer
) -> None:
    with open_backend(pg_url) as hung:
        info = hung.lock().acquire(0)
        schema = hung.url.schema  # type: ignore[attr-defined]
        postgres_server.sql(f"UPDATE \"{schema}\".lock_holder SET host = 'build-agent-7'")
        with open_backend(pg_url) as other:
            freed = other.break_lock(info.lock_id)
            assert freed.host == "build-agent-7"
            other.lock().acquire(0)
            with pytest.raises(StateError, match="does not match"):
                other.break_lock(info.lock_id)


def test_migrations_are_versioned_and_a_newer_schema_is_refused(
    pg_url: str, postgres_server: PostgresServer
) -> None:
    with open_backend(pg_url) as backend:
        first = backend.migrate()
        assert first[0].startswith("applied migration 1")
        assert "up to date" in backend.migrate()[0]
        schema = backend.url.schema  # type: ignore[attr-defined]
    postgres_server.sql(
        f"INSERT INTO \"{schema}\".schema_migrations (version, description) VALUES (99, 'x')"
    )
    with open_backend(pg_url) as newer, pytest.raises(StateError, match="newer oneatlas-plan"):
        newer.store().load()


def test_a_password_never_shows(postgres_server: PostgresServer) -> None:
    url = "postgresql://planner:s3cret-Pw-9@127.0.0.1:1/imagery?schema=team"
    backend = open_backend(url)
    assert backend.location == "postgresql://planner:***@127.0.0.1:1/imagery?schema=team"
    with pytest.raises(StateError) as raised:
        backend.store().load()
    assert "s3cret-Pw-9" not in str(raised.value)
    assert "cannot connect to the state database postgresql://planner:***@" in str(raised.value)
    assert redact("oops s3cret-Pw-9") == "oops ***"


def test_a_bad_schema_name_is_refused() -> None:
    with pytest.raises(StateError, match="not a plain SQL name"):
        open_backend("postgresql://u@h/db?schema=a;drop")

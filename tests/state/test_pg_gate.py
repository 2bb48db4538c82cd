"""The ordering gate of a PostgreSQL state (real server): one turn at a time for a key across
connections and processes, paced from the end of the previous request on the database's
clock, bans and doubt periods shared through the key's row, and no key in the database."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from oneatlas_plan.api.gate import FileGate
from oneatlas_plan.errors import StateError
from oneatlas_plan.state.backends import FileBackend, open_backend
from oneatlas_plan.state.pg_gate import PostgresGate, key_fingerprint
from oneatlas_plan.state.postgres import DatabaseUrl, PostgresBackend
from tests.pg_server import PostgresServer, gate_sessions, wait_for

KEY = "secret-api-key-91d3e7"
ORIGIN = "https://order.api.oneatlas.airbus.com:443"


class Sleeps:
    """Records what the gate asks to wait, without waiting (the database clock runs on)."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@pytest.fixture
def backend(pg_url: str) -> Iterator[PostgresBackend]:
    with PostgresBackend.from_url(pg_url) as opened:
        yield opened


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


_OPENED: list[PostgresGate] = []


@pytest.fixture(autouse=True)
def _close_gates() -> Iterator[None]:
    """Gates left open by a failing test would warn later, in whichever test the GC runs."""
    yield
    while _OPENED:
        _OPENED.pop().close()


def make_gate(backend: PostgresBackend, tmp_path: Path, sleeps: Sleeps | None = None,
              key: str = KEY) -> PostgresGate:
    gate = backend.ordering_gate(ORIGIN, key, tmp_path / "runtime")
    _OPENED.append(gate)
    if sleeps is not None:
        gate._sleep = sleeps
    return gate


def _sql(backend: PostgresBackend, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(backend.url.conninfo, autocommit=True) as conn:
        cur = conn.execute(statement.replace("{schema}", f'"{backend.url.schema}"'), params)
        return cur.fetchall() if cur.description else []


def test_each_backend_offers_its_gate(tmp_path: Path, backend: PostgresBackend) -> None:
    with open_backend(tmp_path / "state.json") as file_backend:
        assert isinstance(file_backend, FileBackend)
        assert isinstance(file_backend.ordering_gate(ORIGIN, KEY, tmp_path), FileGate)
    gate = make_gate(backend, tmp_path)
    try:
        assert isinstance(gate, PostgresGate)
        rows = _sql(backend,
                    "SELECT fingerprint, idle_at, banned_until FROM {schema}.ordering_gates")
        assert rows == [(gate.fingerprint, None, None)]
        # the state's own connection is not the gate's
        assert backend.connection().info.backend_pid != gate._conn.info.backend_pid
    finally:
        gate.close()


def test_the_first_turn_waits_one_interval(tmp_path: Path, backend: PostgresBackend,
                                           sleeps: Sleeps) -> None:
    gate = make_gate(backend, tmp_path, sleeps)
    with gate.turn(600.0) as turn:
        assert turn.banned_until is None
    # nothing known about the previous request: as if one had just ended
    assert len(sleeps.asked) == 1 and 570.0 < sleeps.asked[0] <= 600.0
    gate.close()


def test_the_interval_runs_from_the_end_of_the_previous_request_of_any_connection(
    tmp_path: Path, backend: PostgresBackend, sleeps: Sleeps
) -> None:
    first, second = make_gate(backend, tmp_path, sleeps), make_gate(backend, tmp_path, sleeps)
    with first.turn(0.0) as turn:
        turn.sent()
    (ended,) = _sql(backend, "SELECT idle_at FROM {schema}.ordering_gates")[0]
    sleeps.asked.clear()
    with second.turn(600.0):
        pass
    assert len(sleeps.asked) == 1 and 570.0 < sleeps.asked[0] <= 600.0
    # a turn that sent nothing leaves the previous end as it was
    assert _sql(backend, "SELECT idle_at FROM {schema}.ordering_gates")[0] == (ended,)
    first.close()
    second.close()


def test_the_wait_really_happens_on_the_database_clock(tmp_path: Path,
                                                        backend: PostgresBackend) -> None:
    first, second = make_gate(backend, tmp_path), make_gate(backend, tmp_path)
    with first.turn(0.0) as turn:
        turn.sent()
    with second.turn(0.3):
        (since,) = _sql(backend, "SELECT extract(epoch FROM clock_timestamp() - idle_at) "
                                 "FROM {schema}.ordering_gates")[0]
    assert float(since) >= 0.3
    first.close()
    second.close()


def test_a_request_in_doubt_holds_the_next_turn_back(tmp_path: Path, backend: PostgresBackend,
                                                     sleeps: Sleeps) -> None:
    first, second = make_gate(backend, tmp_path, sleeps), make_gate(backend, tmp_path, sleeps)
    with first.turn(0.0) as turn:
        turn.sent()
        turn.in_doubt(1200.0)  # no answer: Airbus may still process it for 1200 s
    sleeps.asked.clear()
    with second.turn(600.0):
        pass
    assert len(sleeps.asked) == 1 and 1770.0 < sleeps.asked[0] <= 1800.0
    first.close()
    second.close()


def test_a_ban_is_shown_to_every_gate_of_the_key_until_it_ends(
    tmp_path: Path, backend: PostgresBackend, sleeps: Sleeps
) -> None:
    first, other = make_gate(backend, tmp_path, sleeps), make_gate(backend, tmp_path, sleeps)
    unrelated = make_gate(backend, tmp_path, sleeps, key=KEY + "-other")
    before = datetime.now(UTC)
    with first.turn(0.0) as turn:
        turn.sent()
        turn.ban(600.0)
    after = datetime.now(UTC)
    until = other.banned_until()
    assert until is not None
    assert (until - before).total_seconds() > 570.0
    # the client's reading of the database's ban end: allow the round trip of the reading
    assert (until - after).total_seconds() <= 600.0 + 1.0
    assert unrelated.banned_until() is None  # another key, another row
    sleeps.asked.clear()
    with other.turn(600.0) as turn:
        assert turn.banned_until is not None and turn.banned()
    assert sleeps.asked == []  # no waiting for a turn that must not send
    # a shorter ban later never shortens the recorded one
    with other.turn(0.0) as turn:
        turn.ban(1.0)
    assert abs((other.banned_until() - until).total_seconds()) < 30  # type: ignore[operator]
    # once over (moved into the past on the server), turns open normally again
    _sql(backend, "UPDATE {schema}.ordering_gates SET banned_until = "
                  "clock_timestamp() - interval '1 second'")
    assert other.banned_until() is None
    with other.turn(0.0) as turn:
        assert turn.banned_until is None
    for gate in (first, other, unrelated):
        gate.close()


def test_threads_sharing_one_gate_take_turns(tmp_path: Path, backend: PostgresBackend) -> None:
    gate = make_gate(backend, tmp_path)
    inside = most = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal inside, most
        for _ in range(5):
            with gate.turn(0.0) as turn:
                with lock:
                    inside += 1
                    most = max(most, inside)
                turn.sent()
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert most == 1
    gate.close()


CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from oneatlas_plan.state.postgres import PostgresBackend
    with PostgresBackend.from_url(sys.argv[1]) as backend:
        gate = backend.ordering_gate(sys.argv[2], sys.stdin.readline().strip(), Path("."))
        with gate.turn(0.0) as turn:
            turn.sent(float(sys.argv[3]))
            print("holding", flush=True)
            sys.stdin.readline()  # released by the test
        print("released", flush=True)
""")


ALLOWANCE = 900.0  # what the holder's request may still run at Airbus if it is cut off


@pytest.fixture
def holder(pg_url: str, backend: PostgresBackend) -> Iterator[subprocess.Popen[str]]:
    """Another process holding a turn on the key, its request sent (the key goes through
    stdin, not argv)."""
    backend.migrate()
    with subprocess.Popen([sys.executable, "-c", CHILD, pg_url, ORIGIN, str(ALLOWANCE)],
                          stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as child:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(KEY + "\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "holding"
        yield child
        child.kill()


def test_a_turn_held_by_another_process_blocks_until_it_ends(
    tmp_path: Path, backend: PostgresBackend, holder: subprocess.Popen[str]
) -> None:
    assert holder.stdin is not None and holder.stdout is not None
    gate = make_gate(backend, tmp_path)
    entered = threading.Event()

    def take_turn() -> None:
        with gate.turn(0.0):
            entered.set()

    thread = threading.Thread(target=take_turn, daemon=True)
    thread.start()
    # handshake: the server shows our gate's session waiting for the child's
    ours = gate._conn.info.backend_pid
    wait_for(lambda: _blocked_by(backend, ours) == {_session_of(backend, holder.pid)},
             "our turn to wait for the holder's row lock")
    assert not entered.is_set()
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert entered.wait(30)
    assert holder.stdout.readline().strip() == "released"
    assert holder.wait(timeout=30) == 0
    thread.join(timeout=30)
    gate.close()


def test_a_killed_holder_does_not_block_the_gate(
    tmp_path: Path, backend: PostgresBackend, holder: subprocess.Popen[str]
) -> None:
    holder.kill()
    holder.wait(timeout=10)
    gate = make_gate(backend, tmp_path, sleeps := Sleeps())
    with gate.turn(0.0) as turn:  # the server ended the dead session and its lock
        assert turn.banned_until is None
    # ... but not the mark its request left: it may still be running at Airbus
    assert len(sleeps.asked) == 1 and ALLOWANCE - 60 < sleeps.asked[0] <= ALLOWANCE
    gate.close()


def test_a_request_is_marked_in_flight_in_the_database_before_it_leaves(
    tmp_path: Path, backend: PostgresBackend, sleeps: Sleeps
) -> None:
    gate = make_gate(backend, tmp_path, sleeps)
    busy = "SELECT extract(epoch FROM idle_at - clock_timestamp()) FROM {schema}.ordering_gates"
    with gate.turn(0.0) as turn:
        turn.sent(ALLOWANCE)
        # committed: another connection sees it while the turn is still open
        (left,) = _sql(backend, busy)[0]
        assert ALLOWANCE - 60 < float(left) <= ALLOWANCE
    (left,) = _sql(backend, busy)[0]
    assert float(left) <= 0  # closed normally: the real end replaces the mark
    gate.close()


def test_a_turn_cut_off_after_sending_leaves_its_mark_for_every_gate_of_the_key(
    tmp_path: Path, backend: PostgresBackend, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = make_gate(backend, tmp_path, sleeps), make_gate(backend, tmp_path, sleeps)
    with pytest.raises(KeyboardInterrupt), first.turn(0.0) as turn:
        turn.sent(ALLOWANCE)
        raise KeyboardInterrupt  # Ctrl-C before the answer came
    sleeps.asked.clear()
    with caplog.at_level("WARNING", logger="oneatlas_plan.api.gate"), second.turn(1.0):
        pass
    assert len(sleeps.asked) == 1 and ALLOWANCE - 60 < sleeps.asked[0] <= ALLOWANCE + 1.0
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "may still be in progress" in said[0] and KEY not in said[0]
    first.close()
    second.close()


def test_a_mark_the_database_cannot_take_stops_the_request(
    tmp_path: Path, backend: PostgresBackend
) -> None:
    gate = make_gate(backend, tmp_path)
    with pytest.raises(StateError, match="nothing was sent"), gate.turn(0.0) as turn:
        _sql(backend, "SELECT pg_terminate_backend(%s)", gate._conn.info.backend_pid)
        try:
            turn.sent(ALLOWANCE)
        finally:
            assert not turn.was_sent
    gate.close()


def _session_of(backend: PostgresBackend, os_pid: int) -> int:
    sessions = gate_sessions(backend.url.conninfo)
    assert os_pid in sessions, sessions
    return sessions[os_pid][0]


def _blocked_by(backend: PostgresBackend, session: int) -> set[int]:
    rows = _sql(backend, "SELECT pg_blocking_pids(%s)", session)
    return set(rows[0][0])


def test_the_key_never_reaches_the_database(
    tmp_path: Path, backend: PostgresBackend, postgres_server: PostgresServer
) -> None:
    gate = make_gate(backend, tmp_path)
    with gate.turn(0.0) as turn:
        turn.sent()
        turn.in_doubt(1.0)
        turn.ban(1.0)
    gate.banned_until()
    schema = backend.url.schema
    tables = [row[0] for row in _sql(
        backend, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        schema)]
    assert {"ordering_gates", "ordering_gate_salt"} <= set(tables)
    for table in tables:
        for (row,) in _sql(backend, f'SELECT t::text FROM "{schema}"."{table}" t'):
            assert KEY not in row and KEY.encode().hex() not in row, (table, row)
    for (activity,) in _sql(backend, "SELECT concat_ws(' ', application_name, query) "
                                     "FROM pg_stat_activity"):
        assert KEY not in activity
    assert KEY not in postgres_server.log.read_text(errors="replace")
    # the row's name cannot be checked against a guessed key without the salt
    (salt,) = _sql(backend, "SELECT salt FROM {schema}.ordering_gate_salt")[0]
    assert gate.fingerprint == key_fingerprint(bytes(salt), ORIGIN, KEY)
    assert gate.fingerprint != key_fingerprint(bytes(32), ORIGIN, KEY)
    gate.close()


def test_the_gate_tables_come_with_a_migration(pg_url: str) -> None:
    with PostgresBackend.from_url(pg_url) as backend:
        done = backend.migrate()
    assert any("ordering gates" in line for line in done), done
    url = DatabaseUrl.parse(pg_url)
    with psycopg.connect(url.conninfo) as conn:
        versions = conn.execute(
            f'SELECT version FROM "{url.schema}".schema_migrations ORDER BY version').fetchall()
    assert [v for (v,) in versions] == [1, 2, 3]

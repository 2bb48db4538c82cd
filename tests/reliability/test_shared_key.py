"""Several processes on one API key (issue 15 item 2, issue 17): `plan` and `apply` runs on
different state files share the machine-wide ordering gate, runs on one PostgreSQL state share
the key's row in the database, so Airbus never sees two ordering requests at once or closer
than the interval, and a 429 stops every one of them until the ban is over.

Handshake: the test holds the gate's lock itself, starts the processes and waits until the
kernel (``/proc/locks``) or the database (``pg_blocking_pids``) shows each of them blocked on
that lock; releasing it lets them all compete for the ordering API at the same moment. No
sleeps race the children.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from oneatlas_plan.api.gate import FileGate, gate_path, runtime_dir
from oneatlas_plan.api.profiles import origin_of
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.sandbox.embedded import RunningSandbox
from oneatlas_plan.state.postgres import PostgresBackend
from tests.pg_server import gate_sessions, wait_for
from tests.reliability.conftest import (
    ADDRESSES,
    API_KEY,
    SETTLED,
    Project,
    Result,
    assert_no_traceback,
    check_done,
    check_ledger_in_state,
    check_no_duplicate,
    make_project,
    start_sandbox,
)

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks"),
]

TIME_SCALE = 50  # ordering interval 20 ms, ban 12 s unless ban_seconds says otherwise


def _gate_file(base_url: str) -> Path:
    return gate_path(runtime_dir(os.environ), origin_of(base_url), API_KEY)


def _waiters(path: Path) -> set[int]:
    """Pids blocked on the flock of ``path`` (``/proc/locks`` lines marked ``->``)."""
    inode = f":{path.stat().st_ino} "
    pids = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if inode in line + " " and len(fields) > 5 and fields[1] == "->":
            pids.add(int(fields[5]))
    return pids


@contextmanager
def gate_held(base_url: str) -> Iterator[Path]:
    path = _gate_file(base_url)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        os.close(fd)


def _wait_blocked(path: Path, procs: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + 90
    wanted = {proc.pid for proc in procs}
    while not wanted <= _waiters(path):
        for proc in procs:
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"pid {proc.pid} ended before the gate: {out}{err}")
        assert time.monotonic() < deadline, f"not all blocked on the gate: {_waiters(path)}"
        time.sleep(0.02)


def _finish(procs: list[subprocess.Popen[str]]) -> list[Result]:
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=150)
        result = Result(proc.returncode, out, err)
        assert_no_traceback(result)
        results.append(result)
    return results


def _stats(base_url: str) -> dict[str, Any]:
    response = requests.get(f"{base_url}/sandbox/v1/stats", timeout=10)
    response.raise_for_status()
    return dict(response.json())


def _reset_stats(base_url: str) -> None:
    requests.post(f"{base_url}/sandbox/v1/reset-stats", timeout=10).raise_for_status()


def check_one_at_a_time(base_url: str, interval: float) -> list[dict[str, Any]]:
    """No 429, no overlap, and (as the sandbox counts) every gap at least the interval."""
    stats = _stats(base_url)
    calls = sorted(stats["ordering_requests"], key=lambda e: e["arrived"])
    assert stats["too_many_requests"] == 0 and stats["bans"] == 0, calls
    assert stats["max_concurrent_ordering"] == 1, calls
    for before, after in itertools.pairwise(calls):
        assert after["arrived"] >= before["completed"], (before, after)
        assert after["arrived"] - before["arrived"] >= interval, (before, after)
    return calls


def _projects(tmp_path: Path, base_url: str, names: str,
              state_location: str | None = None) -> list[Project]:
    return [make_project(tmp_path / name, base_url, state_location) for name in names]


def _plan(project: Project) -> None:
    result = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
    assert result.code == ExitCode.OK, result.text


def _run_together(sandbox: RunningSandbox, runs: list[tuple[Project, tuple[str, ...]]]
                  ) -> list[Result]:
    _reset_stats(sandbox.base_url)
    with gate_held(sandbox.base_url) as path:
        procs = [project.spawn(*args) for project, args in runs]
        try:
            _wait_blocked(path, procs)
        except BaseException:
            for proc in procs:
                proc.kill()
                proc.communicate()
            raise
    return _finish(procs)


def _run_together_on_database(sandbox: RunningSandbox, state_location: str,
                              runs: list[tuple[Project, tuple[str, ...]]]) -> list[Result]:
    """As :func:`_run_together`, the test holding the key's row of the state database."""
    _reset_stats(sandbox.base_url)
    with PostgresBackend.from_url(state_location) as backend:
        gate = backend.ordering_gate(origin_of(sandbox.base_url), API_KEY, Path("unused"))
        conninfo = backend.url.conninfo
        with gate.turn(0.0):
            ours = gate_sessions(conninfo)[os.getpid()][0]
            procs = [project.spawn(*args) for project, args in runs]

            def all_blocked() -> bool:
                for proc in procs:
                    if proc.poll() is not None:
                        out, err = proc.communicate()
                        raise AssertionError(f"pid {proc.pid} ended before the gate: {out}{err}")
                sessions = gate_sessions(conninfo)
                if not all(proc.pid in sessions for proc in procs):
                    return False
                # the row's waiters queue: the first waits for us, the next for the first
                queue = {ours} | {sessions[proc.pid][0] for proc in procs}
                return all(sessions[proc.pid][1] and sessions[proc.pid][1] <= queue
                           for proc in procs)

            try:
                wait_for(all_blocked, f"every process to wait for the key's row (ours: {ours})",
                         describe=lambda: gate_sessions(conninfo))
            except BaseException:
                for proc in procs:
                    proc.kill()
                    proc.communicate()
                raise
        gate.close()
    return _finish(procs)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    with start_sandbox(tmp_path / "sandbox-data", time_scale=TIME_SCALE) as running:
        yield running


def test_a_plan_during_an_apply_on_one_key_never_overlaps(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    applying, planning = _projects(tmp_path, sandbox.base_url, "ab")
    _plan(applying)
    results = _run_together(sandbox, [
        (applying, ("apply", str(applying.plan_path))),
        (planning, ("plan", str(planning.specs), "--out", str(planning.plan_path))),
    ])
    assert [r.code for r in results] == [ExitCode.OK, ExitCode.OK], results
    calls = check_one_at_a_time(sandbox.base_url, 1 / TIME_SCALE)
    endpoints = {c["endpoint"] for c in calls}
    assert {"prices", "orders"} <= endpoints, endpoints  # both kinds really competed
    check_done(applying)
    assert planning.plan_path.exists()


def test_a_plan_during_an_apply_on_one_key_on_the_postgresql_state_never_overlaps(
    tmp_path: Path, sandbox: RunningSandbox, pg_url: str
) -> None:
    # a pull request's plan and a merge's apply, on two machines in real life: one state
    # database, no shared machine gate (each process has its own runtime directory)
    applying, planning = _projects(tmp_path, sandbox.base_url, "ab", pg_url)
    for project, name in ((applying, "a"), (planning, "b")):
        project.extra_env["ONEATLAS_RUNTIME_DIR"] = str(tmp_path / f"machine-{name}")
    _plan(applying)
    results = _run_together_on_database(sandbox, pg_url, [
        (applying, ("apply", str(applying.plan_path))),
        (planning, ("plan", str(planning.specs), "--out", str(planning.plan_path))),
    ])
    assert [r.code for r in results] == [ExitCode.OK, ExitCode.OK], results
    calls = check_one_at_a_time(sandbox.base_url, 1 / TIME_SCALE)
    endpoints = {c["endpoint"] for c in calls}
    assert {"prices", "orders"} <= endpoints, endpoints  # both kinds really competed
    check_done(applying)
    assert planning.plan_path.exists()
    assert not list((tmp_path / "machine-a").rglob("*.lock"))  # the database was the gate


@pytest.mark.campaign
def test_four_processes_two_applies_two_plans_on_one_key(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    first, second, third, fourth = _projects(tmp_path, sandbox.base_url, "abcd")
    _plan(first)
    _plan(second)
    results = _run_together(sandbox, [
        (first, ("apply", str(first.plan_path))),
        (second, ("apply", str(second.plan_path))),
        (third, ("plan", str(third.specs), "--out", str(third.plan_path))),
        (fourth, ("plan", str(fourth.specs), "--out", str(fourth.plan_path))),
    ])
    assert [r.code for r in results] == [ExitCode.OK] * 4, results
    calls = check_one_at_a_time(sandbox.base_url, 1 / TIME_SCALE)
    assert len(calls) >= 4 * 3
    # both state files ordered the same specs (same references, on purpose: two teams'
    # copies); each ordered every resource once and recorded Airbus's answer
    ledger = first.ledger()
    assert len(ledger) == 2 * len(ADDRESSES)
    sales = {o.get("salesOrderId") for o in ledger} | {o.get("quotationId") for o in ledger}
    for project in (first, second):
        records = project.load_state()["resources"]
        assert set(records) == ADDRESSES
        for record in records.values():
            assert record["status"] in SETTLED, record
            order = record["orders"][-1]
            assert order["sales_order_id"] in sales or order["quotation_id"] in sales


def _ban_the_key(base_url: str) -> None:
    """Another client of the key ignores the limit: two price requests back to back.

    The sandbox's clock is frozen first, so the two arrive at the same instant whatever the
    load (a rate violation, deterministically) and the server-side ban never ends by itself:
    each test decides when the sandbox's time moves on."""
    requests.post(f"{base_url}/sandbox/v1/faults", json={"frozen_time": time.time()},
                  timeout=10).raise_for_status()
    with requests.Session() as session:
        token = session.post(
            f"{base_url}/auth/realms/IDP/protocol/openid-connect/token",
            data={"apikey": API_KEY, "grant_type": "api_key", "client_id": "IDP"}, timeout=10,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        statuses = [session.post(f"{base_url}/api/v1/prices", json={}, headers=headers,
                                 timeout=10).status_code for _ in range(2)]
    assert statuses[1] == 429 and _stats(base_url)["bans"] == 1, statuses


def _refused_by_a_429(base_url: str, applying: Project) -> tuple[Result, dict[str, int]]:
    """Ban the key, then apply: its (re-)price is answered 429, sent once, nothing ordered."""
    _ban_the_key(base_url)
    before = _stats(base_url)["requests"]
    # --reprice always: the plan is seconds old, so apply would otherwise send no price
    # first; this pins the 429 on the re-price (an order's 429 is pinned in test_apply_answers)
    applied = applying.subprocess("apply", str(applying.plan_path), "--reprice", "always")
    after = _stats(base_url)["requests"]
    assert applied.code == ExitCode.ERROR, applied.text
    assert after.get("prices", 0) - before.get("prices", 0) == 1  # no retry
    assert after.get("orders", 0) == before.get("orders", 0)
    assert "price rate limited (429)" in applied.text
    assert "This request was sent once, not retried" in applied.text
    assert "nothing more was sent" not in applied.text
    return applied, after


# The client records the ban the sandbox announces (its /sandbox/v1/config, as Airbus's 10
# minutes): 3600 * TIME_SCALE / TIME_SCALE = one hour, so no load can make it end before the
# other process looks.
LONG_BAN = 3600 * TIME_SCALE


def test_a_429_is_sent_once_and_every_process_of_the_key_waits_for_the_ban(
    tmp_path: Path,
) -> None:
    with start_sandbox(tmp_path / "sandbox-data", time_scale=TIME_SCALE,
                       ban_seconds=LONG_BAN) as sandbox:
        applying, planning = _projects(tmp_path, sandbox.base_url, "ab")
        _plan(applying)
        applied, after_apply = _refused_by_a_429(sandbox.base_url, applying)
        assert "Plan and apply again after" in applied.text
        until = FileGate(_gate_file(sandbox.base_url)).banned_until()
        assert until is not None and f"{until:%Y-%m-%d %H:%M:%S} UTC" in applied.text
        assert (until - datetime.now(UTC)).total_seconds() > 3000  # the ban announced

        # another process, another state file: refrains without sending anything
        refused = planning.subprocess("plan", str(planning.specs))
        after_plan = _stats(sandbox.base_url)["requests"]
        assert refused.code == ExitCode.ERROR, refused.text
        assert "not sent: OneAtlas answered 429" in refused.err, refused.text
        order_host = ("prices", "orders", "contracts", "product_types", "options")
        assert {k: after_plan.get(k, 0) for k in order_host} == {
            k: after_apply.get(k, 0) for k in order_host}


# 50 / TIME_SCALE = 1 s: the client's recorded ban, awaited (the sandbox's own ban is held
# by its frozen clock until the test moves it on).
SHORT_BAN = 50


def test_a_run_stopped_by_a_429_resumes_once_the_ban_is_over(tmp_path: Path) -> None:
    with start_sandbox(tmp_path / "sandbox-data", time_scale=TIME_SCALE,
                       ban_seconds=SHORT_BAN) as sandbox:
        applying = make_project(tmp_path / "a", sandbox.base_url)
        _plan(applying)
        _refused_by_a_429(sandbox.base_url, applying)
        # the client recorded the ban before it exited: it ends at most SHORT_BAN (scaled)
        # from now; wait for that clock deadline, not for a child process
        over = time.time() + SHORT_BAN / TIME_SCALE
        while (wait := over - time.time()) > 0:
            time.sleep(wait)
        assert FileGate(_gate_file(sandbox.base_url)).banned_until() is None
        # the sandbox's time moves on: real time again, past the end of its ban
        applying.faults(frozen_time=0)
        assert _stats(sandbox.base_url)["banned_keys"] == 0
        assert applying.ledger() == []  # the stopped run ordered nothing

        _plan(applying)
        resumed = applying.subprocess("apply", str(applying.plan_path))
        assert resumed.code == ExitCode.OK, resumed.text
        check_ledger_in_state(applying, settled=True)
        assert len(check_no_duplicate(applying)) == len(ADDRESSES)

"""Two `apply` processes on one state: one runs, the other waits or stops naming the holder;
a lock left by a killed process is reported and can be broken with `state unlock`."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan._testhooks import ENV as PAUSE_ENV
from oneatlas_plan._testhooks import MARK, MARKER, MARKS_ENV, RELEASE_ENV
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.sandbox.embedded import RunningSandbox
from tests.reliability.conftest import (
    Project,
    StderrWatcher,
    check_done,
    check_ledger_in_state,
    check_no_duplicate,
    converge,
    kill,
    make_project,
)

# Hang guards only, sized for a 2-core machine at load 25: no outcome may depend on a child
# process finishing within a wall-time window (issue 13), so a waiting run's --lock-timeout
# is longer than the test's own timeout.
pytestmark = pytest.mark.timeout(300)
CHILD = 120  # seconds a child may take to reach a point or to end
LOCK_WAIT = "10m"


def _lock_file(project: Project) -> Path:
    return project.state_path.with_name(project.state_path.name + ".lock")


def _plan(project: Project) -> None:
    result = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
    assert result.code == ExitCode.OK, result.text


def test_second_apply_stops_naming_the_holder_then_a_waiting_one_gets_in(
    any_project: Project, tmp_path: Path
) -> None:
    project = any_project
    _plan(project)
    release = tmp_path / "release-first"
    first = project.spawn(
        "apply", str(project.plan_path), **{PAUSE_ENV: "after-pending:1", RELEASE_ENV: str(release)}
    )
    watcher = StderrWatcher(first)
    waiting = None
    try:
        assert watcher.wait_for(f"{MARKER} after-pending", timeout=CHILD), watcher.text
        holder = project.lock_holder()
        assert holder is not None and holder.pid == first.pid
        # No wait: stops at once, naming the holder and how to break a dead lock.
        busy = project.subprocess("apply", str(project.plan_path), "--lock-timeout", "0.3s")
        assert busy.code == ExitCode.ERROR, busy.text
        assert f"pid {first.pid}" in busy.err, busy.err
        assert f"{holder.user}@{socket.gethostname()}" in busy.err
        assert f"state unlock {holder.lock_id}" in busy.err
        # Waiting long enough: once it is seen waiting, the first run is let go; the waiting
        # one gets the lock when the first ends, then refuses the plan (made before the first
        # run changed the state) instead of ordering again.
        waiting = project.spawn(
            "apply", str(project.plan_path), "--lock-timeout", LOCK_WAIT, **{MARKS_ENV: "1"}
        )
        waiting_watcher = StderrWatcher(waiting)
        assert waiting_watcher.wait_for(f"{MARK} lock-wait", timeout=CHILD), waiting_watcher.text
        release.touch()
        assert first.wait(timeout=CHILD) == ExitCode.OK, watcher.text
        assert waiting.wait(timeout=CHILD) == ExitCode.ERROR, waiting_watcher.text
        assert "plan is stale" in waiting_watcher.text, waiting_watcher.text
    finally:
        release.touch()
        kill(first)
        if waiting is not None:
            kill(waiting)
    check_no_duplicate(project)
    check_done(project)


def test_two_applies_started_together_order_each_resource_once(any_project: Project) -> None:
    project = any_project
    _plan(project)
    procs = [project.spawn("apply", str(project.plan_path), "--lock-timeout", LOCK_WAIT)
             for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=CHILD)
        results.append((proc.returncode, out + err))
    codes = sorted(code for code, _ in results)
    assert codes == [ExitCode.OK, ExitCode.ERROR], results
    loser = next(text for code, text in results if code == ExitCode.ERROR)
    assert "plan is stale" in loser, loser
    assert "Traceback" not in loser
    check_done(project)


def test_stale_lock_of_a_killed_apply_is_reported_and_breakable(project: Project) -> None:
    _plan(project)
    proc = project.spawn("apply", str(project.plan_path), **{PAUSE_ENV: "after-pending:1"})
    watcher = StderrWatcher(proc)
    try:
        assert watcher.wait_for(f"{MARKER} after-pending", timeout=CHILD), watcher.text
    finally:
        kill(proc)
    holder = json.loads(_lock_file(project).read_text())
    assert holder["pid"] == proc.pid
    # `state unlock` breaks it (the holder is dead), naming who held it.
    unlocked = project.cli("state", "unlock", holder["lock_id"])
    assert unlocked.code == ExitCode.OK, unlocked.text
    assert f"pid {proc.pid}" in unlocked.out
    assert not _lock_file(project).exists()
    check_ledger_in_state(project, settled=False)
    converge(project)
    check_done(project)


def test_stale_lock_is_taken_over_with_a_warning(project: Project) -> None:
    _plan(project)
    proc = project.spawn("apply", str(project.plan_path), **{PAUSE_ENV: "after-outcome:1"})
    watcher = StderrWatcher(proc)
    try:
        assert watcher.wait_for(f"{MARKER} after-outcome", timeout=CHILD), watcher.text
    finally:
        kill(proc)
    lock_id = json.loads(_lock_file(project).read_text())["lock_id"]
    result = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
    assert result.code == ExitCode.OK, result.text
    applied = project.cli("apply", str(project.plan_path))
    assert applied.code == ExitCode.OK, applied.text
    assert re.search(rf"took over a stale lock: .*pid {proc.pid}.*{lock_id}", applied.err), (
        applied.err
    )
    check_done(project)


def test_lock_of_another_host_is_never_taken_over(project: Project) -> None:
    _plan(project)
    lock: dict[str, Any] = {
        "created_at": "2026-01-01T00:00:00Z",
        "host": "build-agent-7.example",
        "lock_id": "11111111-2222-4333-8444-555555555555",
        "pid": 4242,
        "process_start": None,
        "user": "ci",
    }
    _lock_file(project).write_text(json.dumps(lock))
    busy = project.cli("apply", str(project.plan_path), "--lock-timeout", "0.2s")
    assert busy.code == ExitCode.ERROR
    assert "ci@build-agent-7.example (pid 4242" in busy.err, busy.err
    assert f"state unlock {lock['lock_id']}" in busy.err
    assert project.ledger() == []
    wrong = project.cli("state", "unlock", "00000000-0000-4000-8000-000000000000")
    assert wrong.code == ExitCode.ERROR and "does not match" in wrong.err
    assert project.cli("state", "unlock", lock["lock_id"]).code == ExitCode.OK
    assert project.cli("apply", str(project.plan_path)).code == ExitCode.OK
    check_done(project)


def test_unlock_refuses_a_live_holder(project: Project, tmp_path: Path) -> None:
    _plan(project)
    release = tmp_path / "release"
    proc = project.spawn(
        "apply", str(project.plan_path), **{PAUSE_ENV: "after-pending:1", RELEASE_ENV: str(release)}
    )
    watcher = StderrWatcher(proc)
    try:
        assert watcher.wait_for(f"{MARKER} after-pending", timeout=CHILD), watcher.text
        lock_id = json.loads(_lock_file(project).read_text())["lock_id"]
        refused = project.cli("state", "unlock", lock_id)
        assert refused.code == ExitCode.ERROR
        assert "still running on this host" in refused.err, refused.err
        release.touch()
        assert proc.wait(timeout=CHILD) == ExitCode.OK, watcher.text
    finally:
        release.touch()
        kill(proc)
    check_done(project)


def test_garbage_lock_file_is_reported_not_crashed_on(project: Project) -> None:
    _plan(project)
    _lock_file(project).write_bytes(b"\x00\xff not json")
    busy = project.cli("apply", str(project.plan_path), "--lock-timeout", "0.2s")
    assert busy.code == ExitCode.ERROR
    assert "unreadable" in busy.err and "delete that file" in busy.err, busy.err
    assert project.ledger() == []


def test_a_killed_apply_on_the_database_frees_its_lock_at_once(
    sandbox: RunningSandbox, tmp_path: Path, pg_url: str
) -> None:
    """No stale-lock dance: the server ends a dead client's session and its advisory lock."""
    project = make_project(tmp_path, sandbox.base_url, pg_url)
    _plan(project)
    proc = project.spawn("apply", str(project.plan_path), **{PAUSE_ENV: "after-pending:1"})
    watcher = StderrWatcher(proc)
    try:
        assert watcher.wait_for(f"{MARKER} after-pending", timeout=CHILD), watcher.text
        holder = project.lock_holder()
        assert holder is not None and holder.pid == proc.pid
    finally:
        kill(proc)
    check_ledger_in_state(project, settled=False)
    replan = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
    assert replan.code == ExitCode.OK, replan.text
    assert "stale lock" not in replan.err
    converge(project)  # the pending record (never sent) is settled as a person would
    check_done(project)

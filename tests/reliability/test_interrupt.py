"""Ctrl-C during `apply` (a real subprocess, a real SIGINT): the order in flight is finished
and recorded, nothing more is sent, and the exit status is 130 as the README promises.

The signal is sent at an exact point through the test hooks' handshake: the child writes a
file when it reaches the point, then waits until the test creates the release file.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from oneatlas_plan._testhooks import ENV as PAUSE_ENV
from oneatlas_plan._testhooks import REACHED_ENV, RELEASE_ENV
from oneatlas_plan.errors import ExitCode
from tests.reliability.conftest import Project, StderrWatcher, check_ledger_in_state, kill

pytestmark = pytest.mark.timeout(120)


def _wait_for_file(path: Path, project: Project, watcher: StderrWatcher) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert watcher.proc.poll() is None, f"apply ended before the point: {watcher.text}"
        assert time.monotonic() < deadline, f"the point was never reached: {watcher.text}"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("point", "sent"),
    [("after-pending:1", 1), ("after-pending:3", 3)],
    ids=["first order in flight", "last order in flight"],
)
def test_sigint_finishes_the_order_in_flight_then_exits_130(
    project: Project, tmp_path: Path, point: str, sent: int
) -> None:
    planned = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
    assert planned.code == ExitCode.OK, planned.text
    reached, release = tmp_path / "reached", tmp_path / "release"
    handshake = {PAUSE_ENV: point, REACHED_ENV: str(reached), RELEASE_ENV: str(release)}
    proc = project.spawn("apply", str(project.plan_path), **handshake)
    watcher = StderrWatcher(proc)
    try:
        _wait_for_file(reached, project, watcher)
        assert len(project.ledger()) == sent - 1
        proc.send_signal(signal.SIGINT)  # pending is on disk, the POST not yet sent
        release.touch()
        proc.wait(timeout=60)
        assert proc.stdout is not None
        out = proc.stdout.read()
    finally:
        kill(proc)
    assert proc.returncode == ExitCode.INTERRUPTED, watcher.text
    assert "Traceback" not in watcher.text
    assert "interrupted" in out, out
    ledger = project.ledger()
    assert len(ledger) == sent, "the order in flight is sent, nothing after it"
    check_ledger_in_state(project, settled=True)  # and recorded (ordered or quoted)


def test_sigint_while_planning_stops_the_pricing_and_exits_130(
    project: Project, tmp_path: Path
) -> None:
    reached, release = tmp_path / "reached", tmp_path / "release"
    handshake = {PAUSE_ENV: "plan-queued", REACHED_ENV: str(reached), RELEASE_ENV: str(release)}
    proc = project.spawn("plan", str(project.specs), "--out", str(project.plan_path), **handshake)
    watcher = StderrWatcher(proc)
    try:
        _wait_for_file(reached, project, watcher)  # an order is queued: pricing is under way
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        kill(proc)
    assert proc.returncode == ExitCode.INTERRUPTED, watcher.text
    # (click turns Ctrl-C into its Abort: the boundary says "Aborted.")
    assert "Aborted." in watcher.text and "Traceback" not in watcher.text
    assert not project.plan_path.exists()
    # the other orders were never queued: at most the one in flight was priced
    assert project.stats()["requests"].get("prices", 0) <= 1

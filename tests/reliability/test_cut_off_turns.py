"""A process cut off while its ordering request is in flight (SIGKILL, Ctrl-C), and another
process of the same key starting at once (another run, a teammate's run on the shared
PostgreSQL state): the second must not send before the first request's latest possible end
plus the interval, or Airbus sees two ordering requests at once (429, a 10-minute ban).

The sandbox holds the first request (``/sandbox/v1/hold``) and counts it in flight, as Airbus
would, until the test lets it go: a second request while it is held is refused with 429 and
bans the key (``limits.py``: ``concurrent > ordering_concurrency``). Handshakes only: the held
list for the first process, the kernel's lock list or the database's lock waits for the second
(already waiting at the gate when the first is cut off: the tightest "at once"), and the
second's "may still be in progress" message on stderr.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from oneatlas_plan.api.gate import gate_path
from oneatlas_plan.api.profiles import origin_of
from oneatlas_plan.state.postgres import DatabaseUrl
from tests.holds import hold, release, wait_until_held
from tests.pg_server import gate_sessions, wait_for
from tests.reliability.conftest import API_KEY, ROOT, StderrWatcher, kill, start_sandbox
from tests.reliability.test_shared_key import _waiters

pytestmark = pytest.mark.timeout(120)

TIME_SCALE = 50  # ordering interval 20 ms (+ the pacing margin)
CONNECT, READ = 0.25, 1.0  # the children's client timeouts (seconds)
# How long a cut-off request may still be running at OneAtlas, from the moment it was sent:
# the client would have waited CONNECT + READ for it, then held the key READ more (in doubt).
ALLOWANCE = CONNECT + 2 * READ
WAITING = "may still be in progress"
# The second request's arrival is compared with the first's (the first was *sent* a moment
# before it arrived): slack for that moment, far below the allowance being checked.
SLACK = 0.05


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Any]:
    with start_sandbox(tmp_path / "sandbox-data", time_scale=TIME_SCALE) as running:
        yield running


def _spawn(base_url: str, state: str) -> subprocess.Popen[str]:
    """A client process, starting up (see gate_child)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.gate_child", base_url, state, str(CONNECT),
         str(READ)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _ready(proc: subprocess.Popen[str]) -> None:
    """Wait until the child has started up and is ready to send its price request."""
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    assert ready == "READY\n", (ready, proc.communicate())


def _go(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


def _stats(base_url: str) -> dict[str, Any]:
    response = requests.get(f"{base_url}/sandbox/v1/stats", timeout=10)
    response.raise_for_status()
    return dict(response.json())


def _blocked_at_the_gate(base_url: str, state: str, pid: int) -> bool:
    """Whether process ``pid`` waits for the gate's lock (the kernel's or the database's)."""
    if state.startswith("postgresql://"):
        session = gate_sessions(DatabaseUrl.parse(state).conninfo).get(pid)
        return session is not None and bool(session[1])
    path = gate_path(Path(state), origin_of(base_url), API_KEY)
    return path.exists() and pid in _waiters(path)


def _cut_off_then_start_another(base_url: str, state: str, how: signal.Signals
                                ) -> tuple[list[dict[str, Any]], str]:
    """Cut the first process off while the sandbox holds its price request and the second
    waits at the gate; return the ordering requests the sandbox saw and the second's stderr."""
    hold(base_url, "prices", stage="received")
    first = _spawn(base_url, state)
    second = _spawn(base_url, state)
    try:
        _ready(first)
        _ready(second)

        def first_alive() -> None:
            assert first.poll() is None, first.communicate()

        # both started up: from here the first must be cut off well within its read timeout
        _go(first)
        wait_until_held(base_url, check=first_alive)
        watcher = StderrWatcher(second)
        _go(second)

        def second_blocked() -> bool:
            assert second.poll() is None, watcher.text
            return _blocked_at_the_gate(base_url, state, second.pid)

        wait_for(second_blocked, "the second process to wait at the gate")
        first.send_signal(how)
        first.wait(timeout=30)
        deadline = time.monotonic() + 60  # bounds a failure only
        while not watcher.wait_for(WAITING, timeout=0.02):
            calls = _stats(base_url)["ordering_requests"]
            assert len(calls) == 1, (
                f"the second process sent while the first's request was in flight: {calls}; "
                f"{watcher.text}")
            assert second.poll() is None, f"the second process ended: {watcher.text}"
            assert time.monotonic() < deadline, watcher.text
        # it waits, and says so; the first request is still held, the only one at the sandbox
        assert len(_stats(base_url)["ordering_requests"]) == 1
        release(base_url)  # OneAtlas finishes the cut-off request, well within the allowance
        out, _ = second.communicate(timeout=60)
        assert "ANSWER" in out, watcher.text
        return _stats(base_url)["ordering_requests"], watcher.text
    finally:
        release(base_url)
        for proc in (first, second):
            kill(proc)
            if proc.stdin is not None:
                proc.stdin.close()


def _check(base_url: str, calls: list[dict[str, Any]], stderr: str) -> None:
    stats = _stats(base_url)
    assert stats["too_many_requests"] == 0 and stats["bans"] == 0, calls
    assert stats["max_concurrent_ordering"] == 1, calls
    assert len(calls) == 2, calls
    first, second = sorted(calls, key=lambda c: c["arrived"])
    assert second["arrived"] >= first["completed"], calls
    assert second["arrived"] - first["arrived"] >= ALLOWANCE + 1 / TIME_SCALE - SLACK, calls
    assert stderr.count(WAITING) == 1, stderr  # said once, with the time it waits until
    assert " UTC" in stderr and "sk-reliability" not in stderr, stderr


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_a_run_cut_off_mid_request_holds_the_next_on_the_machine_gate(
    tmp_path: Path, sandbox: Any, how: signal.Signals
) -> None:
    calls, stderr = _cut_off_then_start_another(sandbox.base_url, str(tmp_path / "runtime"), how)
    _check(sandbox.base_url, calls, stderr)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_a_run_cut_off_mid_request_holds_a_teammates_run_on_the_postgresql_state(
    tmp_path: Path, sandbox: Any, pg_url: str, how: signal.Signals
) -> None:
    # two machines in real life: only the state database is shared
    calls, stderr = _cut_off_then_start_another(sandbox.base_url, pg_url, how)
    _check(sandbox.base_url, calls, stderr)

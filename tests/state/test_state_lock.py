from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oneatlas_plan.errors import StateError, StateLockedError
from oneatlas_plan.state.lock import (
    LockInfo,
    StateLock,
    break_lock,
    is_alive,
    lock_path_for,
    read_lock,
)

HOLDER = """
import sys, time
from pathlib import Path
from oneatlas_plan.state.lock import StateLock
info = StateLock(Path(sys.argv[1])).acquire(timeout=0)
print(info.lock_id, flush=True)
time.sleep(120)
"""


def fixed_clock() -> datetime:
    return datetime(2026, 11, 23, 20, 0, tzinfo=UTC)


class Holder:
    """Another process holding the lock of a state."""

    def __init__(self, state_path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(state_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.lock_id = self.process.stdout.readline().strip()
        assert self.lock_id, self.process.stderr.read() if self.process.stderr else ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)  # reaped: no zombie keeps the pid alive
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def holder(state_path: Path) -> Iterator[Holder]:
    running = Holder(state_path)
    yield running
    if running.process.poll() is None:
        running.kill()


def write_lock(state_path: Path, **fields: object) -> LockInfo:
    values: dict[str, object] = {
        "lock_id": "11111111-2222-3333-4444-555555555555",
        "user": "alice",
        "host": "elsewhere.example",
        "pid": 123,
        "created_at": "2026-11-23T20:00:00Z",
    }
    values |= fields
    lock_path_for(state_path).write_text(json.dumps(values), encoding="utf-8")
    info = read_lock(state_path)
    assert info is not None
    return info


def test_acquire_writes_who_where_when_and_release_removes(state_path: Path) -> None:
    lock = StateLock(state_path, clock=fixed_clock)
    info = lock.acquire(timeout=0)
    assert read_lock(state_path) == info
    assert info.pid == os.getpid()
    assert info.host == socket.gethostname()
    assert info.created_at == "2026-11-23T20:00:00Z"
    assert len(info.lock_id) == 36
    assert lock.held
    lock.release()
    assert read_lock(state_path) is None
    assert not lock_path_for(state_path).exists()
    lock.release()  # a no-op


def test_context_manager(state_path: Path) -> None:
    with StateLock(state_path) as lock:
        assert lock.info is not None
        assert read_lock(state_path) == lock.info
    assert read_lock(state_path) is None


def test_acquiring_twice_is_an_error(state_path: Path) -> None:
    with StateLock(state_path) as lock, pytest.raises(StateError, match="already held"):
        lock.acquire()


def test_waits_with_exponential_backoff_then_names_the_holder(state_path: Path) -> None:
    held = write_lock(state_path)
    sleeps: list[float] = []
    lock = StateLock(state_path, sleep=sleeps.append)
    with pytest.raises(StateLockedError) as caught:
        lock.acquire(timeout=5)
    assert sleeps[:6] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6]
    assert max(sleeps) <= 2.0
    assert sum(sleeps) == pytest.approx(5)
    assert str(caught.value) == (
        f"state {state_path} is locked by alice@elsewhere.example (pid 123, since "
        f"2026-11-23T20:00:00Z, lock id {held.lock_id}); wait, or if that run is dead, run: "
        f"oneatlas-plan state unlock {held.lock_id} --state {state_path}"
    )


def test_acquire_succeeds_when_the_holder_releases_meanwhile(state_path: Path) -> None:
    write_lock(state_path)

    def holder_finishes(seconds: float) -> None:
        lock_path_for(state_path).unlink()

    info = StateLock(state_path, sleep=holder_finishes).acquire(timeout=1)
    assert read_lock(state_path) == info


def test_another_process_holding_the_lock_makes_us_time_out(
    state_path: Path, holder: Holder
) -> None:
    with pytest.raises(StateLockedError) as caught:
        StateLock(state_path).acquire(timeout=0.3)
    message = str(caught.value)
    assert f"@{socket.gethostname()} (pid {holder.pid}, since " in message
    assert f"lock id {holder.lock_id}); wait" in message
    assert read_lock(state_path) is not None
    assert read_lock(state_path).lock_id == holder.lock_id  # type: ignore[union-attr]


def test_the_stale_lock_of_a_killed_process_is_reported_and_taken_over(
    state_path: Path, holder: Holder
) -> None:
    holder.kill()
    reported: list[LockInfo] = []
    info = StateLock(state_path).acquire(timeout=0, on_stale=reported.append)
    assert [stale.lock_id for stale in reported] == [holder.lock_id]
    assert reported[0].pid == holder.pid
    assert read_lock(state_path) == info


def test_a_stale_lock_without_callback_is_logged(
    state_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stale = write_lock(state_path, host=socket.gethostname(), pid=2**22 + 12345)
    with StateLock(state_path):
        pass
    assert f"took over the stale lock of alice@{socket.gethostname()}" in caplog.text
    assert stale.lock_id in caplog.text


def test_a_reused_pid_does_not_keep_a_lock_alive(state_path: Path) -> None:
    write_lock(state_path, host=socket.gethostname(), pid=os.getpid(), process_start="1")
    reported: list[LockInfo] = []
    StateLock(state_path).acquire(on_stale=reported.append)
    assert len(reported) == 1


def test_a_lock_of_another_host_is_never_taken_over(state_path: Path) -> None:
    write_lock(state_path, host="elsewhere.example", pid=2**22 + 12345)
    with pytest.raises(StateLockedError, match=r"alice@elsewhere\.example"):
        StateLock(state_path, sleep=lambda s: None).acquire(timeout=1)


def test_an_unreadable_lock_is_reported(state_path: Path) -> None:
    lock_path_for(state_path).write_text("{not json", encoding="utf-8")
    with pytest.raises(StateLockedError, match=r"unreadable .*delete that file"):
        StateLock(state_path, sleep=lambda s: None).acquire(timeout=0.1)


def test_release_after_someone_broke_the_lock_leaves_the_new_lock(
    state_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lock = StateLock(state_path)
    lock.acquire()
    lock_path_for(state_path).unlink()
    other = write_lock(state_path)
    lock.release()
    assert read_lock(state_path) == other
    assert "was broken by someone else" in caplog.text


def test_break_a_foreign_host_lock(state_path: Path) -> None:
    held = write_lock(state_path)
    assert break_lock(state_path, held.lock_id) == held
    assert read_lock(state_path) is None


def test_break_a_dead_local_lock(state_path: Path, holder: Holder) -> None:
    holder.kill()
    assert break_lock(state_path, holder.lock_id).pid == holder.pid
    assert read_lock(state_path) is None


def test_break_refuses_a_live_local_lock(state_path: Path, holder: Holder) -> None:
    with pytest.raises(StateError, match=f"refusing to unlock .*pid {holder.pid}.*still running"):
        break_lock(state_path, holder.lock_id)
    assert read_lock(state_path) is not None


def test_break_refuses_a_wrong_id(state_path: Path) -> None:
    held = write_lock(state_path)
    with pytest.raises(StateError, match=f"lock id nope does not match .*{held.lock_id}"):
        break_lock(state_path, "nope")
    assert read_lock(state_path) == held


def test_break_an_unlocked_state(state_path: Path) -> None:
    with pytest.raises(StateError, match="is not locked"):
        break_lock(state_path, "x")


def test_is_alive() -> None:
    assert is_alive(os.getpid())
    assert not is_alive(0)
    assert not is_alive(2**22 + 12345)

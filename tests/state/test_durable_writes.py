"""Durable writes of the state store, the lock and the plan file on a full disk.

Each write completes or fails with a clear error, and a failed write leaves nothing that a
later load could misread: fault injection at every write (short writes, ENOSPC, EIO on
fsync) and, where the test may mount one, a real tmpfs a few KiB large.
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import pytest
from state_factories import make_order, make_record

from oneatlas_plan import _files
from oneatlas_plan.errors import InputError, StateError, StateLockedError
from oneatlas_plan.planning.planfile import read_plan, write_plan
from oneatlas_plan.state.lock import (
    UNREADABLE_GRACE,
    StateLock,
    UnreadableLockError,
    break_lock,
    is_alive,
    lock_path_for,
    read_lock,
)
from oneatlas_plan.state.model import ResourceRecord
from oneatlas_plan.state.store import StateStore
from tests.diskfaults import WriteFaults, fill, small_filesystem

KINDS = ("short", "enospc", "eio-fsync")


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


# ------------------------------------------------------------------------------ _files


def test_write_all_loops_over_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []

    def one_byte(fd: int, data: memoryview | bytes) -> int:
        sizes.append(len(data))
        return os.write(fd, data[:1])

    monkeypatch.setattr(_files, "_write", one_byte)
    target = tmp_path / "f"
    _files.write_atomic(target, b"hello world")
    assert target.read_bytes() == b"hello world"
    assert len(sizes) == len(b"hello world")


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_append_is_truncated_away(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "journal"
    path.write_bytes(b"line 1\n")
    fd = os.open(path, os.O_RDWR | os.O_APPEND)
    try:
        with WriteFaults(kind, fail_at=1).active(), pytest.raises(OSError) as raised:
            _files.append(fd, b"line 2 is long enough to be cut in half\n")
    finally:
        os.close(fd)
    assert raised.value.errno in (errno.ENOSPC, errno.EIO)
    assert path.read_bytes() == b"line 1\n"


def test_the_truncation_after_a_failed_append_is_fsynced_through_the_injected_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal"
    path.write_bytes(b"line 1\n")
    synced_sizes: list[int] = []

    def fsync(fd: int) -> None:
        synced_sizes.append(os.fstat(fd).st_size)
        os.fsync(fd)

    def half(fd: int, data: memoryview | bytes) -> int:
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_files, "_write", half)
    monkeypatch.setattr(_files, "_fsync", fsync)
    fd = os.open(path, os.O_RDWR | os.O_APPEND)
    try:
        with pytest.raises(OSError):
            _files.append(fd, b"line 2\n")
    finally:
        os.close(fd)
    assert path.read_bytes() == b"line 1\n"
    # the write failed before any fsync of the data: the one fsync is of the truncated file
    assert synced_sizes == [len(b"line 1\n")]


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_replace_keeps_the_old_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b"old")
    with WriteFaults(kind, fail_at=1).active(), pytest.raises(OSError):
        _files.write_atomic(path, b"new content" * 100)
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_exclusive_create_creates_nothing(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x.lock"
    with WriteFaults(kind, fail_at=1).active(), pytest.raises(OSError):
        _files.create_exclusive(path, b'{"lock": 1}\n')
    assert not path.exists()
    assert _leftovers(tmp_path) == []
    assert _files.create_exclusive(path, b"a") is True
    assert _files.create_exclusive(path, b"b") is False
    assert path.read_bytes() == b"a"


def test_reads_refuse_fifos_and_devices_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    zero = tmp_path / "zero"
    zero.symlink_to("/dev/zero")
    for path in (fifo, zero, tmp_path):
        with pytest.raises(_files.NotRegularFileError):
            _files.read_regular(path, 1024)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(_files.FileTooLargeError):
        _files.read_regular(big, 1024)
    assert _files.read_regular(big, 4096) == b"x" * 2048


# ------------------------------------------------------------------------------ state store


def _records(n: int) -> list[ResourceRecord]:
    return [make_record(f"spec.order.aoi-{i}", make_order(f"k{i}", "pending")) for i in range(n)]


@pytest.mark.parametrize("kind", KINDS)
def test_every_store_write_fails_cleanly(state_path: Path, kind: str) -> None:
    """Fail the n-th write for every n: the call that failed raises StateError and is not
    recorded; every call that returned is recorded; the state always loads."""
    records = _records(4)
    n = 1
    while True:
        for leftover in state_path.parent.iterdir():
            leftover.unlink()
        faults = WriteFaults(kind, fail_at=n)
        returned: list[str] = []
        with faults.active():
            store = StateStore(state_path)
            try:
                for record in records:
                    store.record(record)
                    returned.append(record.address)
                store.close()
            except StateError as error:
                assert "No space left" in str(error) or "Input/output error" in str(error)
                if faults.full and len(returned) < len(records):  # (a full disk stays full)
                    with pytest.raises(StateError):  # a failed store writes nothing more
                        store.record(records[-1])
        loaded = StateStore(state_path).load()
        assert sorted(loaded.resources) == returned, (kind, n)
        assert _leftovers(state_path.parent) == []
        if not faults.fired:
            assert returned == [r.address for r in records]
            break
        n += 1
    assert n > len(records)  # every write of the run was tried


@pytest.mark.parametrize("kind", ["short", "enospc"])
def test_the_records_of_one_order_are_written_all_or_none(state_path: Path, kind: str) -> None:
    """The pending records of an order with several resources: one journal line."""
    with StateStore(state_path) as store:
        store.record(make_record("s.o.first"))
    together = _records(3)
    store = StateStore(state_path)
    store.load()
    faults = WriteFaults(kind, fail_at=1, target=r"\.journal$")
    with faults.active(), pytest.raises(StateError, match="writing the journal"):
        store.record_all(together)
    store.close()
    assert sorted(StateStore(state_path).load().resources) == ["s.o.first"]
    with StateStore(state_path) as store:
        store.load()
        serial = store.state().serial
        store.record_all(together)
        assert store.state().serial == serial + 1
        store.record_all(together)  # unchanged: no new line
        assert store.state().serial == serial + 1
    loaded = StateStore(state_path).load()
    assert sorted(loaded.resources) == sorted(["s.o.first", *(r.address for r in together)])


def test_a_journal_line_without_its_newline_is_not_recorded(state_path: Path) -> None:
    with StateStore(state_path, fsync=False) as store:
        store.record(make_record("a.b.c"))
    state = json.loads(state_path.read_text())
    line = {
        "lineage": state["lineage"], "serial": state["serial"] + 1, "at": "2026-01-01T00:00:00Z",
        "op": "remove", "address": "a.b.c",
    }  # fmt: skip
    journal = state_path.with_name(state_path.name + ".journal")
    journal.write_text(json.dumps(line))  # complete JSON, but its newline never made it
    assert "a.b.c" in StateStore(state_path).load().resources
    journal.write_text(json.dumps(line) + "\n")
    assert "a.b.c" not in StateStore(state_path).load().resources


def test_a_state_or_journal_that_is_a_fifo_or_dev_zero_is_refused(state_path: Path) -> None:
    os.mkfifo(state_path)
    with pytest.raises(StateError, match="not a regular file"):
        StateStore(state_path).load()
    state_path.unlink()
    state_path.symlink_to("/dev/zero")
    with pytest.raises(StateError, match="not a regular file"):
        StateStore(state_path).load()
    state_path.unlink()
    with StateStore(state_path, fsync=False) as store:
        store.record(make_record("a.b.c"))
    journal = state_path.with_name(state_path.name + ".journal")
    journal.symlink_to("/dev/zero")
    with pytest.raises(StateError, match=r"journal .* not a regular file"):
        StateStore(state_path).load()


def test_store_on_a_real_full_filesystem(tmp_path: Path) -> None:
    """A 64 KiB tmpfs filled to a few KiB: records go in until the disk is full, then a
    clear StateError; what returned is on disk, what failed is not, the state loads."""
    with small_filesystem(tmp_path / "small", 64) as root:
        fill(root, leave=8 * 1024)
        state_path = root / "state.json"
        returned: list[str] = []
        store = StateStore(state_path)
        with pytest.raises(StateError, match="No space left on device"):
            for record in _records(400):
                store.record(record)
                returned.append(record.address)
        store.close()
        assert returned, "a few records should fit"
        assert sorted(StateStore(state_path).load().resources) == sorted(returned)
        assert _leftovers(root) == []


# ------------------------------------------------------------------------------ lock


@pytest.mark.parametrize("kind", KINDS)
def test_creating_the_lock_on_a_full_disk(state_path: Path, kind: str) -> None:
    with WriteFaults(kind, fail_at=1).active(), pytest.raises(StateError) as raised:
        StateLock(state_path).acquire()
    assert "cannot create the lock file" in str(raised.value)
    assert str(lock_path_for(state_path)) in str(raised.value)
    assert not lock_path_for(state_path).exists(), "no empty lock may be left behind"
    assert _leftovers(state_path.parent) == []
    with StateLock(state_path):  # and nothing blocks the next run
        pass


def test_lock_on_a_real_full_filesystem(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "small", 16) as root:
        fill(root, leave=0)
        state_path = root / "state.json"
        with pytest.raises(StateError, match="cannot create the lock file"):
            StateLock(state_path).acquire()
        assert not lock_path_for(state_path).exists()
        (root / "filler").unlink()
        with StateLock(state_path):
            assert read_lock(state_path) is not None


@pytest.mark.parametrize("content", [b"", b"garbage", b'{"lock_id": "x"'], ids=repr)
def test_an_unreadable_lock_left_by_an_older_version(state_path: Path, content: bytes) -> None:
    lock = lock_path_for(state_path)
    lock.write_bytes(content)
    with pytest.raises(StateLockedError, match="unreadable"):  # fresh: maybe being written
        StateLock(state_path, sleep=lambda s: None).acquire(timeout=1)
    _age(lock, UNREADABLE_GRACE + 1)
    taken: list[str] = []
    with StateLock(state_path, on_stale=lambda info: taken.append(info.describe())):
        assert read_lock(state_path) is not None
    assert len(taken) == 1


def test_an_unreadable_takeover_file_does_not_block_forever(state_path: Path) -> None:
    lock = lock_path_for(state_path)
    lock.write_text(
        json.dumps({"lock_id": "dead", "user": "u", "host": os.uname().nodename,
                    "pid": 999_999_999, "created_at": "2026-01-01T00:00:00Z"})
    )  # fmt: skip
    takeover = state_path.with_name(state_path.name + ".lock.takeover")
    takeover.write_bytes(b"")
    _age(takeover, UNREADABLE_GRACE + 1)
    assert break_lock(state_path, "dead").lock_id == "dead"
    assert not lock.exists() and not takeover.exists()


def test_a_lock_with_an_impossible_pid(state_path: Path) -> None:
    assert is_alive(10**30) is False
    lock_path_for(state_path).write_text(
        json.dumps({"lock_id": "x", "user": "u", "host": "h", "pid": 10**30,
                    "created_at": "2026-01-01T00:00:00Z"})
    )  # fmt: skip
    with pytest.raises(UnreadableLockError, match="is not a process id"):
        read_lock(state_path)
    with pytest.raises(StateError, match="unreadable"):
        break_lock(state_path, "x")
    with pytest.raises(StateLockedError, match="is not a process id"):
        StateLock(state_path).acquire(timeout=0)


# ------------------------------------------------------------------------------ plan file


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_plan_write_keeps_the_previous_plan(tmp_path: Path, kind: str) -> None:
    from tests.reliability.test_hostile_input import write_empty_plan

    path = write_empty_plan(tmp_path / "plan.json", "http://127.0.0.1:9")
    before = path.read_bytes()
    plan = read_plan(path)
    other = plan.model_copy(update={"endpoint": "http://127.0.0.1:10"}).sealed()
    with WriteFaults(kind, fail_at=1).active(), pytest.raises(InputError) as raised:
        write_plan(other, path)
    assert f"{path}: cannot write the plan file" in str(raised.value)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []
    write_plan(other, path)
    assert read_plan(path).endpoint == "http://127.0.0.1:10"


def test_plan_write_fsyncs_the_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.reliability.test_hostile_input import write_empty_plan

    plan = read_plan(write_empty_plan(tmp_path / "p.json", "http://127.0.0.1:9"))
    synced: list[bool] = []

    def fsync(fd: int) -> None:
        synced.append(os.path.isdir(f"/proc/self/fd/{fd}"))
        os.fsync(fd)

    monkeypatch.setattr(_files, "_fsync", fsync)
    write_plan(plan, tmp_path / "q.json")
    assert synced == [False, True]  # the file, then its directory after the rename

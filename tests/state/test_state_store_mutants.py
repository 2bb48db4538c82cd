"""State store promises that the round-4 mutation run (docs/mutation-testing.md) found
unguarded: the states handed to callers are theirs, a journal is fsynced before a change
returns, hand-damaged journal lines are refused by line and reason, and the errors say what
failed and what was kept."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from state_factories import make_record

from oneatlas_plan import _files as durable
from oneatlas_plan.errors import StateError
from oneatlas_plan.state.store import StateStore, format_validation_error


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def _append(store: StateStore, line: dict[str, object]) -> None:
    with open(store.journal_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def _crashed(state_path: Path) -> tuple[StateStore, str]:
    """S at serial 1 (a), a journal with serial 2 (b), never folded."""
    store = StateStore(state_path, fsync=False)
    store.record(make_record("a"))
    store.checkpoint()
    store.record(make_record("b"))
    return store, str(json.loads(state_path.read_text())["lineage"])


# ------------------------------------------------------------------ copies handed to callers
@pytest.mark.parametrize("on_disk", ["nothing", "a crashed run's journal"])
def test_a_loaded_state_changed_by_its_caller_is_never_written(
    state_path: Path, on_disk: str
) -> None:
    if on_disk != "nothing":
        _crashed(state_path)
    store = StateStore(state_path, fsync=False)
    loaded = store.load()
    loaded.resources["ghost"] = make_record("ghost")  # the caller's own scratch copy
    store.record(make_record("c"))  # folds what it holds into the file first
    store.close()
    assert "ghost" not in StateStore(state_path).load().resources


def test_a_replaced_state_changed_by_its_caller_afterwards_is_never_written(
    state_path: Path,
) -> None:
    store = StateStore(state_path, fsync=False)
    pushed = store.load()
    pushed.resources["a"] = make_record("a")
    store.replace(pushed)
    pushed.resources["ghost"] = make_record("ghost")
    store.record(make_record("c"))
    store.close()
    assert sorted(StateStore(state_path).load().resources) == ["a", "c"]


# ------------------------------------------------------------------- what a change records
def test_a_journal_line_records_when_the_change_was_made(state_path: Path) -> None:
    at = datetime(2026, 11, 30, 19, 5, 7, tzinfo=UTC)
    store = StateStore(state_path, fsync=False, clock=lambda: at)
    store.record(make_record("a"))
    (line,) = _lines(store.journal_path)
    assert (line["serial"], line["at"], line["address"]) == (1, "2026-11-30T19:05:07Z", "a")


def test_the_journal_is_created_readable_not_executable(state_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        store = StateStore(state_path, fsync=False)
        store.record(make_record("a"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(store.journal_path.stat().st_mode) == 0o644


# ------------------------------------------------------------------------------- durability
class _Fsyncs:
    """Which files and directories were fsynced, in order (the real fsync still runs)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.calls: list[str] = []

    def __call__(self, fd: int) -> None:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            self.calls.append("dir")
        else:
            (name,) = [p.name for p in self.directory.iterdir() if p.stat().st_ino == info.st_ino]
            temp = re.fullmatch(r"\.(state\.json(?:\.backup)?)\.\w+\.tmp", name)
            self.calls.append(f"temp {temp.group(1)}" if temp else name)
        os.fsync(fd)


@pytest.fixture
def fsyncs(state_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Fsyncs]:
    spy = _Fsyncs(state_path.parent)
    monkeypatch.setattr(durable, "_fsync", spy)
    yield spy


def _no_links(source: object, target: object) -> None:
    raise OSError(1, "Operation not permitted")


def test_every_write_is_fsynced_before_the_call_returns(
    state_path: Path, fsyncs: _Fsyncs, monkeypatch: pytest.MonkeyPatch
) -> None:
    with StateStore(state_path, fsync=False) as store:
        store.record(make_record("a"))  # S exists, no journal
    store = StateStore(state_path)
    store.record(make_record("b"))
    # the new journal's directory entry, then the line itself: before record() returns
    assert fsyncs.calls == ["dir", "state.json.journal"]
    fsyncs.calls.clear()
    monkeypatch.setattr(os, "link", _no_links)  # the backup is then a copy, fsynced too
    store.close()
    # the new state's temp file; before it replaces S, the backup copy (temp, then dir);
    # the rename (dir); the journal's removal (dir)
    assert fsyncs.calls == [
        "temp state.json", "temp state.json.backup", "dir", "dir", "dir"
    ]
    assert sorted(p.name for p in state_path.parent.iterdir()) == [
        "state.json", "state.json.backup"
    ]


def test_a_store_without_fsync_never_fsyncs(
    state_path: Path, fsyncs: _Fsyncs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``fsync=False`` is what tests and benchmarks use: it must mean it everywhere."""
    monkeypatch.setattr(os, "link", _no_links)
    for _ in range(2):  # a first file, then a backup copy
        with StateStore(state_path, fsync=False) as store:
            store.record(make_record("a" if store.exists() else "b"))
    assert fsyncs.calls == []
    assert sorted(StateStore(state_path).load().resources) == ["a", "b"]


# ------------------------------------------------------- damaged journals: refused, by line
def test_a_journal_line_without_a_serial_is_refused_not_skipped(state_path: Path) -> None:
    store, lineage = _crashed(state_path)
    _append(store, {"lineage": lineage, "serial": "3", "op": "put", "address": "c",
                    "record": make_record("c").model_dump(mode="json")})
    _append(store, {"lineage": lineage, "serial": 3, "op": "put", "address": "d",
                    "record": make_record("d").model_dump(mode="json")})
    with pytest.raises(StateError) as refused:
        StateStore(state_path).load()
    assert f"state journal {store.journal_path} has no serial at line 2 ('3')" in str(
        refused.value
    )


def test_a_retired_index_beyond_the_list_is_refused(state_path: Path) -> None:
    store, lineage = _crashed(state_path)
    store.remove("a")  # retired: [a's order] (serial 3)
    _append(store, {"lineage": lineage, "serial": 4, "op": "retired", "index": 1,
                    "entry": json.loads(json.dumps(store.state().retired[0].model_dump(
                        mode="json")))})
    with pytest.raises(StateError) as refused:
        StateStore(state_path).load()
    assert "has an invalid change at line 3: missing 'retired[1]'" in str(refused.value)


def test_an_unknown_journal_operation_is_refused_by_name(state_path: Path) -> None:
    store, lineage = _crashed(state_path)
    _append(store, {"lineage": lineage, "serial": 3, "op": "frobnicate", "address": "a"})
    with pytest.raises(StateError) as refused:
        StateStore(state_path).load()
    assert "has an invalid change at line 2: missing \"op 'frobnicate'\"" in str(refused.value)


def test_a_journal_line_that_is_not_an_object_is_named(state_path: Path) -> None:
    store, lineage = _crashed(state_path)
    with open(store.journal_path, "a", encoding="utf-8") as handle:
        handle.write("[1, 2]\n" + json.dumps({"lineage": lineage, "serial": 3}) + "\n")
    with pytest.raises(StateError) as refused:
        StateStore(state_path).load()
    assert f"state journal {store.journal_path} has a corrupt line 2 (not an object)" in str(
        refused.value
    )


def test_a_garbled_last_line_is_a_torn_append_and_ignored(state_path: Path) -> None:
    """A crash can leave the last line's newline on disk without all of its bytes (a power
    cut): that line was never acted upon; the lines before it are replayed."""
    store, _ = _crashed(state_path)
    with open(store.journal_path, "ab") as handle:
        handle.write(b'{"lineage": "\x00\x00\x00\n')
    state = StateStore(state_path).load()
    assert (sorted(state.resources), state.serial) == (["a", "b"], 2)


def test_a_journal_of_another_state_names_both_lineages(state_path: Path) -> None:
    store, lineage = _crashed(state_path)
    store.journal_path.write_text(json.dumps({"lineage": "other-lineage", "serial": 2}) + "\n")
    with pytest.raises(StateError) as refused:
        StateStore(state_path).load()
    assert (f"belongs to another state (lineage other-lineage, the state file has {lineage})"
            in str(refused.value))


# -------------------------------------------------------- damaged state files: the reason
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{", "is not valid JSON (line 1, column 2: Expecting property name enclosed in "
               "double quotes; truncated?)"),
        (b"[" * 100_000, "is not a state file (JSON nested too deeply)"),
        (b'{"serial": ' + b"1" * 5000 + b"}", "is not valid JSON (Exceeds the limit (4300 "
                                              "digits) for integer string conversion"),
    ],
    ids=["truncated", "nested", "huge-number"],
)
def test_a_corrupt_state_file_says_why(state_path: Path, content: bytes, reason: str) -> None:
    state_path.write_bytes(content)
    with pytest.raises(StateError) as refused:
        StateStore(state_path).load()
    assert str(refused.value).startswith(f"state file {state_path} {reason}"), refused.value


# ------------------------------------------------------------ refused calls: what and why
def test_load_after_changes_is_refused_and_says_what_to_use(state_path: Path) -> None:
    store = StateStore(state_path, fsync=False)
    store.record(make_record("a"))
    with pytest.raises(StateError) as refused:
        store.load()
    assert str(refused.value) == f"{state_path}: load() after changes; use state() instead"


def test_updating_an_unknown_resource_names_the_state(state_path: Path) -> None:
    store = StateStore(state_path, fsync=False)
    with pytest.raises(StateError) as refused:
        store.update("nope", lambda r: r)
    assert str(refused.value) == f"no resource 'nope' in state {state_path}"


def _break(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> str:
    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(durable, "_write", full)
        with pytest.raises(StateError) as refused:
            store.record(make_record("b"))
    return str(refused.value)


def test_a_failed_journal_write_says_what_is_safe(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(state_path, fsync=False)
    store.record(make_record("a"))
    message = _break(store, monkeypatch)
    assert message == (
        f"writing the journal {store.journal_path} failed (No space left on device); this "
        "change was not recorded, the changes made before it are safe and will be folded on "
        "the next run"
    )
    with pytest.raises(StateError) as refused:  # a push onto a broken store: same reason
        store.replace(store.state())
    assert str(refused.value) == message
    store.close()  # keeps the journal: the next run folds it
    assert sorted(store.load().resources) == ["a"]  # readable again after close
    assert sorted(StateStore(state_path).load().resources) == ["a"]


def test_a_failed_state_write_says_the_file_was_not_changed(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(state_path, fsync=False)
    store.record(make_record("a"))
    store.checkpoint()
    before = state_path.read_bytes()
    store.record(make_record("b"))

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(durable, "_write", full)
    with pytest.raises(StateError) as refused:
        store.checkpoint()
    assert str(refused.value) == (
        f"cannot write state file {state_path}: No space left on device; it was not changed"
    )
    assert state_path.read_bytes() == before


# ----------------------------------------------------------------- the context manager
def _unremovable_journal(store: StateStore) -> None:
    """Closing will fold the journal, then fail to remove it (a directory took its name)."""
    store.journal_path.unlink()
    store.journal_path.mkdir()


def test_a_failed_close_is_reported_after_a_normal_run(state_path: Path) -> None:
    store = StateStore(state_path, fsync=False)
    with pytest.raises(StateError, match="cannot remove the folded journal"), store:
        store.record(make_record("a"))
        _unremovable_journal(store)


def test_a_failed_close_does_not_hide_the_error_that_ended_the_run(state_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), StateStore(state_path, fsync=False) as store:
        store.record(make_record("a"))
        _unremovable_journal(store)
        raise KeyboardInterrupt


# ------------------------------------------------------------------ validation summaries
class _Many(BaseModel):
    values: list[int]


def _summary(count: int) -> str:
    with pytest.raises(ValidationError) as caught:
        _Many.model_validate({"values": ["x"] * count})
    return format_validation_error(caught.value)


def test_validation_summaries_are_exact() -> None:
    one = "Input should be a valid integer, unable to parse string as an integer"
    assert _summary(1) == f"values[0]: {one}"
    assert _summary(5) == "; ".join(f"values[{i}]: {one}" for i in range(5))
    assert _summary(6) == "; ".join(f"values[{i}]: {one}" for i in range(5)) + "; and 1 more"

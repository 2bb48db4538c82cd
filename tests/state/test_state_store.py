from __future__ import annotations

import itertools
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from state_factories import make_order, make_record

from oneatlas_plan import _files as durable
from oneatlas_plan.errors import StateError
from oneatlas_plan.state.backends import StateStore as BackendStore
from oneatlas_plan.state.backends import open_backend
from oneatlas_plan.state.model import ResourceRecord, State
from oneatlas_plan.state.store import StateStore


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_a_missing_state_is_new_and_not_written(store: StateStore, state_path: Path) -> None:
    state = store.load()
    assert state.serial == 0
    assert state.resources == {}
    assert not store.exists()
    store.close()
    assert _files(state_path.parent) == []


def test_record_makes_the_file_then_journals(store: StateStore, state_path: Path) -> None:
    store.record(make_record("a"))
    assert _files(state_path.parent) == ["state.json", "state.json.journal"]
    on_disk = json.loads(state_path.read_text(encoding="utf-8"))
    assert on_disk["serial"] == 0  # the first version (empty) is written before the journal
    line = json.loads(store.journal_path.read_text(encoding="utf-8"))
    assert (line["op"], line["serial"], line["address"]) == ("put", 1, "a")
    assert line["record"]["orders"][0]["order_key"] == "k1"


def test_persisting_records_appends_to_the_journal_without_rewriting_the_state(
    store: StateStore, state_path: Path
) -> None:
    store.record(make_record("first"))
    before = state_path.stat()
    content = state_path.read_bytes()
    sizes = []
    for index in range(50):
        store.record(make_record(f"r{index}"))
        sizes.append(store.journal_path.stat().st_size)
    after = state_path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )
    assert state_path.read_bytes() == content
    # each change adds one line of about the same size: the cost does not grow with the state
    growth = [b - a for a, b in itertools.pairwise(sizes)]
    assert max(growth) - min(growth) < 10
    assert len(store.journal_path.read_text(encoding="utf-8").splitlines()) == 51
    store.checkpoint()
    assert state_path.stat().st_ino != before.st_ino
    assert not store.journal_path.exists()
    assert len(StateStore(state_path).load().resources) == 51


def test_serial_increments_and_lineage_is_stable(
    any_store: BackendStore, state_location: str
) -> None:
    store = any_store
    lineage = store.load().lineage
    store.record(make_record("a"))
    store.update("a", lambda r: r)  # no change: no new serial
    store.record(make_record("a"))
    assert store.state().serial == 1
    store.update("a", lambda r: make_record("a", make_order("k2")))
    store.record(make_record("b"))
    store.remove("b")
    assert store.state().serial == 4
    store.close()
    with open_backend(state_location) as reopened:
        state = reopened.store().load()
        assert (state.lineage, state.serial, list(state.resources)) == (lineage, 4, ["a"])
        assert state.resources["a"] == make_record("a", make_order("k2"))
        reopened.store().record(make_record("c"))
    with open_backend(state_location) as reopened:
        assert (reopened.store().load().serial, reopened.store().state().lineage) == (5, lineage)


def test_checkpoint_keeps_the_previous_version_as_backup(
    store: StateStore, state_path: Path
) -> None:
    store.record(make_record("a"))
    store.checkpoint()
    first = state_path.read_bytes()
    store.record(make_record("b"))
    store.checkpoint()
    assert store.backup_path.read_bytes() == first
    assert json.loads(state_path.read_text(encoding="utf-8"))["serial"] == 2


def test_update_passes_a_copy_and_records_the_result(any_store: BackendStore) -> None:
    any_store.record(make_record("a", make_order("k1", "pending")))
    seen: list[ResourceRecord] = []

    def settle(record: ResourceRecord) -> ResourceRecord:
        seen.append(record)
        record.orders[-1].status = "ordered"
        record.orders[-1].sales_order_id = "SO-1"
        return record

    updated = any_store.update("a", settle)
    assert updated.status == "ordered"  # re-derived from the latest order
    seen[0].orders[-1].status = "rejected"  # the caller's copy does not alias the store
    stored = any_store.get("a")
    assert stored is not None
    assert stored.orders[-1].status == "ordered"


@pytest.mark.parametrize("operation", ["update", "remove"])
def test_changing_an_unknown_address_fails(any_store: BackendStore, operation: str) -> None:
    with pytest.raises(StateError, match="no resource 'nope'"):
        if operation == "update":
            any_store.update("nope", lambda r: r)
        else:
            any_store.remove("nope")


def test_update_may_not_change_the_address(any_store: BackendStore) -> None:
    any_store.record(make_record("a"))
    with pytest.raises(StateError, match="returned the record of 'b'"):
        any_store.update("a", lambda r: make_record("b"))


def test_a_crash_before_the_rename_leaves_the_old_file_intact(
    store: StateStore, state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.record(make_record("a"))
    store.checkpoint()
    old = state_path.read_bytes()
    store.record(make_record("b"))
    real_replace = os.replace

    def crash(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        if Path(target) == state_path:
            raise OSError(28, "No space left on device (simulated crash)")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StateError, match=r"cannot write state file .*simulated crash"):
        store.checkpoint()
    monkeypatch.undo()
    assert state_path.read_bytes() == old
    assert [p.name for p in state_path.parent.glob("*.tmp")] == []  # temp file cleaned
    state = StateStore(state_path).load()  # the journal still holds "b"
    assert sorted(state.resources) == ["a", "b"]
    assert state.serial == 2


def _crashed_run(state_path: Path) -> StateStore:
    """A run that recorded two records and died without closing its store."""
    store = StateStore(state_path, fsync=False)
    store.record(make_record("a"))
    store.record(make_record("b"))
    return store  # never closed: the journal is left behind


def test_a_journal_left_by_a_crashed_run_is_replayed_on_load(state_path: Path) -> None:
    _crashed_run(state_path)
    state = StateStore(state_path).load()
    assert sorted(state.resources) == ["a", "b"]
    assert state.serial == 2
    assert json.loads(state_path.read_text(encoding="utf-8"))["serial"] == 0  # load never writes


def test_a_torn_last_journal_line_is_ignored(state_path: Path) -> None:
    store = _crashed_run(state_path)
    with open(store.journal_path, "ab") as journal:
        journal.write(b'{"lineage": "x", "serial": 3, "op": "put", "rec')
    state = StateStore(state_path).load()
    assert sorted(state.resources) == ["a", "b"]
    assert state.serial == 2


def test_the_next_writer_folds_a_leftover_journal_first(state_path: Path) -> None:
    crashed = _crashed_run(state_path)
    with open(crashed.journal_path, "ab") as journal:
        journal.write(b'{"torn')
    store = StateStore(state_path, fsync=False)
    store.load()
    store.record(make_record("c"))
    assert json.loads(state_path.read_text(encoding="utf-8"))["serial"] == 2  # folded
    lines = store.journal_path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["serial"] for line in lines] == [3]  # a fresh journal
    store.close()
    assert sorted(StateStore(state_path).load().resources) == ["a", "b", "c"]


def test_journal_lines_already_folded_are_skipped(state_path: Path) -> None:
    crashed = _crashed_run(state_path)
    journal = crashed.journal_path.read_bytes()
    crashed.close()  # folds; then pretend the crash came before the journal was removed
    crashed.journal_path.write_bytes(journal)
    state = StateStore(state_path).load()
    assert state.serial == 2
    assert sorted(state.resources) == ["a", "b"]


def test_a_corrupt_journal_line_in_the_middle_is_an_error(state_path: Path) -> None:
    crashed = _crashed_run(state_path)
    lines = crashed.journal_path.read_bytes().splitlines(keepends=True)
    crashed.journal_path.write_bytes(lines[0] + b"garbage\n" + lines[1])
    with pytest.raises(StateError) as caught:
        StateStore(state_path).load()
    message = str(caught.value)
    assert f"state journal {crashed.journal_path} has a corrupt line 2" in message
    assert f"{state_path}.backup" in message


def test_a_journal_gap_is_an_error(state_path: Path) -> None:
    crashed = _crashed_run(state_path)
    lines = crashed.journal_path.read_bytes().splitlines(keepends=True)
    crashed.journal_path.write_bytes(lines[1])
    with pytest.raises(StateError, match=r"has a gap at line 1 \(serial 2 after 0\)"):
        StateStore(state_path).load()


def test_a_journal_of_another_state_is_an_error(state_path: Path) -> None:
    crashed = _crashed_run(state_path)
    journal = crashed.journal_path.read_bytes()
    state_path.write_text(State.new().to_json(), encoding="utf-8")  # someone swapped the file
    crashed.journal_path.write_bytes(journal)
    with pytest.raises(StateError, match="belongs to another state"):
        StateStore(state_path).load()


def test_an_invalid_journal_record_is_an_error(state_path: Path) -> None:
    crashed = _crashed_run(state_path)
    lines = crashed.journal_path.read_text(encoding="utf-8").splitlines(keepends=True)
    entry = json.loads(lines[0])
    entry["record"]["orders"][0]["status"] = "shipped"
    crashed.journal_path.write_text(json.dumps(entry) + "\n" + lines[1], encoding="utf-8")
    with pytest.raises(StateError, match=r"invalid change at line 1: orders\[0\]\.status"):
        StateStore(state_path).load()


CORRUPTIONS = {
    "empty": (b"", "is empty (truncated?)"),
    "blank": (b"  \n", "is empty (truncated?)"),
    "truncated": (None, "is not valid JSON (line "),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\xff", "is not UTF-8 text (byte 0"),
    "not an object": (b"[1, 2]\n", "is not a state file (a JSON list)"),
    "future version": (
        b'{"version": 7, "lineage": "l", "serial": 1}',
        "cannot be read: state format version 7 was written by a newer oneatlas-plan",
    ),
    "no version": (b'{"lineage": "l"}', "cannot be read: not a state file: 'version' is None"),
    "invalid": (
        b'{"version": 2, "lineage": "l", "serial": -1, "resources": {}}',
        "is invalid: serial: Input should be greater than or equal to 0",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_corrupt_state_is_reported_with_its_backup(state_path: Path, case: str) -> None:
    store = StateStore(state_path, fsync=False)
    store.record(make_record("a"))
    store.checkpoint()  # the backup is the first, empty version: never proposed (see below)
    store.record(make_record("b"))
    store.checkpoint()  # the backup holds a
    good = state_path.read_bytes()
    content, problem = CORRUPTIONS[case]
    state_path.write_bytes(good[: len(good) // 3] if content is None else content)
    damaged = state_path.read_bytes()
    with pytest.raises(StateError) as caught:
        StateStore(state_path).load()
    message = str(caught.value)
    assert message.startswith(f"state file {state_path} {problem}")
    assert f"cp {state_path}.backup {state_path}" in message
    assert "serial 1 with 1 resource(s)" in message  # ... and what it lacks
    assert "after serial 1 are in neither file" in message
    assert state_path.read_bytes() == damaged  # never silently replaced


def test_a_corrupt_state_with_an_empty_backup_is_never_told_to_restore_it(
    state_path: Path,
) -> None:
    store = StateStore(state_path, fsync=False)
    store.record(make_record("a"))
    store.checkpoint()  # the backup is the first, empty version
    state_path.write_bytes(b"{not json")
    with pytest.raises(StateError) as caught:
        StateStore(state_path).load()
    message = str(caught.value)
    assert "EMPTY" in message and "Do not restore it" in message, message
    assert "cp " not in message


def test_a_corrupt_state_without_backup_says_so(state_path: Path) -> None:
    state_path.write_bytes(b"{")
    with pytest.raises(StateError, match=r"there is no backup \(.*state.json.backup does not"):
        StateStore(state_path).load()


@pytest.mark.parametrize("orphan", ["backup", "journal"])
def test_a_missing_state_next_to_its_backup_or_journal_is_refused(
    state_path: Path, orphan: str
) -> None:
    Path(f"{state_path}.{orphan}").write_text("{}", encoding="utf-8")
    with pytest.raises(StateError, match="refusing to start a new empty state"):
        StateStore(state_path).load()


def test_a_failed_journal_write_stops_further_changes(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.record(make_record("a"))

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(durable, "_write", full)  # the one seam of every durable write
    with pytest.raises(StateError, match=r"writing the journal .* failed"):
        store.record(make_record("b"))
    monkeypatch.undo()
    assert store.get("b") is None
    with pytest.raises(StateError, match="writing the journal"):
        store.record(make_record("c"))
    assert sorted(StateStore(store.path).load().resources) == ["a"]


def test_fsync_enabled_store_round_trips(state_path: Path) -> None:
    with StateStore(state_path) as store:
        store.record(make_record("a"))
        store.record(make_record("b"))
    assert _files(state_path.parent) == ["state.json", "state.json.backup"]
    assert StateStore(state_path).load().serial == 2


def test_the_state_file_keeps_its_permissions(state_path: Path) -> None:
    with StateStore(state_path, fsync=False) as store:
        store.record(make_record("a"))
    state_path.chmod(0o600)
    with StateStore(state_path, fsync=False) as store:
        store.record(make_record("b"))
    assert state_path.stat().st_mode & 0o777 == 0o600


# ------------------------------------------------------------------ retired orders


def test_removing_a_resource_retires_the_orders_that_spent(
    any_store: BackendStore, state_location: str
) -> None:
    """What was bought stays in the state when its resource leaves it (spec deleted, `state
    rm`): the orders that spent or may have, not those that never did."""
    any_store.record(
        make_record(
            "s.o.a",
            make_order("k0", "rejected"),
            make_order("k1", "ordered", amount=Decimal("250"), currency="EUR"),
            make_order("k2", "unknown", amount=Decimal("300"), currency="EUR"),
        )
    )
    any_store.record(make_record("s.o.b", make_order("k3", "quoted")))
    any_store.remove("s.o.a", "no longer in the specs")
    any_store.remove("s.o.b", "gone")
    assert any_store.state().serial == 4
    any_store.close()
    with open_backend(state_location) as reopened:
        state = reopened.store().load()
    assert state.resources == {}
    assert [(e.address, e.order.order_key, e.order.status) for e in state.retired] == [
        ("s.o.a", "k1", "ordered"),
        ("s.o.a", "k2", "unknown"),
    ]
    assert {e.reason for e in state.retired} == {"no longer in the specs"}
    assert state.retired[0].spec_file == "specs/a.yaml"
    assert state.spent() == {"EUR": Decimal("250")}


def test_a_retired_order_is_settled_durably(
    any_store: BackendStore, state_location: str
) -> None:
    any_store.record(make_record("s.o.a", make_order("k1", "unknown", amount=Decimal(9),
                                                     currency="EUR")))
    any_store.remove("s.o.a")
    entry = any_store.state().retired[0]
    order = entry.order.model_copy(update={"status": "not_ordered"})
    any_store.record_retired(0, entry.model_copy(update={"order": order}))
    with pytest.raises(StateError, match="no retired order #1"):
        any_store.record_retired(1, entry)
    any_store.close()
    with open_backend(state_location) as reopened:
        state = reopened.store().load()
        assert [e.order.status for e in state.retired] == ["not_ordered"]
        assert state.serial == 3


def test_removal_and_retirement_are_one_journal_line(store: StateStore) -> None:
    """One durable step: a crash can never leave the resource gone and its spend lost."""
    store.record(make_record("s.o.a", make_order("k1", amount=Decimal(5), currency="EUR")))
    store.remove("s.o.a", "gone")
    lines = store.journal_path.read_text(encoding="utf-8").splitlines()
    last = json.loads(lines[-1])
    assert (last["op"], last["address"]) == ("remove", "s.o.a")
    assert [r["order"]["order_key"] for r in last["retired"]] == ["k1"]
    replayed = StateStore(store.path).load()  # the journal alone, not folded yet
    assert [e.order.order_key for e in replayed.retired] == ["k1"]


def test_a_journal_line_with_broken_retired_orders_is_reported(store: StateStore) -> None:
    store.record(make_record("s.o.a"))
    store.close()
    line = {"lineage": store.load().lineage, "serial": 2, "op": "remove", "address": "s.o.a",
            "retired": {"not": "a list"}}
    store.journal_path.write_text(json.dumps(line) + "\n" + json.dumps(line | {"serial": 3})
                                  + "\n", encoding="utf-8")
    with pytest.raises(StateError, match="invalid change at line 1: missing 'retired"):
        StateStore(store.path).load()

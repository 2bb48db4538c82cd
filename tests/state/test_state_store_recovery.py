"""State store promises that mutation testing found unguarded (docs/mutation-testing.md):
a forgotten resource stays forgotten after a crash, callers get copies, errors name the file
that is broken, a backup is kept where hard links are not available."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from state_factories import make_order, make_record

from oneatlas_plan.errors import StateError
from oneatlas_plan.state.store import StateStore, format_validation_error


def _crashed(state_path: Path) -> StateStore:
    """Changes journaled, never folded (the process died before close)."""
    store = StateStore(state_path, fsync=False)
    store.load()
    store.record(make_record("a"))
    store.record(make_record("b"))
    store.remove("a")
    return store


def test_a_forgotten_resource_stays_forgotten_after_a_crash(state_path: Path) -> None:
    crashed = _crashed(state_path)
    (line,) = [json.loads(x) for x in crashed.journal_path.read_text().splitlines()][2:]
    assert (line["op"], line["address"], line["serial"]) == ("remove", "a", 3)
    state = StateStore(state_path).load()
    assert (sorted(state.resources), state.serial) == (["b"], 3)


def test_callers_get_copies_they_may_change(store: StateStore) -> None:
    store.record(make_record("a", make_order("k1", "pending")))
    state = store.state()
    state.resources["a"].orders[-1].status = "ordered"
    state.resources.pop("a")
    record = store.get("a")
    assert record is not None
    record.orders[-1].status = "rejected"
    again = store.get("a")
    assert again is not None and again.orders[-1].status == "pending"
    assert list(store.state().resources) == ["a"]
    # what record() and update() return is the caller's too
    for returned in (store.record(make_record("b", make_order("k2", "pending"))),
                     store.update("b", lambda r: r)):
        returned.orders[-1].status = "rejected"
        kept = store.get("b")
        assert kept is not None and kept.orders[-1].status == "pending"


def test_journal_errors_name_the_journal_not_the_state_file(state_path: Path) -> None:
    crashed = _crashed(state_path)
    lineage = json.loads(state_path.read_text())["lineage"]
    journal = crashed.journal_path
    with open(journal, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"lineage": lineage, "serial": 4, "op": "put"}) + "\n")
    with pytest.raises(StateError) as caught:
        StateStore(state_path).load()
    assert str(caught.value).startswith(
        f"state journal {journal} has an invalid change at line 4: missing 'record'"
    )
    lines = journal.read_text().splitlines()
    # (ended by its newline: a last line without one is an unfinished append, ignored)
    gap = json.dumps({"lineage": lineage, "serial": 9})
    journal.write_text("\n".join([*lines[:3], gap]) + "\n")
    with pytest.raises(StateError) as caught:
        StateStore(state_path).load()
    assert str(caught.value).startswith(
        f"state journal {journal} has a gap at line 4 (serial 9 after 3)"
    )
    other = json.dumps({"lineage": "other", "serial": 4})
    journal.write_text("\n".join([*lines[:3], other]) + "\n")
    with pytest.raises(StateError) as caught:
        StateStore(state_path).load()
    assert str(caught.value).startswith(f"state journal {journal} belongs to another state")


def test_an_unreadable_journal_is_reported_by_name(state_path: Path) -> None:
    crashed = _crashed(state_path)
    crashed.journal_path.unlink()
    crashed.journal_path.mkdir()
    with pytest.raises(StateError, match=f"cannot read journal {crashed.journal_path}: "):
        StateStore(state_path).load()


def test_a_backup_is_kept_where_hard_links_are_refused(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with StateStore(state_path) as store:
        store.record(make_record("a"))
    first = state_path.read_bytes()

    def no_links(source: object, target: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    with StateStore(state_path) as store:  # fsync on: the copy is made durable too
        store.record(make_record("b"))
    assert store.backup_path.read_bytes() == first
    assert sorted(StateStore(state_path).load().resources) == ["a", "b"]
    assert sorted(p.name for p in state_path.parent.iterdir()) == [
        "state.json",
        "state.json.backup",
    ]


class _Many(BaseModel):
    values: list[int]


def test_validation_errors_show_five_problems_then_a_count() -> None:
    with pytest.raises(ValidationError) as caught:
        _Many.model_validate({"values": ["x"] * 7})
    text = format_validation_error(caught.value)
    assert text.count("; ") == 5
    assert text.startswith("values[0]: Input should be a valid integer")
    assert text.endswith("values[4]: Input should be a valid integer, unable to parse string "
                         "as an integer; and 2 more")
    with pytest.raises(ValidationError) as caught:
        _Many.model_validate({"values": ["x"] * 5})
    assert "more" not in format_validation_error(caught.value)
    with pytest.raises(ValidationError) as caught:
        _Many.model_validate([])
    assert format_validation_error(caught.value).startswith("(top level): ")

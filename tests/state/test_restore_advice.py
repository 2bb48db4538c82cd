"""A lost state file: the advice says what restoring the backup gives back and what it lacks,
and never proposes an empty backup, or one missing orders, as if it were complete."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from state_factories import make_record

from oneatlas_plan.errors import StateError
from oneatlas_plan.state.store import StateStore


def _lose_the_state(path: Path) -> str:
    path.unlink()
    with pytest.raises(StateError) as refused:
        StateStore(path).load()
    return str(refused.value)


def test_backup_plus_journal_is_complete_and_the_advice_says_so(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = StateStore(path)
    store.record(make_record("a"))
    store.checkpoint()  # state: a (serial 1)
    shutil.copy(path, path.with_name("state.json.backup"))  # a backup as recent as the state
    store.record(make_record("b"))  # journal: b (serial 2); the run "crashes" here
    message = _lose_the_state(path)
    assert "serial 1 with 1 resource(s)" in message, message
    assert "replayed on load" in message and "serials 2–2: b" in message, message
    # ... and following it really gives every resource back.
    shutil.copy(path.with_name("state.json.backup"), path)
    assert set(StateStore(path).load().resources) == {"a", "b"}


def test_a_gap_between_backup_and_journal_is_named(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = StateStore(path)
    store.record(make_record("a"))
    store.checkpoint()  # state: a (serial 1)
    store.record(make_record("b"))
    store.checkpoint()  # state: a, b (serial 2); backup: a (serial 1)
    store.record(make_record("c"))  # journal: c (serial 3); the run "crashes" here
    message = _lose_the_state(path)
    assert "serial 1 with 1 resource(s)" in message, message
    assert "after serial 1 and before serial 3 are in neither file" in message, message
    assert "NOT in it" in message and "refresh" in message, message
    assert "mv " in message and "c," in message, message
    # following it gives a loadable state that indeed lacks b (and c), as the advice warns
    shutil.copy(path.with_name("state.json.backup"), path)
    path.with_name("state.json.journal").rename(path.with_name("state.json.journal.lost"))
    assert set(StateStore(path).load().resources) == {"a"}


def test_an_empty_backup_is_never_proposed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = StateStore(path)
    store.record(make_record("a"))
    store.checkpoint()  # backup: the empty first version (serial 0)
    store.close()
    message = _lose_the_state(path)
    assert "EMPTY" in message and "Do not restore it" in message, message
    assert "cp " not in message


def test_a_backup_missing_orders_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = StateStore(path)
    for name in ("a", "b", "c"):
        store.record(make_record(name))
        store.checkpoint()  # the journal is folded each time: backup = serial 2, state = 3
    store.close()
    message = _lose_the_state(path)
    assert "serial 2 with 2 resource(s)" in message, message
    assert "are in neither file" in message and "NOT in it" in message, message
    assert "refresh" in message

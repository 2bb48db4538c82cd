"""A lost state file: the advice says what restoring the backup gives back and what it lacks,
and never proposes an empty backup, or one missing orders, as if it were complete."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from state_factories import make_record

from oneatlas_plan.errors import StateError
from oneatlas_plan.state.store import StateStore, restore_advice


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


# ---------------------------------------------------------------- the advice, word for word
# restore_advice() is what a user with a damaged state reads before deciding what to copy,
# move or delete: a wrong path, count or serial there can lose an order record (and the next
# apply buys the image again), so each branch is checked in full.

B = Path("/s/state.json.backup")
S = Path("/s/state.json")
J = Path("/s/state.json.journal")


def _line(serial: int, address: str, lineage: str = "L") -> dict[str, object]:
    return {"lineage": lineage, "serial": serial, "op": "put", "address": address}


def _backup(serial: int, *addresses: str, status: str = "ordered") -> dict[str, object]:
    return {
        "lineage": "L",
        "serial": serial,
        "resources": {a: {"status": status} for a in addresses},
    }


def test_advice_without_a_usable_backup_names_the_file_to_keep() -> None:
    assert restore_advice(None, [], B, S, J) == (
        "There is no usable backup: do not plan or apply until the state is rebuilt, or every "
        "owned image would be ordered again. Compare with Airbus (refresh/orders search), or "
        "delete /s/state.json.backup only if starting afresh is really intended."
    )
    # a journal without a usable backup: it is the only trace of the latest orders; only it
    # may be deleted, and only on purpose
    journal = [_line(5, "a"), _line(6, "b")]
    assert restore_advice({"resources": []}, journal, B, S, J) == (
        "There is no usable backup; /s/state.json.journal holds 2 later change(s) but no full "
        "state: do not plan or apply until the state is rebuilt, or every owned image would be "
        "ordered again. Compare with Airbus (refresh/orders search), or delete "
        "/s/state.json.journal only if starting afresh is really intended."
    )


def test_advice_on_an_empty_backup_says_do_not_restore() -> None:
    assert restore_advice(_backup(0), [], B, S, J) == (
        "the backup /s/state.json.backup is serial 0 with 0 resource(s) (0 ordered or in "
        "doubt): it is EMPTY, and restoring it would order every owned image again. Do not "
        "restore it; rebuild the state from Airbus's orders (refresh/orders search) or delete "
        "/s/state.json.backup only if starting afresh is really intended."
    )


def test_advice_counts_the_orders_the_backup_holds_or_is_unsure_of() -> None:
    backup: dict[str, object] = {
        "lineage": "L",
        "resources": {  # no "serial": an older or damaged backup is read as serial 0
            "o": {"status": "ordered"}, "q": {"status": "quoted"}, "u": {"status": "unknown"},
            "p": {"status": "pending"}, "r": {"status": "rejected"},
            "n": {"status": "not_ordered"}, "x": {}, "bad": ["not", "a", "record"],
        },
    }
    assert restore_advice(backup, [], B, S, J) == (
        "the backup /s/state.json.backup is serial 0 with 8 resource(s) (4 ordered or in "
        "doubt); changes after serial 0 are in neither file: orders placed then are NOT in it, "
        "and the next plan would buy them again. Restore it (cp /s/state.json.backup "
        "/s/state.json), then run `state list` and `refresh` and compare with Airbus's orders "
        "before any apply."
    )


def test_advice_when_the_journal_continues_the_backup() -> None:
    journal: list[dict[str, object]] = [
        _line(3, "folded"),  # at or below the backup's serial: already in it
        *(_line(4 + i, name) for i, name in enumerate("edcba")),
        _line(9, "foreign", lineage="another state"),
        {"lineage": "L", "op": "put", "address": "no-serial"},
    ]
    assert restore_advice(_backup(3, "x"), journal, B, S, J) == (
        "the backup /s/state.json.backup is serial 3 with 1 resource(s) (1 ordered or in "
        "doubt); the journal holds the 5 change(s) after it (serials 4–8: a, b, c, d, e), "
        "replayed on load: restore with cp /s/state.json.backup /s/state.json and keep "
        "/s/state.json.journal."
    )
    # more than five resources changed: five are named, the rest elided
    journal = [_line(4 + i, name) for i, name in enumerate("fedcba")]
    assert restore_advice(_backup(3, "x"), journal, B, S, J) == (
        "the backup /s/state.json.backup is serial 3 with 1 resource(s) (1 ordered or in "
        "doubt); the journal holds the 6 change(s) after it (serials 4–9: a, b, c, d, e …), "
        "replayed on load: restore with cp /s/state.json.backup /s/state.json and keep "
        "/s/state.json.journal."
    )


def test_advice_when_changes_are_in_neither_file() -> None:
    journal = [_line(5 + i, name) for i, name in enumerate("fedcba")]
    assert restore_advice(_backup(2, "x", "y", status="rejected"), journal, B, S, J) == (
        "the backup /s/state.json.backup is serial 2 with 2 resource(s) (0 ordered or in "
        "doubt); changes after serial 2 and before serial 5 are in neither file: orders placed "
        "then are NOT in it, and the next plan would buy them again. Restore it (cp "
        "/s/state.json.backup /s/state.json), move /s/state.json.journal aside (mv "
        "/s/state.json.journal /s/state.json.journal.lost: its 6 later change(s), a, b, c, d, e, "
        "cannot be replayed over the gap), then run `state list` and `refresh` and compare "
        "with Airbus's orders before any apply."
    )


def test_the_store_reads_damaged_backups_and_journals_for_its_advice(tmp_path: Path) -> None:
    """The advice is given when things are already broken: a backup that is JSON but not an
    object, a journal line that is not an object, lines written by another JSON writer."""
    path = tmp_path / "state.json"
    backup = tmp_path / "state.json.backup"
    journal = tmp_path / "state.json.journal"
    backup.write_text("[1, 2]\n", encoding="utf-8")
    journal.write_text(
        json.dumps(_line(5, "a")) + "\n7\n" + json.dumps(_line(6, "b")) + "\n{torn",
        encoding="utf-8",
    )
    with pytest.raises(StateError) as refused:
        StateStore(path).load()
    assert str(refused.value) == (
        f"state file {path} is missing but {journal} and {backup} exist(s): refusing to start "
        "a new empty state (which would order everything again). There is no usable backup; "
        f"{journal} holds 2 later change(s) but no full state: do not plan or apply until the "
        "state is rebuilt, or every owned image would be ordered again. Compare with Airbus "
        f"(refresh/orders search), or delete {journal} only if starting afresh is really "
        "intended."
    )

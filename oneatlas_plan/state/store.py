"""The state store: an atomically replaced JSON file plus an append-only journal.

Files next to the state ``S``:

* ``S`` — the state as canonical JSON; always complete (replaced with temp file + fsync +
  rename + directory fsync), never written in place.
* ``S.backup`` — the previous version of ``S`` (kept by every checkpoint).
* ``S.journal`` — one JSON line per change made since the last checkpoint, each completely
  written, fsynced and read back before the call returns (a short write or ``ENOSPC``
  truncates the line away and raises :class:`StateError`): ``{"lineage", "serial", "op":
  "put"|"remove", "address", "record"}``, or ``"op": "put_many", "records": [...]`` for
  records that must be written together or not at all (the pending records of one order).
  A ``remove`` line carries the resource's ``retired`` orders, so a resource leaves the state
  and its spend is kept in one durable step (``"op": "retired", "index", "entry"`` settles
  one retired order later).
  Persisting one record costs one short line, not a rewrite of ``S``.
* ``S.lock`` — see :mod:`oneatlas_plan.state.lock`.

:meth:`StateStore.load` reads ``S`` and replays the journal in memory (lines whose serial is
not above the file's were already folded; a torn last line, from a crash in the middle of
an append or a failed append, is ignored: a line counts only once its final newline is on
disk, and the change it records was not acted upon before that). Loading never writes,
so ``state list`` can read while ``apply`` runs. The first change made by a store folds a
journal left over from a crashed run into ``S``; :meth:`StateStore.checkpoint` and
:meth:`StateStore.close` fold the journal.

Writers must hold the state lock. A store is meant for one thread at a time; its methods
are serialized by an internal lock, so a stray call from another thread cannot interleave
journal lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import ValidationError

from oneatlas_plan import _canonical, _files, _testhooks
from oneatlas_plan._bulk import bulk
from oneatlas_plan.errors import StateError
from oneatlas_plan.state.migrations import migrate
from oneatlas_plan.state.model import (
    REMOVED,
    ResourceRecord,
    RetiredOrder,
    State,
    dumps_line,
    retire,
    updated_record,
    utc_iso,
    utc_now,
)

# Bounds what a hostile or runaway file can cost (a real state is a few MB at most).
MAX_STATE_BYTES = 256 * 1024 * 1024


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def format_validation_error(error: ValidationError, limit: int = 5) -> str:
    problems = [f"{_location(e['loc'])}: {e['msg']}" for e in error.errors()]
    more = len(problems) - limit
    return "; ".join(problems[:limit]) + (f"; and {more} more" if more > 0 else "")


class FileStateStore:
    """Load and durably change one state file. See the module docstring for the files.

    The file backend of :class:`oneatlas_plan.state.backends.StateStore`.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], datetime] = utc_now,
        fsync: bool = True,
    ) -> None:
        self.path = Path(path)
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self._clock = clock
        self._fsync = fsync
        self._mutex = threading.RLock()
        self._state: State | None = None
        self._journal_fd: int | None = None
        self._folded_serial: int | None = None  # serial of S on disk; None: no S yet
        self._leftover_journal = False  # a journal from an earlier run is on disk
        self._broken: str | None = None

    @property
    def location(self) -> str:
        return str(self.path)

    # ----------------------------------------------------------------------------- reading
    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> State:
        """Read the state (file + journal) from disk; a copy the caller may modify.

        A missing file gives a new empty state (fresh lineage, serial 0) that is not written
        until the first change. Raises :class:`StateError` naming the file and its backup
        when the file or journal is corrupt, or of an unknown version.
        """
        with self._mutex:
            state = self._read_in()
            # Kept when there is no file yet (a new lineage each read) or a journal to fold in
            # when the store is closed.
            if self._folded_serial is None or self._leftover_journal:
                with bulk():
                    return state.model_copy(deep=True)
            # Handed over, not copied (a whole-state copy costs more than reading the file):
            # the store's next use reads the file again.
            self._state = None
            return state

    def _read_in(self) -> State:
        if self._journal_fd is not None:
            raise StateError(f"{self.path}: load() after changes; use state() instead")
        with bulk(kept=True):
            state = self._read_file()
            journal = self._read_journal(state) if self._folded_serial is not None else None
            if journal is not None:
                state = self._replay(state, journal)
        self._leftover_journal = journal is not None
        self._state = state
        return state

    def state(self) -> State:
        """A copy of the in-memory state (loading it first if needed)."""
        with self._mutex, bulk():
            return self._loaded().model_copy(deep=True)

    def view(self) -> State:
        """The in-memory state itself (loading it first if needed), not a copy: the caller
        reads it at once and neither changes nor keeps it (no whole-state copy per check)."""
        with self._mutex:
            return self._loaded()

    def get(self, address: str) -> ResourceRecord | None:
        with self._mutex:
            record = self._loaded().resources.get(address)
            return None if record is None else record.model_copy(deep=True)

    def _loaded(self) -> State:
        if self._state is None:
            self._read_in()
        if self._state is None:
            raise StateError(f"{self.path}: the state could not be loaded")
        return self._state

    def _corrupt(self, problem: str, where: Path | None = None) -> StateError:
        label = "state file" if where is None else "state journal"
        where = where or self.path
        if self.backup_path.exists():
            hint = self._restore_advice()
        else:
            hint = f"there is no backup ({self.backup_path} does not exist)"
        return StateError(
            f"{label} {where} {problem}; it was not changed. Nothing will be ordered "
            f"until this is fixed: {hint}"
        )

    def _read_file(self) -> State:
        try:
            raw = _files.read_regular(self.path, MAX_STATE_BYTES)
        except FileNotFoundError:
            self._folded_serial = None
            self._refuse_orphans()
            return State.new()
        except OSError as error:
            raise StateError(
                f"cannot read state file {self.path}: {error.strerror or error}"
            ) from None
        if not raw.strip():
            raise self._corrupt("is empty (truncated?)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise self._corrupt(
                f"is not UTF-8 text (byte {error.start}: binary or damaged?)"
            ) from error
        try:
            data = _canonical.loads_bounded(text)
        except json.JSONDecodeError as error:
            raise self._corrupt(
                f"is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}; "
                "truncated?)"
            ) from error
        except RecursionError:  # the C decoder's answer to "[[[[..."
            raise self._corrupt("is not a state file (JSON nested too deeply)") from None
        except ValueError as error:  # e.g. an integer beyond Python's int/str digit limit
            raise self._corrupt(f"is not valid JSON ({error})") from None
        if not isinstance(data, dict):
            raise self._corrupt(f"is not a state file (a JSON {type(data).__name__})")
        try:
            data = migrate(data)
        except StateError as error:
            raise self._corrupt(f"cannot be read: {error}") from error
        try:
            state = State.model_validate(data)
        except ValidationError as error:
            raise self._corrupt(f"is invalid: {format_validation_error(error)}") from error
        self._folded_serial = state.serial
        return state

    def _refuse_orphans(self) -> None:
        orphans = [p for p in (self.journal_path, self.backup_path) if p.exists()]
        if not orphans:
            return
        raise StateError(
            f"state file {self.path} is missing but {' and '.join(map(str, orphans))} "
            "exist(s): refusing to start a new empty state (which would order everything "
            f"again). {self._restore_advice()}"
        )

    def _restore_advice(self) -> str:
        """What restoring the backup would give back, and what it would lack: the advice
        never proposes a backup that silently forgets orders (see :func:`restore_advice`)."""
        backup = _peek_json(self.backup_path)
        journal = [
            line for line in (_peek_json_line(raw) for raw in _peek_lines(self.journal_path))
            if line is not None
        ]
        return restore_advice(backup, journal, self.backup_path, self.path, self.journal_path)

    def _read_journal(self, state: State) -> list[dict[str, Any]] | None:
        try:
            raw = _files.read_regular(self.journal_path, MAX_STATE_BYTES)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StateError(
                f"cannot read journal {self.journal_path}: {error.strerror or error}"
            ) from None
        chunks = raw.split(b"\n")
        # Only lines ended by their newline were completely written; the rest of a failed
        # or interrupted append (if any) is after the last newline, and is not read.
        numbered = [(n, c) for n, c in enumerate(chunks[:-1], start=1) if c.strip()]
        lines: list[dict[str, Any]] = []
        for index, (number, chunk) in enumerate(numbered):
            try:
                entry = _canonical.loads_bounded(chunk.decode("utf-8"))
                if not isinstance(entry, dict):
                    raise ValueError("not an object")
            except (ValueError, RecursionError) as error:
                if index == len(numbered) - 1:  # a crash in the middle of the last append
                    continue
                raise self._corrupt(
                    f"has a corrupt line {number} ({error})", self.journal_path
                ) from error
            if entry.get("lineage") != state.lineage:
                raise self._corrupt(
                    f"belongs to another state (lineage {entry.get('lineage')}, the state file "
                    f"has {state.lineage})",
                    self.journal_path,
                )
            entry["_line"] = number
            lines.append(entry)
        return lines

    def _replay(self, state: State, journal: list[dict[str, Any]]) -> State:
        serial = state.serial
        for entry in journal:
            line_serial = entry.get("serial")
            if not isinstance(line_serial, int) or isinstance(line_serial, bool):
                # never skipped: the change it carries (an order's record) would be lost
                raise self._corrupt(
                    f"has no serial at line {entry['_line']} ({line_serial!r})",
                    self.journal_path,
                )
            if line_serial <= state.serial:
                continue  # folded already (crash between writing S and removing the journal)
            if line_serial != serial + 1:
                raise self._corrupt(
                    f"has a gap at line {entry['_line']} (serial {line_serial} after {serial})",
                    self.journal_path,
                )
            try:
                self._apply(state, entry)
            except (ValidationError, KeyError) as error:
                detail = (
                    format_validation_error(error)
                    if isinstance(error, ValidationError)
                    else f"missing {error}"
                )
                raise self._corrupt(
                    f"has an invalid change at line {entry['_line']}: {detail}", self.journal_path
                ) from error
            serial = line_serial
            state.serial = serial
        return state

    @staticmethod
    def _apply(state: State, entry: dict[str, Any]) -> None:
        if entry["op"] == "put":
            record = ResourceRecord.model_validate(entry["record"])
            state.resources[record.address] = record
        elif entry["op"] == "put_many":
            records = [ResourceRecord.model_validate(data) for data in entry["records"]]
            for record in records:
                state.resources[record.address] = record
        elif entry["op"] == "remove":
            listed = entry.get("retired", [])
            if not isinstance(listed, list):
                raise KeyError("retired (a list)")
            retired = [RetiredOrder.model_validate(data) for data in listed]
            state.resources.pop(entry["address"], None)
            state.retired.extend(retired)
        elif entry["op"] == "retired":
            index = entry["index"]
            if not isinstance(index, int) or not 0 <= index < len(state.retired):
                raise KeyError(f"retired[{index!r}]")
            state.retired[index] = RetiredOrder.model_validate(entry["entry"])
        else:
            raise KeyError(f"op {entry['op']!r}")

    # ----------------------------------------------------------------------------- writing
    def record(self, record: ResourceRecord) -> ResourceRecord:
        """Insert or replace a resource's record durably (journal + fsync); serial +1.

        Recording a record identical to the stored one changes nothing (serial unchanged).
        Returns the stored copy (validated; ``status`` re-derived from the latest order).
        """
        stored = ResourceRecord.model_validate(record.model_dump())
        with self._mutex:
            if self._loaded().resources.get(stored.address) == stored:
                return stored  # unchanged: no journal line, no new serial
            self._change(
                {"op": "put", "address": stored.address, "record": stored.model_dump(mode="json")}
            )
        return stored  # the caller's own: the state holds the copy replayed from the line

    def record_all(self, records: Sequence[ResourceRecord]) -> None:
        """Insert or replace several records in one durable journal line: all of them are
        recorded, or (StateError) none is; serial +1 (unchanged when none changes)."""
        stored = [ResourceRecord.model_validate(r.model_dump()) for r in records]
        with self._mutex:
            current = self._loaded().resources
            if all(current.get(r.address) == r for r in stored):
                return
            self._change(
                {"op": "put_many", "records": [r.model_dump(mode="json") for r in stored]}
            )

    def update(
        self, address: str, fn: Callable[[ResourceRecord], ResourceRecord]
    ) -> ResourceRecord:
        """Replace a record by ``fn(copy of it)``; ``fn`` may mutate its argument and return it."""
        with self._mutex:
            return self.record(updated_record(self.get(address), address, fn, str(self.path)))

    def remove(self, address: str, reason: str = REMOVED) -> ResourceRecord:
        """Forget a resource (nothing is cancelled at Airbus) and retire its orders that
        spent, in one journal line; serial +1. Returns it."""
        with self._mutex:
            current = self.get(address)
            if current is None:
                raise StateError(f"no resource {address!r} in state {self.path}")
            retired = retire(current, utc_iso(self._clock()), reason)
            self._change(
                {
                    "op": "remove",
                    "address": address,
                    "retired": [entry.model_dump(mode="json") for entry in retired],
                }
            )
            return current

    def record_retired(self, index: int, entry: RetiredOrder) -> None:
        """Replace the retired order at ``index`` (``state resolve``); serial +1."""
        stored = RetiredOrder.model_validate(entry.model_dump())
        with self._mutex:
            retired = self._loaded().retired
            if not 0 <= index < len(retired):
                raise StateError(f"no retired order #{index} in state {self.path}")
            if retired[index] == stored:
                return
            self._change(
                {"op": "retired", "index": index, "entry": stored.model_dump(mode="json")}
            )

    def _change(self, entry: dict[str, Any]) -> None:
        with self._mutex:
            if self._broken is not None:
                raise StateError(self._broken)
            state = self._loaded()
            fd = self._open_journal(state)
            serial = state.serial + 1
            line = dumps_line(
                {"lineage": state.lineage, "serial": serial, "at": utc_iso(self._clock())} | entry
            ).encode("utf-8")
            try:
                _files.append(fd, line, fsync=self._fsync)
            except OSError as error:
                self._broken = (
                    f"writing the journal {self.journal_path} failed "
                    f"({error.strerror or error}); this change was not recorded, the changes "
                    "made before it are safe and will be folded on the next run"
                )
                raise StateError(self._broken) from error
            self._apply(state, entry)  # what a reload replays from that line
            state.serial = serial

    def _open_journal(self, state: State) -> int:
        if self._journal_fd is not None:
            return self._journal_fd
        if self._folded_serial is None or self._leftover_journal:
            self._write_file(state)  # a first file, or folding a crashed run's journal
        created = not self.journal_path.exists()
        try:
            fd = os.open(self.journal_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                if created and self._fsync:
                    _files.fsync_dir(self.path.parent)
            except OSError:
                os.close(fd)
                raise
        except OSError as error:
            raise StateError(
                f"cannot open the journal {self.journal_path}: {error.strerror or error}"
            ) from error
        self._journal_fd = fd
        return fd

    def replace(self, state: State) -> None:
        """Replace the whole file by ``state`` (state push/pull); the caller holds the lock."""
        with self._mutex:
            self._write_file(state)
            self._state = state.model_copy(deep=True)

    def checkpoint(self) -> None:
        """Fold the journal into the state file (atomically, keeping ``.backup``)."""
        with self._mutex:
            if self._state is None:
                return
            pending = self._journal_fd is not None or self._leftover_journal
            if pending and self._broken is None:
                self._write_file(self._state)

    def _write_file(self, state: State) -> None:
        """Replace S by ``state`` (temp + fsync + rename + dir fsync), then drop the journal."""
        if self._broken is not None:
            raise StateError(self._broken)
        with bulk():
            data = state.to_json().encode("utf-8")

        def before_replace() -> None:
            _testhooks.pause("state-replace")
            if self.path.exists():
                self._keep_backup()

        try:
            _files.write_atomic(self.path, data, fsync=self._fsync, before_replace=before_replace)
        except OSError as error:
            raise StateError(
                f"cannot write state file {self.path}: {error.strerror or error}; it was not "
                "changed"
            ) from error
        self._folded_serial = state.serial
        try:
            self._drop_journal()
        except OSError as error:  # harmless: its lines are folded (serials <= the file's)
            raise StateError(
                f"cannot remove the folded journal {self.journal_path}: {error.strerror or error}"
            ) from error

    def _keep_backup(self) -> None:
        temp = self.backup_path.with_name(f".{self.backup_path.name}.{os.getpid()}.tmp")
        temp.unlink(missing_ok=True)
        try:
            os.link(self.path, temp)  # O(1); the state file itself is never absent
        except OSError:
            _files.write_atomic(
                self.backup_path, _files.read_regular(self.path, MAX_STATE_BYTES),
                fsync=self._fsync,
            )
            return
        os.replace(temp, self.backup_path)

    def _drop_journal(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
        if self.journal_path.exists():
            self.journal_path.unlink()
            if self._fsync:
                _files.fsync_dir(self.path.parent)
        self._leftover_journal = False

    def close(self) -> None:
        """Checkpoint and release the journal. The store can be loaded again afterwards."""
        with self._mutex:
            try:
                self.checkpoint()
            finally:
                if self._journal_fd is not None:
                    os.close(self._journal_fd)
                    self._journal_fd = None

    def __enter__(self) -> FileStateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        with contextlib.suppress(StateError):  # must not hide the error that ended the run
            self.close()


StateStore = FileStateStore  # its name before the PostgreSQL backend


def _peek_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_files.read_regular(path, MAX_STATE_BYTES).decode("utf-8"))
    except (OSError, ValueError, StateError):
        return None
    return data if isinstance(data, dict) else None


def _peek_lines(path: Path) -> list[bytes]:
    try:
        return _files.read_regular(path, MAX_STATE_BYTES).split(b"\n")
    except (OSError, StateError):
        return []


def _peek_json_line(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def restore_advice(
    backup: dict[str, Any] | None,
    journal: list[dict[str, Any]],
    backup_path: Path,
    state_path: Path,
    journal_path: Path,
) -> str:
    """How to get the state back when its file is lost, saying what each way loses.

    The journal holds the changes made since the last checkpoint; the backup is the state
    as it was *before* that checkpoint. Restoring the backup gives back everything only when
    the journal starts right after it (it is then replayed on load); otherwise the changes
    in between are in neither file, and orders placed then are unknown to the state.
    """
    resources = backup.get("resources") if backup else None
    if backup is None or not isinstance(resources, dict):
        kept = "no usable backup"
        if journal:
            kept += f"; {journal_path} holds {len(journal)} later change(s) but no full state"
        return (
            f"There is {kept}: do not plan or apply until the state is rebuilt, or every "
            "owned image would be ordered again. Compare with Airbus (refresh/orders "
            f"search), or delete {journal_path if journal else backup_path} only if starting "
            "afresh is really intended."
        )
    serial = backup["serial"] if isinstance(backup.get("serial"), int) else 0
    lineage = backup.get("lineage")
    later = [
        line for line in journal
        if line.get("lineage") == lineage and isinstance(line.get("serial"), int)
        and line["serial"] > serial
    ]
    ordered = sum(
        1 for r in resources.values()
        if isinstance(r, dict) and r.get("status") in ("ordered", "quoted", "unknown", "pending")
    )
    what = f"the backup {backup_path} is serial {serial} with {len(resources)} resource(s)"
    what += f" ({ordered} ordered or in doubt)"
    if not resources:
        return (
            f"{what}: it is EMPTY, and restoring it would order every owned image again. "
            "Do not restore it; rebuild the state from Airbus's orders (refresh/orders search) "
            f"or delete {backup_path} only if starting afresh is really intended."
        )
    if later and later[0]["serial"] == serial + 1:
        addresses = sorted({str(line.get("address")) for line in later})
        return (
            f"{what}; the journal holds the {len(later)} change(s) after it (serials "
            f"{serial + 1}–{later[-1]['serial']}: {', '.join(addresses[:5])}"
            f"{' …' if len(addresses) > 5 else ''}), replayed on load: restore with "
            f"cp {backup_path} {state_path} and keep {journal_path}."
        )
    gap = (
        f"changes after serial {serial}"
        + (f" and before serial {later[0]['serial']}" if later else "")
        + " are in neither file"
    )
    later_addresses = ", ".join(sorted({str(line.get("address")) for line in later})[:5])
    aside = (
        f", move {journal_path} aside (mv {journal_path} {journal_path}.lost: its "
        f"{len(later)} later change(s), {later_addresses}, cannot be replayed over the gap)"
        if later else ""
    )
    return (
        f"{what}; {gap}: orders placed then are NOT in it, and the next plan would buy them "
        f"again. Restore it (cp {backup_path} {state_path}){aside}, then run `state list` and "
        "`refresh` and compare with Airbus's orders before any apply."
    )

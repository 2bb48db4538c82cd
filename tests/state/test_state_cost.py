"""Recording an order costs the same whatever the size of the state (issue 18): once the store
has read the state (apply's one read under the lock), the pending record, the outcome and the
look-ups of an order never read, validate, copy or serialise the whole state again. Counted
here on both backends; the time it takes is measured in benchmarks/bench_state_backends.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from state_factories import make_order, make_record

from oneatlas_plan.state.backends import StateBackend
from oneatlas_plan.state.model import ResourceRecord, State


def _count_whole_state_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def counted(name: str, original: Callable[..., Any], *, deep_only: bool = False) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not deep_only or kwargs.get("deep"):
                calls.append(name)
            return original(*args, **kwargs)

        return wrapper

    for name in ("model_validate", "model_validate_json"):
        monkeypatch.setattr(State, name, classmethod(counted(name, getattr(State, name))))
    monkeypatch.setattr(State, "model_copy", counted("copy", State.model_copy, deep_only=True))
    monkeypatch.setattr(State, "model_dump", counted("dump", State.model_dump))
    monkeypatch.setattr(State, "to_json", counted("to_json", State.to_json))
    return calls


def _filled(size: int) -> State:
    state = State.new()
    records = [make_record(f"s.o.r{i}", make_order(f"k{i}")) for i in range(size)]
    state.resources = {record.address: record for record in records}
    state.serial = size
    return state


def _order_as_apply_does(store: Any, address: str, key: str) -> None:
    existing = store.get(address)
    history = list(existing.orders) if existing is not None else []
    pending = ResourceRecord(
        address=address, config_digest="sha256:c", spec_file="specs/a.yaml",
        orders=[*history, make_order(key, "pending", addresses=[address])],
    )
    store.record_all([pending])

    def outcome(record: ResourceRecord) -> ResourceRecord:
        record.orders[-1].status = "ordered"
        record.orders[-1].sales_order_id = f"SO-{key}"
        return record

    store.update(address, outcome)


def test_orders_after_the_first_read_never_touch_the_whole_state(
    backend: StateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    with backend.store() as store:
        store.replace(_filled(50))
    lock = backend.lock()
    lock.acquire(0)
    try:
        with backend.store() as store:
            assert len(store.view().resources) == 50  # the run's one read (locked_store)
            calls = _count_whole_state_work(monkeypatch)
            for n in range(5):
                _order_as_apply_does(store, f"s.n.new{n}", f"new{n}")
            _order_as_apply_does(store, "s.o.r7", "again7")  # a re-order keeps the history
            assert calls == []
            store.checkpoint()  # once per run: the file backend rewrites its file here
            monkeypatch.undo()
    finally:
        lock.release()
    with backend.store() as reader:
        state = reader.load()
    assert state.serial == 50 + 2 * 6
    assert [o.status for o in state.resources["s.o.r7"].orders] == ["ordered", "ordered"]
    assert state.resources["s.o.r7"].orders[-1].sales_order_id == "SO-again7"
    assert {f"s.n.new{n}" for n in range(5)} <= set(state.resources)
    assert all(state.resources[f"s.n.new{n}"].status == "ordered" for n in range(5))

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError
from state_factories import make_order, make_record

from oneatlas_plan.state.model import (
    RECORD_STATUS,
    STATE_VERSION,
    Download,
    ResourceRecord,
    State,
    utc_iso,
)


def test_new_state_is_empty_with_a_fresh_lineage() -> None:
    first, second = State.new(), State.new()
    assert first.version == STATE_VERSION == 4
    assert first.serial == 0
    assert first.resources == {}
    assert first.lineage != second.lineage


def test_record_status_is_that_of_the_latest_order() -> None:
    record = make_record("a", make_order("k1", "rejected"), make_order("k2", "accepted"))
    assert record.status == "ordered"
    assert record.current is not None
    assert record.current.order_key == "k2"


def test_record_status_is_rederived_on_validation() -> None:
    record = make_record("a", make_order("k1", "pending"))
    record.orders[-1].status = "unknown"
    assert ResourceRecord.model_validate(record.model_dump()).status == "unknown"


def test_a_record_without_orders_is_pending() -> None:
    record = ResourceRecord(address="a", config_digest="d")
    assert record.status == "pending"
    assert record.current is None


def test_every_order_status_maps_to_a_record_status() -> None:
    statuses = ResourceRecord.model_fields["status"].annotation.__args__  # type: ignore[union-attr]
    assert set(RECORD_STATUS.values()) <= set(statuses)


def test_canonical_json_is_sorted_indented_and_ends_with_a_newline() -> None:
    state = State.new()
    state.resources["a"] = make_record("a", make_order(amount=Decimal("512.30"), currency="EUR"))
    text = state.to_json()
    assert text.endswith("}\n")
    assert text.startswith('{\n  "lineage": ')
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["resources"]["a"]["orders"][0]["amount"] == "512.30"  # exact, as a string
    assert State.model_validate(data) == state


def test_timestamps_must_be_utc() -> None:
    with pytest.raises(ValidationError, match="submitted_at"):
        make_order(submitted_at="2026-11-23T21:00:00+01:00")
    with pytest.raises(ValidationError):
        Download(path="x", at="yesterday")


def test_utc_iso() -> None:
    moment = datetime(2026, 11, 23, 21, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert utc_iso(moment) == "2026-11-23T20:00:00Z"
    with pytest.raises(ValueError, match="naive"):
        utc_iso(datetime(2026, 1, 1))
    assert utc_iso(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="api_key"):
        State.model_validate({"version": 2, "lineage": "l", "serial": 0, "api_key": "x"})


def test_a_record_must_be_filed_under_its_address() -> None:
    with pytest.raises(ValidationError, match="holds the record of"):
        State(lineage="l", resources={"a": make_record("b")})


def test_spent_counts_a_shared_order_once_and_only_placed_orders() -> None:
    shared = make_order("k1", "ordered", amount=Decimal(100), currency="EUR", addresses=["a", "b"])
    state = State(
        lineage="l",
        resources={
            "a": make_record("a", shared),
            "b": make_record("b", shared),
            "c": make_record("c", make_order("k2", "accepted", amount=Decimal(5), currency="USD")),
            "d": make_record("d", make_order("k3", "unknown", amount=Decimal(7), currency="EUR")),
            "e": make_record("e", make_order("k4", "quoted", amount=Decimal(9), currency="EUR")),
        },
    )
    assert state.spent() == {"EUR": Decimal(100), "USD": Decimal(5)}
    assert len(state.distinct_orders()) == 4

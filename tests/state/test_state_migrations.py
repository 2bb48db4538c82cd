from __future__ import annotations

import copy
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from state_factories import make_record

from oneatlas_plan.errors import StateError
from oneatlas_plan.state.migrations import migrate, v1_to_v2
from oneatlas_plan.state.model import STATE_VERSION, State
from oneatlas_plan.state.store import StateStore

V1_FIXTURE = Path(__file__).parent / "data" / "state-v1.json"


@pytest.fixture
def v1() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(V1_FIXTURE.read_text(encoding="utf-8"))
    return data


def test_v1_fixture_migrates_to_a_valid_current_state(v1: dict[str, Any]) -> None:
    state = State.model_validate(migrate(copy.deepcopy(v1)))
    assert state.version == STATE_VERSION == 4
    assert state.lineage == v1["lineage"]
    assert state.serial == 9
    assert sorted(state.resources) == [
        "lyon.spot.centre",
        "paris.pleiades.louvre",
        "paris.pleiades.orsay",
    ]
    louvre = state.resources["paris.pleiades.louvre"]
    assert [o.status for o in louvre.orders] == ["rejected", "ordered"]  # history kept
    assert louvre.status == "ordered"
    assert louvre.config_digest == "sha256:c1"  # the latest entry's config
    assert louvre.orders[0].message == "catalogItemId is not orderable"
    current = louvre.orders[-1]
    assert current.sales_order_id == "SO-0001"
    assert current.amount == Decimal("512.3")
    assert current.currency == "EUR"
    assert current.addresses == ["paris.pleiades.louvre", "paris.pleiades.orsay"]
    assert current.scenes[0].id == "scene-2"
    assert current.submitted_at == "2025-03-02T09:00:00Z"
    assert current.outcome_at == "2025-03-02T09:00:04Z"
    lyon = state.resources["lyon.spot.centre"]
    assert lyon.status == "unknown"
    assert lyon.orders[0].amount is None
    assert state.spent() == {"EUR": Decimal("512.3")}


def test_current_version_is_left_alone() -> None:
    data = State.new().model_dump(mode="json")
    assert migrate(copy.deepcopy(data)) == data


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (
            5,
            "format version 5 was written by a newer oneatlas-plan; this version reads "
            "formats 1 to 4: upgrade oneatlas-plan",
        ),
        (0, "unknown state format version 0"),
        ("2", "'version' is '2', expected an integer"),
        (None, "'version' is None"),
    ],
)
def test_unknown_versions_are_refused(version: object, message: str) -> None:
    with pytest.raises(StateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        migrate({"version": version, "lineage": "l", "serial": 0})


def test_a_malformed_v1_file_is_reported(v1: dict[str, Any]) -> None:
    del v1["orders"][0]["order_key"]
    with pytest.raises(StateError, match="cannot migrate state format version 1 to 2"):
        migrate(v1)
    with pytest.raises(StateError, match="unknown v1 state 'SHIPPED'"):
        v1_to_v2(
            {
                "lineage": "l",
                "serial": 1,
                "orders": [
                    {
                        "address": "a",
                        "order_key": "k",
                        "config_digest": "c",
                        "customer_reference": "r",
                        "body_digest": "b",
                        "state": "SHIPPED",
                    }
                ],
            }
        )


def test_store_reads_v1_without_rewriting_and_writes_current_on_change(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    shutil.copyfile(V1_FIXTURE, path)
    store = StateStore(path, fsync=False)
    state = store.load()
    assert state.version == STATE_VERSION
    assert path.read_bytes() == V1_FIXTURE.read_bytes()  # reading never writes
    store.record(make_record("new.one"))
    store.close()
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == STATE_VERSION
    assert store.backup_path.read_bytes() == V1_FIXTURE.read_bytes()  # the v1 original kept
    again = StateStore(path).load()
    assert again.serial == 10
    assert again.lineage == state.lineage
    assert len(again.resources) == 4


def test_v2_gains_the_v3_fields_with_their_defaults() -> None:
    order = {
        "order_key": "k", "customer_reference": "r~k", "body_digest": "d", "status": "unknown",
    }
    v2 = {
        "version": 2, "lineage": "l", "serial": 4,
        "resources": {"s.o.a": {"address": "s.o.a", "config_digest": "c", "orders": [order]}},
    }
    state = State.model_validate(migrate(copy.deepcopy(v2)))
    assert (state.version, state.serial) == (STATE_VERSION, 4)
    current = state.resources["s.o.a"].current
    assert current is not None
    assert (current.delivery_workspace, current.accept_up_to, current.accept_sent_at) == (
        None, None, None
    )
    assert current.not_found_checks == []
    with pytest.raises(StateError, match="v2 state has no 'resources' object"):
        migrate({"version": 2, "lineage": "l", "serial": 0})


def test_a_v3_file_migrates_with_no_retired_orders_and_is_rewritten_as_v4(
    tmp_path: Path,
) -> None:
    order = {
        "order_key": "k", "customer_reference": "r~k", "body_digest": "d", "status": "ordered",
        "amount": "250", "currency": "EUR", "accept_sent_at": None,
    }
    v3 = {
        "version": 3, "lineage": "l", "serial": 4,
        "resources": {"s.o.a": {"address": "s.o.a", "config_digest": "c", "orders": [order]}},
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(v3), encoding="utf-8")
    store = StateStore(path, fsync=False)
    state = store.load()
    assert (state.version, state.retired, list(state.resources)) == (4, [], ["s.o.a"])
    store.remove("s.o.a", "no longer in the specs")
    store.close()
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["version"] == 4
    assert [r["order"]["amount"] for r in written["retired"]] == ["250"]
    with pytest.raises(StateError, match="v3 state has no 'resources' object"):
        migrate({"version": 3, "lineage": "l", "serial": 0})

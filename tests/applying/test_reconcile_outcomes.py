"""Reconcile settles each lost order to exactly what Airbus shows, against the sandbox over
HTTP: a Pléiades Neo quotation still SENT, accepted or refused; a legacy order found only in
a delivery workspace (the order search failing); and the choice of the known order that
proves the order search authoritative for a contract (the newest one of that contract)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient
from oneatlas_plan.api.profiles import resolve_endpoint
from oneatlas_plan.applying.reconcile import NOT_FOUND_GRACE, reconcile
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.planfile import expand_parts
from oneatlas_plan.state.model import OrderRecord, ResourceRecord, utc_iso
from oneatlas_plan.state.store import StateStore
from tests.applying.interposer import Airbus, airbus
from tests.applying.test_reconcile import (
    LEGACY_CONTRACT,
    NEO_CONTRACT,
    TOULOUSE,
    TOULOUSE_ADDRESS,
    _at,
    _current,
    _unknown,
)
from tests.applying.test_reconcile_matching import (
    BAD_GATEWAY,
    OTHER_WORKSPACE,
    _account_workspace,
)
from tests.conftest import API_KEY, World

__all__ = ["airbus"]

NEO_SPEC = "specs/xinjiang-pleiades-neo.yaml"


@pytest.fixture
def client(world: World) -> Iterator[OneAtlasClient]:
    with OneAtlasClient(resolve_endpoint(world.base_url), ApiKey(API_KEY)) as made:
        yield made


def _body(world: World, spec: str) -> dict[str, Any]:
    assert world.cli("plan", spec, "--out", "plan.json") == ExitCode.OK
    [order] = expand_parts(json.loads(Path("plan.json").read_text()))["orders"]
    return dict(order["body"])


def test_a_lost_quotation_is_settled_as_airbus_shows_it_sent_accepted_or_refused(
    world: World, client: OneAtlasClient, tmp_path: Path
) -> None:
    world.faults(delivery_delay_s=86400)  # accepted, not delivered yet: in production
    body = _body(world, NEO_SPEC)
    made: dict[str, str] = {}
    for fate in ("sent", "accepted", "refused"):
        key = f"oap-0000{fate[:4].encode().hex()}"
        reference = f"{key}~xinjiang/{fate}"
        made[fate] = reference
        quotation_id = client.quotation({**body, "customerReference": reference}).quotation_id
        assert quotation_id
        if fate == "accepted":
            client.accept_quotation(NEO_CONTRACT, quotation_id)
        elif fate == "refused":
            client.refuse_quotation(NEO_CONTRACT, quotation_id)
    ledger = {entry["customerReference"]: entry for entry in world.ledger()}
    sent, accepted, refused = (ledger[made[f]] for f in ("sent", "accepted", "refused"))
    assert (sent["quotationStatus"], accepted["quotationStatus"], refused["quotationStatus"]) == (
        "SENT", "ACCEPTED", "REFUSED"
    )
    assert accepted["salesOrderId"] and not sent.get("salesOrderId")

    with StateStore(tmp_path / "state.json") as store:
        store.load()
        for fate, reference in made.items():
            _unknown(store, f"s.{fate}.a", reference.split("~")[0], NEO_CONTRACT,
                     datetime.now(UTC), reference)
        world.reset_stats()
        result = reconcile(store, client, {}, lambda: datetime.now(UTC))

        assert result.resolved == {
            "s.sent.a": sent["quotationId"],
            "s.accepted.a": accepted["salesOrderId"],
            "s.refused.a": refused["quotationId"],
        }
        assert result.unresolved == [] and result.not_ordered == []
        found = {fate: _current(store, f"s.{fate}.a") for fate in made}
        # a quotation still SENT: quoted, nothing bought, nothing in production
        assert (found["sent"].status, found["sent"].quotation_id) == (
            "quoted", sent["quotationId"]
        )
        assert found["sent"].sales_order_id is None
        assert found["sent"].production_status is None
        assert found["sent"].message == "reconciled with Airbus by customerReference"
        # accepted at Airbus: spend, with its sales order, in production
        assert (
            found["accepted"].status,
            found["accepted"].sales_order_id,
            found["accepted"].quotation_id,
        ) == ("accepted", accepted["salesOrderId"], accepted["quotationId"])
        assert found["accepted"].production_status == "ordered"
        assert found["accepted"].message == (
            "reconciled with Airbus by customerReference"
            " (its quotation was already accepted: recorded as spend)"
        )
        # refused at Airbus: settled, never spend, never in production
        assert (found["refused"].status, found["refused"].quotation_id) == (
            "refused", refused["quotationId"]
        )
        assert found["refused"].sales_order_id is None
        assert found["refused"].production_status is None
    made_requests = world.requests_made()
    assert made_requests.get("orders_search") == 3, "one order search per lost order"
    assert sum(made_requests.get(r, 0) for r in ("orders", "quotations", "accept", "refuse")) == 0


@pytest.mark.parametrize("named", ["body", "contract"])
def test_a_lost_order_the_order_search_cannot_see_is_found_in_its_delivery_workspace(
    airbus: Airbus, named: str
) -> None:
    """The order search fails (legacy contracts may not have it): a delivered order is found
    by customerReference in the delivery workspace its body named or, for a record that names
    none (written by an older version), in its contract's."""
    world = airbus.world
    world.faults(drop_next_orders=1)  # Airbus creates the order, the answer is lost
    assert world.cli("plan", TOULOUSE, "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    (order,) = world.ledger()
    state_path = world.project / "oneatlas-state.json"
    if named == "contract":
        with StateStore(state_path) as store:
            store.load()

            def without_workspace(record: ResourceRecord) -> ResourceRecord:
                record.orders[-1].delivery_workspace = None
                return record

            store.update(TOULOUSE_ADDRESS, without_workspace)
        airbus.wire.rewrite("/api/v1/me", _account_workspace(OTHER_WORKSPACE))
    airbus.wire.answer("/api/v2/orders/search", 502, BAD_GATEWAY, times=10)
    world.cli("plan", TOULOUSE)
    current = world.state()["resources"][TOULOUSE_ADDRESS]["orders"][-1]
    assert (current["status"], current["sales_order_id"], current["quotation_id"]) == (
        "ordered", order["salesOrderId"], None
    )
    [item] = current["deliveries"]
    assert item["item_id"] and item["resource_id"] and item["publication_date"], item
    assert item["download_href"] == f"/api/v1/items/{item['item_id']}/download"
    assert current["production_status"] == "delivered"
    assert len(world.ledger()) == 1


def test_the_newest_known_order_of_the_same_contract_proves_the_order_search(
    world: World, client: OneAtlasClient
) -> None:
    """Absence is proved only by an order of the same contract that the search does find:
    the newest one. An older record the search no longer shows, or another contract's order,
    must not be the control (the first leaves the order blocked, the second would prove
    nothing about this contract)."""
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK  # the real control
    t0 = datetime.now(UTC).replace(microsecond=0)
    old = "a.old.order"  # written by state v1: no contract id, no time (the plan maps it)
    with StateStore(world.project / "oneatlas-state.json") as store:
        store.load()
        store.record(ResourceRecord(address=old, config_digest="c", orders=[OrderRecord(
            order_key="oap-0000000000a1", customer_reference="oap-0000000000a1~old",
            body_digest="0" * 64, status="ordered", sales_order_id="SAL99999991",
        )]))
        store.record(ResourceRecord(address="z.neo.order", config_digest="c", orders=[
            OrderRecord(
                order_key="oap-0000000000a2", customer_reference="oap-0000000000a2~neo",
                contract_id=NEO_CONTRACT, body_digest="0" * 64, status="quoted",
                quotation_id="QUO99999992", submitted_at="2099-01-01T00:00:00Z",
            )
        ]))
        _unknown(store, "s.o.a", "oap-00000000beef", LEGACY_CONTRACT, t0)
        contracts = {old: LEGACY_CONTRACT}
        first = reconcile(store, client, contracts, _at(t0))
        assert first.unresolved == ["s.o.a"]
        assert "Airbus's order search found no order oap-00000000beef" in first.hints["s.o.a"]
        settled = reconcile(store, client, contracts, _at(t0 + NOT_FOUND_GRACE))
        assert settled.not_ordered == ["s.o.a"]
        assert _current(store, "s.o.a").status == "not_ordered"
        assert _current(store, "s.o.a").not_found_checks == [
            utc_iso(t0), utc_iso(t0 + NOT_FOUND_GRACE)
        ]
        assert _current(store, TOULOUSE_ADDRESS).status == "ordered"
        assert _current(store, old).status == "ordered"

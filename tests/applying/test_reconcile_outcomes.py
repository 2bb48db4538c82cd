"""Reconcile settles each lost order to exactly what Airbus shows, against the sandbox over
HTTP: a Pléiades Neo quotation still SENT, accepted or refused; a legacy order found only in
a delivery workspace (the order search failing); and the choice of the known order that
proves the order search authoritative for a contract (the newest one of that contract)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient
from oneatlas_plan.api.profiles import resolve_endpoint
from oneatlas_plan.applying.reconcile import ACCEPT_GRACE, NOT_FOUND_GRACE, reconcile
from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.planfile import expand_parts
from oneatlas_plan.state.model import OrderRecord, ResourceRecord, utc_iso
from oneatlas_plan.state.store import StateStore
from tests.applying.interposer import ORDERING, Airbus, airbus
from tests.applying.test_quotations import ADDRESS as QUOTED
from tests.applying.test_quotations import SPEC as QUOTED_SPEC
from tests.applying.test_quotations import _neo_only, _threshold
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
    _without_delivery_workspaces,
)
from tests.applying.test_reconcile_retired import TANZANIA, TANZANIA_ADDRESS
from tests.conftest import API_KEY, World

__all__ = ["airbus"]

NEO_SPEC = "specs/xinjiang-pleiades-neo.yaml"
# the order search refused (a legacy contract may not have it), at once: no retries
NO_ORDER_SEARCH = {"message": "Forbidden", "internalCode": 403}


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


@pytest.mark.parametrize("named", ["body", "contract", "account"])
def test_a_lost_order_the_order_search_cannot_see_is_found_in_its_delivery_workspace(
    airbus: Airbus, named: str
) -> None:
    """The order search fails (legacy contracts may not have it): a delivered order is found
    by customerReference in the delivery workspace its body named or, for a record that names
    none (written by an older version), in its contract's, else in the account's."""
    world = airbus.world
    world.faults(drop_next_orders=1)  # Airbus creates the order, the answer is lost
    assert world.cli("plan", TOULOUSE, "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    (order,) = world.ledger()
    state_path = world.project / "oneatlas-state.json"
    if named != "body":
        with StateStore(state_path) as store:
            store.load()

            def without_workspace(record: ResourceRecord) -> ResourceRecord:
                record.orders[-1].delivery_workspace = None
                return record

            store.update(TOULOUSE_ADDRESS, without_workspace)
    if named == "body":  # the contract's and the account's are another one: the body's counts
        airbus.wire.rewrite("/api/v1/contracts", _without_delivery_workspaces)
        airbus.wire.rewrite("/api/v1/me", _account_workspace(OTHER_WORKSPACE))
    elif named == "contract":  # the account's workspace is another one: the contract's counts
        airbus.wire.rewrite("/api/v1/me", _account_workspace(OTHER_WORKSPACE))
    elif named == "account":  # the contract names none: the account's is used
        airbus.wire.rewrite("/api/v1/contracts", _without_delivery_workspaces)
    airbus.wire.answer("/api/v2/orders/search", 403, NO_ORDER_SEARCH, times=10)
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


def test_an_order_of_several_resources_is_looked_up_once_and_settles_them_all(
    world: World, client: OneAtlasClient, tmp_path: Path
) -> None:
    world.faults(delivery_delay_s=86400)
    body = _body(world, TOULOUSE)
    shared = client.order({**body, "customerReference": "oap-00000000aaaa~shared"})
    single = client.order({**body, "customerReference": "oap-00000000bbbb~single"})
    t0 = datetime.now(UTC)
    with StateStore(tmp_path / "state.json") as store:
        store.load()
        order = OrderRecord(
            order_key="oap-00000000aaaa", customer_reference="oap-00000000aaaa~shared",
            contract_id=LEGACY_CONTRACT, body_digest="0" * 64, status="unknown",
            submitted_at=utc_iso(t0), addresses=["s.a.a", "s.b.b"],
        )
        for address in order.addresses:
            store.record(ResourceRecord(address=address, config_digest="c", orders=[order]))
        _unknown(store, "s.c.c", "oap-00000000bbbb", LEGACY_CONTRACT, t0,
                 "oap-00000000bbbb~single")
        world.reset_stats()
        result = reconcile(store, client, {}, _at(t0))
        assert result.resolved == {
            "s.a.a": shared.sales_order_id,
            "s.b.b": shared.sales_order_id,
            "s.c.c": single.sales_order_id,
        }
        for address in ("s.a.a", "s.b.b"):
            assert _current(store, address).sales_order_id == shared.sales_order_id
        assert _current(store, "s.c.c").sales_order_id == single.sales_order_id
    assert world.requests_made().get("orders_search") == 2, "one search per Airbus order"


def test_a_record_without_a_request_time_settles_from_its_first_check(
    world: World, client: OneAtlasClient, tmp_path: Path
) -> None:
    """A record written by an older version may not say when its request was sent."""
    t0 = datetime.now(UTC).replace(microsecond=0)
    later = t0 + NOT_FOUND_GRACE
    with StateStore(tmp_path / "state.json") as store:
        store.load()
        _unknown(store, "s.o.a", "oap-00000000f00d", NEO_CONTRACT, t0)

        def untimed(record: ResourceRecord) -> ResourceRecord:
            record.orders[-1].submitted_at = None
            return record

        store.update("s.o.a", untimed)
        assert reconcile(store, client, {}, _at(t0)).unresolved == ["s.o.a"]
        settled = reconcile(store, client, {}, _at(later))
        assert settled.not_ordered == ["s.o.a"]
        order = _current(store, "s.o.a")
        assert (order.status, order.outcome_at) == ("not_ordered", utc_iso(later))
        assert f"at {utc_iso(t0)} and {utc_iso(later)}; planned again" in str(order.message)


def _accept_sent_at(store: StateStore, at: datetime) -> None:
    """As a run killed after writing its acceptance ahead."""

    def sent(record: ResourceRecord) -> ResourceRecord:
        record.orders[-1].accept_sent_at = utc_iso(at)
        return record

    store.update(QUOTED, sent)


def test_an_acceptance_in_flight_is_settled_at_the_end_of_its_grace_and_a_refusal_recorded(
    world: World, client: OneAtlasClient
) -> None:
    """Left quoted (above its threshold), an acceptance written ahead: in flight until exactly
    ACCEPT_GRACE after it was sent, then given up (never sent again); a quotation someone
    refused at Airbus meanwhile is recorded refused, not spend."""
    _neo_only(world)
    _threshold("500 EUR")
    assert world.cli("apply", str(QUOTED_SPEC), "--auto-approve") == ExitCode.OK
    sent = datetime.now(UTC).replace(microsecond=0)
    with StateStore(world.project / "oneatlas-state.json") as store:
        store.load()
        quotation_id = str(_current(store, QUOTED).quotation_id)
        _accept_sent_at(store, sent)
        world.reset_stats()

        early = reconcile(store, client, {}, _at(sent + ACCEPT_GRACE - timedelta(seconds=1)),
                          accept=True)
        assert early.accept_in_flight == [QUOTED] and early.left_quoted == []
        assert (
            f"Airbus still shows it SENT: counted as spend until it is read back; if Airbus "
            f"shows no acceptance at a plan/apply from {utc_iso(sent + ACCEPT_GRACE)} on, it "
            "is left quoted"
        ) in early.hints[QUOTED]
        assert _current(store, QUOTED).accept_sent_at == utc_iso(sent)

        ended = reconcile(store, client, {}, _at(sent + ACCEPT_GRACE), accept=True)
        assert ended.left_quoted == [QUOTED] and ended.accept_in_flight == []
        order = _current(store, QUOTED)
        assert (order.status, order.accept_sent_at) == ("quoted", None)
        assert world.requests_made().get("accept", 0) == 0, "never accepted again"

        # someone refuses it at Airbus while another acceptance is in flight
        _accept_sent_at(store, sent)
        client.refuse_quotation(NEO_CONTRACT, quotation_id)
        refused = reconcile(store, client, {}, _at(sent + timedelta(seconds=1)), accept=True)
        assert refused.accepted == {} and refused.accept_in_flight == []
        order = _current(store, QUOTED)
        assert (order.status, order.sales_order_id, order.production_status) == (
            "refused", None, None
        )
        assert order.quotation_valid_until, "the validity Airbus shows is kept"
        assert order.message == "quotation found refused at Airbus after an interrupted run"
    assert world.requests_made().get("accept", 0) == 0


def test_a_retired_order_found_at_airbus_settles_only_its_own_entry(airbus: Airbus) -> None:
    """Two retired orders of unknown outcome, of one contract: one reached Airbus, one did
    not. The found order is recorded in its own entry only; the other is then provably absent
    (the found one proves the order search for their contract) and waits for its grace."""
    world = airbus.world
    airbus.wire.answer(ORDERING, 502, BAD_GATEWAY)  # never reached Airbus
    assert world.cli("apply", TANZANIA, "--auto-approve") == ExitCode.ERROR
    assert run(["state", "rm", TANZANIA_ADDRESS]) == ExitCode.OK
    world.faults(drop_next_orders=1)  # created, the answer lost
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.ERROR
    assert run(["state", "rm", TOULOUSE_ADDRESS]) == ExitCode.OK
    (order,) = world.ledger()
    statuses = {e["address"]: e["order"]["status"] for e in world.state()["retired"]}
    assert statuses == {TANZANIA_ADDRESS: "unknown", TOULOUSE_ADDRESS: "unknown"}

    # a plan of another spec: the retired orders' contract comes from their records alone
    assert world.cli("plan", NEO_SPEC) in (ExitCode.OK, ExitCode.CHANGES)
    retired = {e["address"]: e["order"] for e in world.state()["retired"]}
    assert (retired[TOULOUSE_ADDRESS]["status"], retired[TOULOUSE_ADDRESS]["sales_order_id"]) == (
        "ordered", order["salesOrderId"]
    )
    lost = retired[TANZANIA_ADDRESS]
    assert (lost["status"], lost["sales_order_id"]) == ("unknown", None)
    assert len(lost["not_found_checks"]) == 1, "absence proved by the order found"
    assert airbus.wire.posts(*ORDERING) == 2 and len(world.ledger()) == 1


@pytest.mark.parametrize("links", ["parts", "none"])
def test_a_lost_delivered_order_records_every_file_airbus_lists(world: World, links: str) -> None:
    """Delivered in two parts, each its own file: both recorded, each with its own link. Or,
    as the archive guide's delivered item, with no download link: the access API's documented
    one is recorded. The record names no delivery workspace (older version): the order
    line's is used."""
    world.faults(drop_next_orders=1, download_links=links)
    assert world.cli("plan", TOULOUSE, "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    (order,) = world.ledger()
    _forget_delivery_workspace(world)
    world.cli("plan", TOULOUSE)
    current = world.state()["resources"][TOULOUSE_ADDRESS]["orders"][-1]
    assert (current["status"], current["sales_order_id"]) == ("ordered", order["salesOrderId"])
    assert current["production_status"] == "delivered"
    if links == "parts":
        first, second = current["deliveries"]
        assert first["item_id"] == second["item_id"]
        assert [first["download_href"], second["download_href"]] == [
            f"/api/v1/items/{first['item_id']}/download?part={n}" for n in (1, 2)
        ]
    else:
        [item] = current["deliveries"]
        assert item["item_id"] and item["publication_date"], item
        # the access API's documented download, found from the item's other access links
        assert (item["download_href"], item["resource_id"]) == (
            f"/api/v1/items/{item['item_id']}/download", None
        )


def test_a_lost_order_with_no_delivery_workspace_anywhere_stays_blocked_and_says_so(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither the record, the contract nor the account names a delivery workspace and the
    order search fails: nothing can be searched, the record stays unknown (never re-sent) and
    the plan says why, without an internal error."""
    world = airbus.world
    world.faults(drop_next_orders=1)
    assert world.cli("plan", TOULOUSE, "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    _forget_delivery_workspace(world)
    airbus.wire.rewrite("/api/v1/contracts", _without_delivery_workspaces)
    airbus.wire.rewrite("/api/v1/me", lambda me: {**me, "contract": None})
    airbus.wire.answer("/api/v2/orders/search", 403, NO_ORDER_SEARCH, times=10)
    capsys.readouterr()
    assert world.cli("plan", TOULOUSE) == ExitCode.OK
    err = capsys.readouterr().err
    assert (
        f"Airbus's order search cannot prove this order absent for contract {LEGACY_CONTRACT}: "
        "it is looked for in delivery workspace ? at every plan/apply"
    ) in err
    assert world.state()["resources"][TOULOUSE_ADDRESS]["status"] == "unknown"
    assert not [b for b in airbus.wire.sent("/api/v2/opensearch") if "customerReference" in b]
    assert airbus.wire.posts(*ORDERING) == 1 and len(world.ledger()) == 1


def test_an_automatic_acceptance_airbus_refuses_leaves_the_quotation_quoted(
    world: World, client: OneAtlasClient
) -> None:
    """Finishing an interrupted run, apply accepts a quotation within its threshold; Airbus
    answers that it expired (30 days): it is left quoted, saying why, and never retried."""
    _neo_only(world)
    _threshold("500 EUR")
    assert world.cli("apply", str(QUOTED_SPEC), "--auto-approve") == ExitCode.OK
    with StateStore(world.project / "oneatlas-state.json") as store:
        store.load()

        def within(record: ResourceRecord) -> ResourceRecord:
            record.orders[-1].accept_up_to = Decimal("2000")
            return record

        store.update(QUOTED, within)
        world.faults(clock_offset_s=31 * 86400)
        world.reset_stats()
        result = reconcile(store, client, {}, lambda: datetime.now(UTC), accept=True)
        assert result.left_quoted == [QUOTED] and result.accepted == {}
        order = _current(store, QUOTED)
        assert (order.status, order.accept_up_to, order.accept_sent_at) == ("quoted", None, None)
        assert str(order.message).startswith("automatic acceptance refused by Airbus: ")
        assert result.hints[QUOTED] == order.message
    assert world.requests_made().get("accept") == 1, "tried once, never again"


def test_absence_proved_for_one_contract_proves_nothing_for_another(
    world: World, client: OneAtlasClient, tmp_path: Path
) -> None:
    """Two lost orders Airbus never had, in one run: the Pléiades Neo one is provably absent
    (its contract's order search is authoritative); the legacy one, with no known order of its
    contract, is not: it stays blocked, never settled as not ordered (and bought again)."""
    t0 = datetime.now(UTC).replace(microsecond=0)
    with StateStore(tmp_path / "state.json") as store:
        store.load()
        _unknown(store, "a.neo.a", "oap-00000000a0a0", NEO_CONTRACT, t0)
        _unknown(store, "b.legacy.b", "oap-00000000b0b0", LEGACY_CONTRACT, t0)
        reconcile(store, client, {}, _at(t0))
        result = reconcile(store, client, {}, _at(t0 + NOT_FOUND_GRACE))
        assert result.not_ordered == ["a.neo.a"]
        assert result.unresolved == ["b.legacy.b"]
        assert "cannot prove this order absent" in result.hints["b.legacy.b"]
        assert _current(store, "b.legacy.b").status == "unknown"


def test_an_acceptance_in_flight_of_a_quotation_airbus_does_not_show(airbus: Airbus) -> None:
    """The order search does not show the quotation (yet): in flight within the grace, then
    left quoted, both saying so; nothing is accepted again."""
    world = airbus.world
    _neo_only(world)
    _threshold("500 EUR")
    assert world.cli("apply", str(QUOTED_SPEC), "--auto-approve") == ExitCode.OK
    sent = datetime.now(UTC).replace(microsecond=0)
    nothing = {"features": [], "paging": {"totalResults": 0}}
    with (
        OneAtlasClient(resolve_endpoint(world.base_url), ApiKey(API_KEY)) as client,
        StateStore(world.project / "oneatlas-state.json") as store,
    ):
        store.load()
        _accept_sent_at(store, sent)
        airbus.wire.answer("/api/v2/orders/search", 200, nothing)
        early = reconcile(store, client, {}, _at(sent + timedelta(minutes=1)), accept=True)
        assert early.accept_in_flight == [QUOTED]
        assert "Airbus still shows it not found: counted as spend" in early.hints[QUOTED]

        airbus.wire.answer("/api/v2/orders/search", 200, nothing)
        ended = reconcile(store, client, {}, _at(sent + ACCEPT_GRACE), accept=True)
        assert ended.left_quoted == [QUOTED]
        order = _current(store, QUOTED)
        assert (order.status, order.accept_sent_at) == ("quoted", None)
        assert str(order.message).startswith(
            "an acceptance was sent but Airbus shows the quotation not found: still quoted"
        )
    assert world.requests_made().get("accept", 0) == 0


def _forget_delivery_workspace(world: World) -> None:
    """The record of the Toulouse order as an older version wrote it: no delivery workspace."""
    with StateStore(world.project / "oneatlas-state.json") as store:
        store.load()

        def without_workspace(record: ResourceRecord) -> ResourceRecord:
            record.orders[-1].delivery_workspace = None
            return record

        store.update(TOULOUSE_ADDRESS, without_workspace)

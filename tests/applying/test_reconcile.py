"""Reconcile against the sandbox over HTTP: which unknown outcomes settle by themselves (and
when), the order search first, references Airbus cut short, and what the plan says."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient
from oneatlas_plan.api.profiles import resolve_endpoint
from oneatlas_plan.applying.reconcile import NOT_FOUND_GRACE, reconcile, same_reference
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.planfile import expand_parts
from oneatlas_plan.state.model import OrderRecord, ResourceRecord, utc_iso
from oneatlas_plan.state.store import StateStore
from tests.conftest import API_KEY, World

NEO_CONTRACT = "CTR21000411"
LEGACY_CONTRACT = "Test_E2E_BR_1392-1375"
TOULOUSE = "specs/toulouse-pleiades.yaml"
TOULOUSE_ADDRESS = "toulouse.city-centre.polygon-1"


@pytest.fixture
def client(world: World) -> Iterator[OneAtlasClient]:
    with OneAtlasClient(resolve_endpoint(world.base_url), ApiKey(API_KEY)) as made:
        yield made


def _unknown(
    store: StateStore, address: str, key: str, contract: str, at: datetime, reference: str = ""
) -> None:
    order = OrderRecord(
        order_key=key,
        customer_reference=reference or f"spec/order/aoi~{key}",
        contract_id=contract,
        body_digest="0" * 64,
        status="unknown",
        submitted_at=utc_iso(at),
        addresses=[address],
    )
    store.record(ResourceRecord(address=address, config_digest="c", orders=[order]))


def _at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _current(store: StateStore, address: str) -> OrderRecord:
    record = store.get(address)
    assert record is not None and record.current is not None
    return record.current


def test_same_reference_accepts_a_cut_reference_only_while_it_holds_the_key() -> None:
    ours = "oap-0123456789ab~toulouse/city-centre/polygon-1"
    assert same_reference(ours, ours, "oap-0123456789ab")
    assert same_reference(ours[:30], ours, "oap-0123456789ab")
    assert not same_reference(ours[:10], ours, "oap-0123456789ab"), "the key itself was cut"
    assert not same_reference("oap-0123456789ab~other", ours, "oap-0123456789ab")
    assert not same_reference(None, ours, "oap-0123456789ab")


def test_neo_absence_settles_after_two_checks_a_grace_period_apart(
    world: World, client: OneAtlasClient, tmp_path: Path
) -> None:
    # whole seconds, as the state records them: the grace is then met exactly, not by a margin
    t0 = datetime.now(UTC).replace(microsecond=0)
    with StateStore(tmp_path / "state.json") as store:
        store.load()
        _unknown(store, "s.o.a", "oap-00000000dead", NEO_CONTRACT, t0)

        first = reconcile(store, client, {}, _at(t0))
        assert first.unresolved == ["s.o.a"]
        settles_at = utc_iso(t0 + NOT_FOUND_GRACE)
        assert f"from {settles_at} on, it is settled as not ordered" in first.hints["s.o.a"]
        assert _current(store, "s.o.a").not_found_checks == [utc_iso(t0)]
        serial = store.state().serial

        early = reconcile(store, client, {}, _at(t0 + NOT_FOUND_GRACE - timedelta(seconds=1)))
        assert early.unresolved == ["s.o.a"]
        assert store.state().serial == serial, "a check that learns nothing writes nothing"

        later = t0 + NOT_FOUND_GRACE
        settled = reconcile(store, client, {}, _at(later))
        assert settled.not_ordered == ["s.o.a"]
        order = _current(store, "s.o.a")
        assert order.status == "not_ordered"
        assert order.not_found_checks == [utc_iso(t0), utc_iso(later)]
        assert str(order.message).startswith("settled automatically as not ordered")
        assert store.get("s.o.a").status == "not_ordered"  # type: ignore[union-attr]


def test_legacy_absence_needs_a_known_order_found_by_the_same_search(
    world: World, client: OneAtlasClient
) -> None:
    t0 = datetime.now(UTC)
    late = t0 + NOT_FOUND_GRACE + timedelta(minutes=1)
    state_path = world.project / "oneatlas-state.json"
    with StateStore(state_path) as store:
        store.load()
        _unknown(store, "s.o.a", "oap-00000000beef", LEGACY_CONTRACT, t0)
        reconcile(store, client, {}, _at(t0))
        result = reconcile(store, client, {}, _at(late))
        assert result.unresolved == ["s.o.a"], "no order of the contract proves the search"
        assert "cannot prove this order absent" in result.hints["s.o.a"]
        assert "delivery workspace 1a7aaef1-839e-4eaa-826c-aabee39eac85" in result.hints["s.o.a"]

    # an order the search does find (the positive control) makes it authoritative
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    with StateStore(state_path) as store:
        store.load()
        reconcile(store, client, {}, _at(late))
        result = reconcile(store, client, {}, _at(late + NOT_FOUND_GRACE))
        assert result.not_ordered == ["s.o.a"]
        assert _current(store, TOULOUSE_ADDRESS).status == "ordered"


def test_an_order_whose_reference_came_back_truncated_is_found(
    world: World, client: OneAtlasClient
) -> None:
    assert world.cli("plan", TOULOUSE, "--out", "plan.json") == ExitCode.OK
    plan = expand_parts(json.loads(Path("plan.json").read_text()))
    body: dict[str, Any] = plan["orders"][0]["body"]
    key = "oap-0000cafe0001"
    reference = f"{key}~toulouse/city-centre/polygon-1/with/a/long/tail"
    body["customerReference"] = reference
    world.faults(truncate_references_at=len(key) + 8)
    sales_order_id = client.order(body).sales_order_id
    [entry] = world.orders_for(key)
    assert entry["customerReference"] == reference[: len(key) + 8]

    with StateStore(world.project / "oneatlas-state.json") as store:
        store.load()
        _unknown(store, "s.o.a", key, LEGACY_CONTRACT, datetime.now(UTC), reference)
        result = reconcile(store, client, {}, lambda: datetime.now(UTC))
        assert result.resolved == {"s.o.a": sales_order_id}
        assert _current(store, "s.o.a").status == "ordered"


def test_legacy_reconcile_asks_the_order_search_first(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.faults(drop_next_orders=1, delivery_delay_s=3600)
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.ERROR
    world.reset_stats()
    capsys.readouterr()
    assert world.cli("plan", TOULOUSE) == ExitCode.OK
    [entry] = world.orders_for("toulouse")
    assert f"reconciled {TOULOUSE_ADDRESS}: Airbus has order {entry['salesOrderId']}" in (
        capsys.readouterr().err
    )
    made = world.requests_made()
    assert made.get("orders_search", 0) >= 1
    assert made.get("search_v1", 0) + made.get("search_v2", 0) == 0, (
        "found by the order search: no delivery workspace search needed (not delivered yet)"
    )


def test_the_plan_says_how_and_when_an_unknown_outcome_settles(
    world: World, client: OneAtlasClient, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = "specs/xinjiang-pleiades-neo.yaml"
    address = "xinjiang-pneo.hejing-west.hejing-west"
    # the state holds the plan's order with an unknown outcome, as a 5xx on its POST leaves it
    assert world.cli("plan", spec, "--out", "plan.json") == ExitCode.OK
    plan = expand_parts(json.loads(Path("plan.json").read_text()))
    [order] = plan["orders"]
    t0 = datetime.now(UTC)
    with StateStore(world.project / "oneatlas-state.json") as store:
        store.load()
        record = OrderRecord(
            order_key=order["key"],
            customer_reference=order["customer_reference"],
            contract_id=NEO_CONTRACT,
            body_digest=order["body_digest"],
            status="unknown",
            submitted_at=utc_iso(t0),
            addresses=[address],
        )
        [resource] = plan["resources"]
        store.record(
            ResourceRecord(address=address, config_digest=resource["config_digest"],
                           orders=[record])
        )
    capsys.readouterr()
    assert world.cli("plan", spec) == ExitCode.OK
    checked = datetime.now(UTC)
    out = capsys.readouterr().out
    assert f"! {address}" in out
    found = re.search(r"if it still finds none at a plan/apply from (\S+Z) on", out)
    assert found, out
    # the grace runs from the first check (made by this plan, between t0 and `checked`)
    when = datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
    assert t0 + NOT_FOUND_GRACE - timedelta(seconds=1) <= when <= checked + NOT_FOUND_GRACE
    assert "settled as not ordered and planned again" in out

    with StateStore(world.project / "oneatlas-state.json") as store:
        store.load()
        reconcile(store, client, {}, _at(checked + NOT_FOUND_GRACE))
    assert world.cli("plan", spec, "--out", "plan.json") == ExitCode.OK
    [replanned] = expand_parts(json.loads(Path("plan.json").read_text()))["resources"]
    assert replanned["action"] == "create"
    assert "settled automatically as not ordered" in replanned["reason"]


def test_reconcile_copies_the_whole_state_no_more_often_for_more_quotations(
    world: World, client: OneAtlasClient, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Each whole-state deep copy costs ≈ 0.5 s at 10,000 resources: one per quotation to
    settle made reconcile quadratic. Three acceptances in flight: still only the copies that
    list what to settle."""
    assert world.cli("plan", "specs/xinjiang-pleiades-neo.yaml", "--out", "plan.json") == (
        ExitCode.OK
    )
    [order] = expand_parts(json.loads(Path("plan.json").read_text()))["orders"]
    sent = datetime.now(UTC).replace(microsecond=0)
    with StateStore(tmp_path / "state.json") as store:
        store.load()
        for n in range(3):
            key = f"oap-00000000000{n}"
            reference = f"{key}~xinjiang/{n}"
            body = {**order["body"], "customerReference": reference}
            quotation_id = client.quotation(body).quotation_id
            quoted = OrderRecord(
                order_key=key, customer_reference=reference, contract_id=NEO_CONTRACT,
                body_digest="0" * 64, status="quoted", quotation_id=quotation_id,
                submitted_at=utc_iso(sent), accept_sent_at=utc_iso(sent),
                addresses=[f"s.o.a{n}"],
            )
            store.record(ResourceRecord(address=f"s.o.a{n}", config_digest="c", orders=[quoted]))
        copies: list[int] = request.getfixturevalue("deep_state_copies")
        result = reconcile(store, client, {}, _at(sent + timedelta(seconds=1)), accept=True)
    assert result.accept_in_flight == ["s.o.a0", "s.o.a1", "s.o.a2"]
    assert len(copies) <= 2, copies  # the records to settle, then the retired orders

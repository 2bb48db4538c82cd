"""Retired orders of unknown outcome are reconciled too (their resource left the state):
found at Airbus, the spend is confirmed; provably absent, it stops counting. Against the
sandbox over HTTP, on both state backends; nothing is ever sent again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient
from oneatlas_plan.api.profiles import resolve_endpoint
from oneatlas_plan.applying import session
from oneatlas_plan.applying.reconcile import ACCEPT_GRACE, NOT_FOUND_GRACE
from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.budget import committed
from oneatlas_plan.state.backends import open_backend
from oneatlas_plan.state.model import ResourceRecord, RetiredOrder, State, utc_iso
from tests.applying.interposer import ORDERING, Airbus, airbus
from tests.conftest import API_KEY, World

__all__ = ["airbus"]

TOULOUSE = "specs/toulouse-pleiades.yaml"
TOULOUSE_ADDRESS = "toulouse.city-centre.polygon-1"
TANZANIA = "specs/tanzania-spot.yaml"
TANZANIA_ADDRESS = "tanzania-spot.malagarasi.malagarasi-west"
XINJIANG = "specs/xinjiang-pleiades-neo.yaml"
XINJIANG_ADDRESS = "xinjiang-pneo.hejing-west.hejing-west"
BAD_GATEWAY = {"message": "Bad gateway", "internalCode": 502}


@pytest.fixture(params=["file", "postgresql"])
def location(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the CLI keeps the state: the default file in the project directory, or
    (ONEATLAS_STATE) a fresh schema of a real PostgreSQL server."""
    # after the project fixture, which clears ONEATLAS_STATE and enters the project directory
    request.getfixturevalue("world" if "world" in request.fixturenames else "airbus")
    if request.param == "file":
        return "oneatlas-state.json"
    url = str(request.getfixturevalue("pg_url"))
    monkeypatch.setenv("ONEATLAS_STATE", url)
    return url


def _state(location: str) -> State:
    backend = open_backend(location)
    try:
        with backend.store() as store:
            return store.load()
    finally:
        backend.close()


def _retired(location: str) -> RetiredOrder:
    [entry] = _state(location).retired
    return entry


def _lost_then_removed(world: World, spec: str, address: str, location: str) -> None:
    """Apply ``spec`` with the order's answer lost, then `state rm` its resource."""
    assert world.cli("apply", spec, "--auto-approve") == ExitCode.ERROR
    assert _state(location).resources[address].status == "unknown"
    assert run(["state", "rm", address]) == ExitCode.OK
    assert _retired(location).order.status == "unknown"


def test_a_retired_order_whose_answer_was_lost_is_found_and_stays_spent(
    world: World, location: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world.faults(drop_next_orders=1, delivery_delay_s=3600)  # created, its answer lost
    _lost_then_removed(world, TOULOUSE, TOULOUSE_ADDRESS, location)
    [sold] = world.ledger()
    capsys.readouterr()

    assert world.cli("plan", TOULOUSE, "--allow-overlap") in (ExitCode.OK, ExitCode.CHANGES)

    err = capsys.readouterr().err
    label = f"{TOULOUSE_ADDRESS} (retired order 0)"
    assert f"reconciled {label}: Airbus has order {sold['salesOrderId']}" in err
    order = _retired(location).order
    assert (order.status, order.sales_order_id) == ("ordered", sold["salesOrderId"])
    assert order.message == "reconciled with Airbus by customerReference"
    assert _state(location).spent() == {"EUR": Decimal("250.00")}
    assert len(world.ledger()) == 1, "reconcile never sends an order again"
    # settled: a person can no longer take the spend back by hand
    assert run(["state", "resolve", TOULOUSE_ADDRESS, "--not-ordered"]) == ExitCode.ERROR
    assert "what was bought stays counted" in capsys.readouterr().err


def test_a_retired_order_airbus_never_had_stops_counting_after_the_grace_period(
    airbus: Airbus,
    location: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = airbus.world
    airbus.wire.answer(ORDERING, 502, BAD_GATEWAY)  # lost, and it never reached Airbus
    _lost_then_removed(world, XINJIANG, XINJIANG_ADDRESS, location)
    assert len(committed(_state(location))) == 1, "an unknown outcome counts as spend"
    label = f"{XINJIANG_ADDRESS} (retired order 0)"
    capsys.readouterr()

    t0 = datetime.now(UTC)
    assert world.cli("plan", XINJIANG) in (ExitCode.OK, ExitCode.CHANGES)
    err = capsys.readouterr().err
    assert f"{label}: the outcome of its order is still unknown" in err
    assert "it is settled as not ordered and no longer counted as spend" in err
    [first_check] = _retired(location).order.not_found_checks
    assert _retired(location).order.status == "unknown"
    serial = _state(location).serial
    assert world.cli("plan", XINJIANG) in (ExitCode.OK, ExitCode.CHANGES)
    assert _state(location).serial == serial, "a check within the grace writes nothing"

    later = t0 + NOT_FOUND_GRACE + timedelta(minutes=1)
    monkeypatch.setattr(session, "_now", lambda: later)
    capsys.readouterr()
    assert world.cli("plan", XINJIANG) in (ExitCode.OK, ExitCode.CHANGES)

    err = capsys.readouterr().err
    assert f"{label}: settled automatically as not ordered" in err
    assert err.count("; no longer counted as spend") == 1
    assert "still unknown" not in err
    order = _retired(location).order
    assert order.status == "not_ordered"
    assert order.not_found_checks[0] == first_check
    assert committed(_state(location)) == []
    assert airbus.wire.posts(*ORDERING) == 1, "nothing is sent again"
    assert world.ledger() == []


def test_a_retired_order_of_the_contract_proves_the_order_search_for_a_legacy_one(
    airbus: Airbus,
    location: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both specs of a legacy contract left the state: the retired order Airbus holds is
    the positive control that makes the order search's "not found" count (docs/reconcile.md)."""
    world = airbus.world
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    assert run(["state", "rm", TOULOUSE_ADDRESS]) == ExitCode.OK
    airbus.wire.answer(ORDERING, 502, BAD_GATEWAY)  # lost, and it never reached Airbus
    assert world.cli("apply", TANZANIA, "--auto-approve") == ExitCode.ERROR
    assert run(["state", "rm", TANZANIA_ADDRESS]) == ExitCode.OK
    assert not _state(location).resources

    t0 = datetime.now(UTC)
    assert world.cli("plan", TANZANIA) in (ExitCode.OK, ExitCode.CHANGES)
    unknown = next(e for e in _state(location).retired if e.address == TANZANIA_ADDRESS)
    assert len(unknown.order.not_found_checks) == 1, "the search proved, the first check kept"
    monkeypatch.setattr(session, "_now", lambda: t0 + NOT_FOUND_GRACE + timedelta(minutes=1))
    capsys.readouterr()
    assert world.cli("plan", TANZANIA) in (ExitCode.OK, ExitCode.CHANGES)
    assert f"{TANZANIA_ADDRESS} (retired order 1): settled automatically as not ordered" in (
        capsys.readouterr().err
    )
    statuses = {e.address: e.order.status for e in _state(location).retired}
    assert statuses == {TOULOUSE_ADDRESS: "ordered", TANZANIA_ADDRESS: "not_ordered"}
    assert len(world.ledger()) == 1


NEO_CONTRACT = "CTR21000411"


@pytest.mark.parametrize("fate", ["accepted", "sent long ago", "sent just now"])
def test_a_retired_quotation_whose_acceptance_was_in_flight_is_read_back(
    world: World, location: str, fate: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run killed while accepting a quotation, then its resource removed: the next plan asks
    Airbus. Accepted there: recorded as spend with its sales order (the order is not lost);
    not accepted after ACCEPT_GRACE: it stops counting; within the grace: still counted. It
    is never accepted again (its resource is gone)."""
    spec = Path(XINJIANG)
    spec.write_text(spec.read_text().replace("    accept_quotations_up_to: 2000 EUR\n", ""))
    assert world.cli("apply", XINJIANG, "--auto-approve") == ExitCode.OK
    [quote] = world.orders_for("xinjiang")
    assert quote["quotationStatus"] == "SENT"
    if fate == "accepted":  # the acceptance reached Airbus; its answer was lost
        with OneAtlasClient(resolve_endpoint(world.base_url), ApiKey(API_KEY)) as client:
            client.accept_quotation(NEO_CONTRACT, quote["quotationId"])
    now = datetime.now(UTC).replace(microsecond=0)
    sent = now - (ACCEPT_GRACE + timedelta(minutes=1) if fate == "sent long ago" else
                  timedelta(seconds=0))

    def accept_sent(record: ResourceRecord) -> ResourceRecord:
        record.orders[-1].accept_sent_at = utc_iso(sent)
        return record

    backend = open_backend(location)
    try:
        with backend.store() as store:
            store.load()
            store.update(XINJIANG_ADDRESS, accept_sent)
    finally:
        backend.close()
    assert run(["state", "rm", XINJIANG_ADDRESS]) == ExitCode.OK
    assert len(committed(_state(location))) == 1, "an acceptance in flight counts as spend"
    world.reset_stats()
    capsys.readouterr()

    assert world.cli("plan", XINJIANG) in (ExitCode.OK, ExitCode.CHANGES)

    err = capsys.readouterr().err
    label = f"{XINJIANG_ADDRESS} (retired order 0)"
    order = _retired(location).order
    [quote] = world.orders_for("xinjiang")
    if fate == "accepted":
        assert quote["quotationStatus"] == "ACCEPTED" and quote["salesOrderId"]
        assert f"{label}: quotation accepted (sales order {quote['salesOrderId']})" in err
        assert (order.status, order.sales_order_id) == ("accepted", quote["salesOrderId"])
        assert [s.amount for s in committed(_state(location))] == [order.amount]
    elif fate == "sent long ago":
        assert quote["quotationStatus"] == "SENT"
        assert f"{label}: an acceptance was sent but Airbus shows the quotation SENT" in err
        assert (order.status, order.accept_sent_at) == ("quoted", None)
        assert committed(_state(location)) == []
    else:
        assert quote["quotationStatus"] == "SENT"
        assert f"{label}: an acceptance of quotation {quote['quotationId']} was sent" in err
        assert (order.status, order.accept_sent_at) == ("quoted", utc_iso(sent))
        assert len(committed(_state(location))) == 1
    assert world.requests_made().get("accept", 0) == 0, "never accepted again"

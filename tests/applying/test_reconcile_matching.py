"""Reconciling an unknown outcome finds our order at Airbus, and only ours.

The customerReference search of the delivery workspace and ``/api/v2/orders/search``
(``customerReference:*key*``) may return near misses: another order whose reference contains
ours. Settling on one of those would record as bought something that never was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient
from oneatlas_plan.api.profiles import resolve_endpoint
from oneatlas_plan.errors import ExitCode
from tests.applying.interposer import ORDERING, Airbus, airbus
from tests.conftest import API_KEY, World

__all__ = ["airbus"]

TOULOUSE = "toulouse.city-centre.polygon-1"
XINJIANG = "xinjiang-pneo.hejing-west.hejing-west"
BAD_GATEWAY = {"message": "Bad gateway", "internalCode": 502}


def _record(world: World, address: str) -> dict[str, Any]:
    return dict(world.state()["resources"][address])


def test_an_order_that_merely_contains_our_reference_is_not_ours(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    world = airbus.world
    assert world.cli("plan", "specs/toulouse-pleiades.yaml", "--out", "plan.json") == ExitCode.OK
    order = json.loads(Path("plan.json").read_text())["orders"][0]
    ours = order["customer_reference"]
    # A 502 on the order POST: outcome unknown, though the request never reached Airbus.
    airbus.wire.answer(ORDERING, 502, BAD_GATEWAY)
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    assert _record(world, TOULOUSE)["status"] == "unknown"
    assert world.ledger() == []
    # Someone else orders the same scene with a reference that contains ours.
    near_miss = f"copy of {ours}"
    with OneAtlasClient(resolve_endpoint(world.base_url), ApiKey(API_KEY)) as client:
        foreign = client.order({**order["body"], "customerReference": near_miss})
    assert foreign.sales_order_id
    # And the delivery workspace search matches loosely: asked for ours, it returns that one's.
    airbus.wire.ask(
        "/api/v2/opensearch",
        lambda body: {**body, "customerReference": near_miss}
        if body.get("customerReference") == ours
        else body,
    )
    capsys.readouterr()
    world.cli("plan", "specs/toulouse-pleiades.yaml")
    assert f"{TOULOUSE}: the outcome of its order is still unknown" in capsys.readouterr().err
    record = _record(world, TOULOUSE)
    assert record["status"] == "unknown"
    assert record["orders"][-1]["sales_order_id"] is None
    assert [o["customerReference"] for o in world.ledger()] == [near_miss]


def test_a_quotation_whose_answer_was_lost_is_found_by_the_orders_search(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.faults(drop_next_orders=1)  # Airbus creates the quotation, the answer is lost
    spec = "specs/xinjiang-pleiades-neo.yaml"
    assert world.cli("plan", spec, "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    assert _record(world, XINJIANG)["status"] == "unknown"
    (quotation,) = world.ledger()
    assert quotation["quotationId"] and not quotation.get("salesOrderId")
    capsys.readouterr()
    world.cli("plan", spec)
    assert f"reconciled {XINJIANG}: Airbus has order {quotation['quotationId']}" in (
        capsys.readouterr().err
    )
    record = _record(world, XINJIANG)
    assert record["status"] == "quoted"
    assert record["orders"][-1]["quotation_id"] == quotation["quotationId"]
    assert record["orders"][-1]["sales_order_id"] is None
    assert len(world.ledger()) == 1


def test_a_lost_legacy_order_is_found_delivered_in_the_contract_workspace(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.faults(drop_next_orders=1)  # Airbus creates the order, the answer is lost
    spec = "specs/toulouse-pleiades.yaml"
    assert world.cli("plan", spec, "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    (order,) = world.ledger()
    capsys.readouterr()
    world.cli("plan", spec)
    assert f"reconciled {TOULOUSE}: Airbus has order {order['salesOrderId']}" in (
        capsys.readouterr().err
    )
    current = _record(world, TOULOUSE)["orders"][-1]
    assert current["status"] == "ordered"
    assert current["sales_order_id"] == order["salesOrderId"]
    # Found in the delivery workspace (not only in the orders search): its items came along.
    assert current["production_status"] == "delivered"
    assert current["deliveries"] and all(d["download_href"] for d in current["deliveries"])

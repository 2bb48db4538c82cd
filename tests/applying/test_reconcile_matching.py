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
from oneatlas_plan.planning.planfile import expand_parts
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
    order = expand_parts(json.loads(Path("plan.json").read_text()))["orders"][0]
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
    # What was asked: our reference in the workspace, our key within the contract in the orders.
    asked = [b.get("customerReference") for b in airbus.wire.sent("/api/v2/opensearch")]
    assert near_miss in asked  # ours, turned into the near miss on the way
    (query,) = [b["criteria"]["q"] for b in airbus.wire.sent("/api/v2/orders/search")]
    assert f"(customerReference:*{order['key']}*)" in query
    assert f"(contractId:{order['contract_id']})" in query


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


OTHER_WORKSPACE = "00000000-0000-4000-8000-000000000000"


def _account_workspace(workspace: str | None) -> Any:
    def change(me: dict[str, Any]) -> dict[str, Any]:
        me["contract"]["workspaceId"] = workspace
        return me

    return change


@pytest.mark.parametrize("where", ["contract", "account"])
def test_a_lost_legacy_order_is_found_delivered_in_its_workspace(
    airbus: Airbus, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    world = airbus.world
    world.faults(drop_next_orders=1)  # Airbus creates the order, the answer is lost
    spec = "specs/toulouse-pleiades.yaml"
    assert world.cli("plan", spec, "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    (order,) = world.ledger()
    if where == "contract":  # the account's workspace is another one: the contract's counts
        airbus.wire.rewrite("/api/v1/me", _account_workspace(OTHER_WORKSPACE))
    else:  # the contract names no delivery workspace: the account's is used
        airbus.wire.rewrite("/api/v1/contracts", _without_delivery_workspaces)
    capsys.readouterr()
    world.cli("plan", spec)
    assert f"reconciled {TOULOUSE}: Airbus has order {order['salesOrderId']}" in (
        capsys.readouterr().err
    )
    current = _record(world, TOULOUSE)["orders"][-1]
    assert current["status"] == "ordered"
    assert current["sales_order_id"] == order["salesOrderId"]
    assert current["message"] == "reconciled with Airbus by customerReference"
    assert current["outcome_at"]
    # Already delivered: its items are recorded whole at once (download needs them), not left
    # for a later refresh.
    [item] = current["deliveries"]
    assert item["item_id"] and item["resource_id"] and item["publication_date"], item
    assert item["download_href"] == f"/api/v1/items/{item['item_id']}/download"
    assert current["production_status"] == "delivered"
    # Settled: the next plan asks Airbus nothing more about it.
    capsys.readouterr()
    world.cli("plan", spec)
    assert "reconciled" not in capsys.readouterr().err
    # And the product can be downloaded with no refresh in between.
    assert world.cli("download", "--dest", "out") == ExitCode.OK
    [download] = _record(world, TOULOUSE)["orders"][-1]["downloads"]
    assert download["path"] == f"out/{item['resource_id']}"


def _without_delivery_workspaces(answer: dict[str, Any]) -> dict[str, Any]:
    for contract in answer["contracts"]:
        contract["delivery"] = []
    return answer


def test_a_lost_order_not_yet_delivered_is_found_by_the_orders_search(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.faults(drop_next_orders=1, delivery_delay_s=86400)
    spec = "specs/toulouse-pleiades.yaml"
    assert world.cli("plan", spec, "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    (order,) = world.ledger()
    world.cli("plan", spec)
    current = _record(world, TOULOUSE)["orders"][-1]
    assert (current["status"], current["sales_order_id"]) == ("ordered", order["salesOrderId"])
    assert current["quotation_id"] is None
    assert not current["deliveries"]
    assert current["production_status"] == "ordered", "bought: in production until delivered"


def test_every_unknown_order_is_reconciled_in_one_run(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    world = airbus.world
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    airbus.wire.answer(ORDERING, 502, BAD_GATEWAY)  # the first: never reached Airbus
    world.faults(drop_next_orders=2)  # the next two: created, answers lost
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    unknown = [a for a, r in world.state()["resources"].items() if r["status"] == "unknown"]
    assert len(unknown) == 3
    capsys.readouterr()
    world.cli("plan", "specs")
    err = capsys.readouterr().err
    assert f"{unknown[0]}: the outcome of its order is still unknown" in err
    statuses = {a: r["status"] for a, r in world.state()["resources"].items()}
    assert statuses[unknown[0]] == "unknown"
    assert sorted(statuses[a] for a in unknown[1:]) == ["ordered", "quoted"]
    assert len(world.ledger()) == 2


def test_without_any_delivery_workspace_the_orders_search_settles_it(airbus: Airbus) -> None:
    world = airbus.world
    world.faults(drop_next_orders=1)
    spec = "specs/toulouse-pleiades.yaml"
    assert world.cli("plan", spec, "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    (order,) = world.ledger()
    airbus.wire.rewrite("/api/v1/contracts", _without_delivery_workspaces)
    airbus.wire.rewrite("/api/v1/me", lambda me: {**me, "contract": None})
    world.cli("plan", spec)
    current = _record(world, TOULOUSE)["orders"][-1]
    assert (current["status"], current["sales_order_id"]) == ("ordered", order["salesOrderId"])
    assert not [b for b in airbus.wire.sent("/api/v2/opensearch") if "customerReference" in b]
    # Its delivered items come from the workspace the order's line names, by sales order.
    assert len(current["deliveries"]) == 1
    asked = [b["internalReference"] for b in airbus.wire.sent("/api/v2/opensearch")
             if "internalReference" in b]  # fmt: skip
    assert asked == [order["salesOrderId"]]


SECOND_AOI = """      - name: polygon-2
        bbox: [1.42, 43.59, 1.46, 43.62]
    search:"""

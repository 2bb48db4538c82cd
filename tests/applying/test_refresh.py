"""refresh against the sandbox: an order not yet delivered, then delivered and found."""

from __future__ import annotations

import time

import pytest

from oneatlas_plan.errors import ExitCode
from tests.conftest import World

TOULOUSE = "specs/toulouse-pleiades.yaml"
ADDRESS = "toulouse.city-centre.polygon-1"


def _order(world: World) -> dict[str, object]:
    return dict(world.state()["resources"][ADDRESS]["orders"][-1])


def test_refresh_waits_for_delivery_then_records_it(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.faults(delivery_delay_s=1.5)
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    ordered_at = time.monotonic()
    sales_order_id = world.orders_for("toulouse")[0]["salesOrderId"]
    capsys.readouterr()

    assert world.cli("refresh") == ExitCode.OK
    out = capsys.readouterr().out
    assert f"{ADDRESS}  {sales_order_id}  ordered" in out
    assert _order(world)["deliveries"] == []
    assert _order(world)["production_status"] == "ordered"

    time.sleep(max(0.0, 1.6 - (time.monotonic() - ordered_at)))
    assert world.cli("refresh") == ExitCode.OK
    out = capsys.readouterr().out
    assert f"{ADDRESS}  {sales_order_id}  delivered  1" in out
    assert "1 changed in the state" in out
    order = _order(world)
    assert order["production_status"] == "delivered"
    [item] = order["deliveries"]
    # a path on the endpoint's access service: nothing in the state depends on the host/port
    assert item["download_href"] == f"/api/v1/items/{item['item_id']}/download"
    assert str(item["resource_id"]).endswith(".zip")
    assert item["publication_date"]

    serial = world.state()["serial"]
    assert world.cli("refresh") == ExitCode.OK
    assert "0 changed in the state" in capsys.readouterr().out
    assert world.state()["serial"] == serial, "an unchanged refresh writes nothing"


def test_plan_refresh_records_deliveries_before_planning(world: World) -> None:
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    assert _order(world)["deliveries"] == []
    assert world.cli("plan", TOULOUSE, "--refresh", "--detailed-exitcode") == ExitCode.OK
    assert len(_order(world)["deliveries"]) == 1  # type: ignore[arg-type]
    assert len(world.ledger()) == 1, "refresh never orders"


def test_refresh_with_an_empty_state_makes_no_request(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("refresh") == ExitCode.OK
    assert "Nothing to refresh" in capsys.readouterr().out

"""refresh against the sandbox: an order not yet delivered, then delivered and found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.sandbox.embedded import start_embedded
from tests.conftest import API_KEY, World

TOULOUSE = "specs/toulouse-pleiades.yaml"
ADDRESS = "toulouse.city-centre.polygon-1"


def _order(world: World) -> dict[str, Any]:
    return dict(world.state()["resources"][ADDRESS]["orders"][-1])


def test_refresh_waits_for_delivery_then_records_it(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.faults(delivery_delay_s=3600)
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    sales_order_id = world.orders_for("toulouse")[0]["salesOrderId"]
    capsys.readouterr()

    assert world.cli("refresh") == ExitCode.OK
    out = capsys.readouterr().out
    assert f"{ADDRESS}  {sales_order_id}  ordered" in out
    assert _order(world)["deliveries"] == []
    assert _order(world)["production_status"] == "ordered"

    world.faults(clock_offset_s=3601)  # an hour later on the sandbox's clock: delivered
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
    assert len(_order(world)["deliveries"]) == 1
    assert len(world.ledger()) == 1, "refresh never orders"


def test_refresh_with_an_empty_state_makes_no_request(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("refresh") == ExitCode.OK
    assert "Nothing to refresh" in capsys.readouterr().out


TEAM_WORKSPACE = "9d2f4c61-3b7e-4a08-8c5e-6f1a2b3c4d5e"  # the sandbox's `sandbox-team`


def test_deliveries_are_found_in_the_workspace_the_order_named(world: World) -> None:
    spec = world.project / TOULOUSE
    spec.write_text(
        spec.read_text().replace("1a7aaef1-839e-4eaa-826c-aabee39eac85", TEAM_WORKSPACE)
    )
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    assert _order(world)["delivery_workspace"] == TEAM_WORKSPACE
    [entry] = world.orders_for("toulouse")
    assert entry["body"]["delivery"]["workspace"] == TEAM_WORKSPACE

    assert world.cli("refresh") == ExitCode.OK
    order = _order(world)
    assert order["production_status"] == "delivered"
    assert len(order["deliveries"]) == 1
    found = requests.get(
        f"{world.base_url}/api/v1/opensearch",
        params={"workspace": "sandbox-legacy", "customerReference": entry["customerReference"]},
        headers={"Authorization": f"Bearer {_token(world)}"},
        timeout=10,
    ).json()
    assert found["features"] == [], "delivered where the body said, not in the default"


def test_an_unknown_delivery_workspace_is_refused_before_anything_is_ordered(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = world.project / TOULOUSE
    spec.write_text(
        spec.read_text().replace("1a7aaef1-839e-4eaa-826c-aabee39eac85", "no-such-workspace")
    )
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.ERROR
    assert "E2203" in capsys.readouterr().out
    assert world.orders_for("toulouse") == []
    assert _order(world)["status"] == "rejected"


def test_a_refresh_through_another_port_changes_nothing(world: World, tmp_path: Path) -> None:
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    assert world.cli("refresh") == ExitCode.OK
    assert _order(world)["production_status"] == "delivered"
    before = (world.project / "oneatlas-state.json").read_bytes()
    assert b"127.0.0.1" not in before, "nothing in the state depends on the sandbox's port"

    # the same sandbox world served on another port (as every `--sandbox` run does)
    with start_embedded(tmp_path / "sandbox-data", api_key=API_KEY, time_scale=50) as again:
        assert again.base_url != world.base_url
        assert run(["refresh", "--endpoint", again.base_url]) == ExitCode.OK
    assert (world.project / "oneatlas-state.json").read_bytes() == before
    assert world.cli("download", "--dest", "out") == ExitCode.OK


def _token(world: World) -> str:
    response = requests.post(
        f"{world.base_url}/auth/realms/IDP/protocol/openid-connect/token",
        data={"apikey": API_KEY, "grant_type": "api_key", "client_id": "IDP"},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])

"""Direct tests of `apply_plan`'s re-checks made just before each order (issue 14): the price
is asked again and a rise beyond the tolerance skips the order; budgets are charged with
everything the state commits at that moment, including what this run already bought. The
orders go to the sandbox over HTTP; only the price answer is raised, by a thin wrapper."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient
from oneatlas_plan.api.models import PriceResponse
from oneatlas_plan.api.profiles import resolve_endpoint
from oneatlas_plan.applying.apply import ApplySettings, apply_plan
from oneatlas_plan.applying.reprice import RepricePolicy
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.model import Plan
from oneatlas_plan.planning.planfile import read_plan
from oneatlas_plan.state.model import OrderRecord, ResourceRecord
from oneatlas_plan.state.store import StateStore
from tests.cli.test_spend import TOULOUSE, toulouse_with
from tests.conftest import API_KEY, World


class Repriced:
    """The real client, but /prices answers ``extra`` more than the sandbox."""

    def __init__(self, client: OneAtlasClient, extra: Decimal) -> None:
        self._client = client
        self._extra = extra

    def price(self, body: Mapping[str, Any]) -> PriceResponse:
        price = self._client.price(body)
        return price.model_copy(
            update={"total_amount": Decimal(str(price.total_amount)) + self._extra}
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def client(world: World) -> Iterator[OneAtlasClient]:
    with OneAtlasClient(resolve_endpoint(world.base_url), ApiKey(API_KEY)) as opened:
        yield opened


def planned(world: World, budget_block: str) -> Plan:
    """Two Toulouse AOIs of EUR 250.00 each, planned under ``budget_block``."""
    toulouse_with(budget_block, aois=2)
    assert world.cli("plan", str(TOULOUSE), "--out", "plan.json") == ExitCode.OK
    plan = read_plan(Path("plan.json"))
    assert [o.action for o in plan.orders] == ["create", "create"]
    assert [o.price.amount for o in plan.orders if o.price] == [Decimal("250.00")] * 2
    return plan


def store_of(world: World) -> StateStore:
    store = StateStore(world.project / "oneatlas-state.json")
    store.load()
    return store


def run(plan: Plan, store: StateStore, client: Any, **settings: Any) -> list[tuple[str, str]]:
    # these tests pin the apply-time re-price: a plan made seconds ago is otherwise trusted
    settings.setdefault("reprice", RepricePolicy(mode="always"))
    result = apply_plan(plan, store, client, ApplySettings(**settings))
    return [(o.status, o.message) for o in result.outcomes]


def test_price_rise_beyond_tolerance_skips(world: World, client: OneAtlasClient) -> None:
    plan = planned(world, "")
    with store_of(world) as store:
        outcomes = run(plan, store, Repriced(client, Decimal(10)), price_tolerance=Decimal(5))
    assert [status for status, _ in outcomes] == ["skipped", "skipped"]
    assert outcomes[0][1].startswith("price changed since the plan: EUR 250.00 -> EUR 260.00")
    assert world.orders_for("toulouse/") == []


def test_price_rise_within_tolerance_orders(world: World, client: OneAtlasClient) -> None:
    plan = planned(world, "")
    with store_of(world) as store:
        outcomes = run(plan, store, Repriced(client, Decimal(10)), price_tolerance=Decimal(10))
    assert [status for status, _ in outcomes] == ["ordered", "ordered"]


def test_budget_charges_what_this_run_already_bought(world: World, client: OneAtlasClient) -> None:
    plan = planned(world, "budget:\n  per_spec: 504 EUR\n")  # 2 x 250 fits at plan time
    with store_of(world) as store:
        outcomes = run(plan, store, Repriced(client, Decimal(5)), price_tolerance=Decimal(5))
    assert [status for status, _ in outcomes] == ["ordered", "skipped"]
    assert outcomes[1][1] == (
        "spec toulouse budget EUR 504.00 would be exceeded "
        "(EUR 250.00 already committed + EUR 255.00)"  # the first order's recorded amount
    )
    assert len(world.orders_for("toulouse/")) == 1


def test_budget_charges_prior_spend_recorded_since_the_plan(
    world: World, client: OneAtlasClient
) -> None:
    plan = planned(world, "budget:\n  total: 600 EUR\n")
    with store_of(world) as store:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        store.record(  # another process bought something meanwhile (or an unknown outcome)
            ResourceRecord(
                address="elsewhere.order.aoi",
                config_digest="sha256:x",
                orders=[
                    OrderRecord(
                        order_key="oap-elsewhere",
                        customer_reference="elsewhere",
                        body_digest="d",
                        status="unknown",
                        amount=Decimal(200),
                        currency="EUR",
                        submitted_at=now,
                        addresses=["elsewhere.order.aoi"],
                    )
                ],
            )
        )
        outcomes = run(plan, store, client)
    assert [status for status, _ in outcomes] == ["ordered", "skipped"]
    assert "(EUR 450.00 already committed + EUR 250.00)" in outcomes[1][1]

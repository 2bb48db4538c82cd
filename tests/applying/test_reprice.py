"""No ordering call that buys nothing: apply re-prices only prices older than the policy allows,
and compares what Airbus charged with the plan. Request counts come from the sandbox's
/sandbox/v1/stats, never from timings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oneatlas_plan.applying.reprice import RepricePolicy
from oneatlas_plan.errors import ExitCode
from tests.conftest import World

SPECS = ("specs/toulouse-pleiades.yaml", "specs/tanzania-spot.yaml")  # two legacy orders
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _ordering_calls(world: World) -> dict[str, int]:
    made = world.requests_made()
    return {name: made.get(name, 0) for name in ("prices", "orders")}


def _plan(world: World) -> int:
    assert world.cli("plan", *SPECS, "--out", "plan.json") == ExitCode.OK
    plan = json.loads(Path("plan.json").read_text())
    orders = len(plan["orders"])
    assert orders == 2 and set(plan["meta"]["priced_at"]) == {o["key"] for o in plan["orders"]}
    world.reset_stats()
    return orders


def _age_prices(hours: float) -> None:
    """Make the plan's prices older (``meta`` is outside the checksum, like any volatile fact)."""
    plan = json.loads(Path("plan.json").read_text())
    when = (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="seconds")
    plan["meta"]["priced_at"] = {key: when for key in plan["meta"]["priced_at"]}
    Path("plan.json").write_text(json.dumps(plan))


def test_apply_specs_prices_each_order_once(world: World) -> None:
    assert world.cli("apply", *SPECS, "--auto-approve") == ExitCode.OK
    orders = len(world.ledger())
    assert orders == 2
    # the plan's pricing and the orders: no second price in the same run
    assert _ordering_calls(world) == {"prices": orders, "orders": orders}


def test_a_fresh_reviewed_plan_is_not_repriced(world: World) -> None:
    orders = _plan(world)
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert _ordering_calls(world) == {"prices": 0, "orders": orders}


def test_an_old_price_is_asked_again(world: World) -> None:
    orders = _plan(world)
    _age_prices(hours=2)  # older than the default hour
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert _ordering_calls(world) == {"prices": orders, "orders": orders}


@pytest.mark.parametrize(
    ("policy", "hours", "prices"),
    [
        (("--reprice", "never"), 48, 0),
        (("--reprice", "always"), 0, 2),
        (("--reprice", "older-than 10m"), 0.5, 2),
        (("--reprice", "older-than=1d"), 2, 0),
    ],
)
def test_reprice_option(
    world: World, policy: tuple[str, str], hours: float, prices: int
) -> None:
    orders = _plan(world)
    if hours:
        _age_prices(hours)
    assert world.cli("apply", "plan.json", *policy) == ExitCode.OK
    assert _ordering_calls(world) == {"prices": prices, "orders": orders}


def test_a_higher_charge_is_recorded_shown_and_stops_the_run(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _plan(world)
    planned = [o["price"]["amount"] for o in json.loads(Path("plan.json").read_text())["orders"]]
    world.faults(price_factor=1.1)  # Airbus's prices rose after the review
    capsys.readouterr()
    assert world.cli("apply", "plan.json") == ExitCode.ERROR
    out = capsys.readouterr().out
    # the first order was bought at the new price; the second was never sent
    assert _ordering_calls(world) == {"prices": 0, "orders": 1}
    ledger = world.ledger()
    assert len(ledger) == 1
    charged = f"{round(float(planned[0]) * 1.1, 2):,.2f}"
    assert f"charged EUR {charged}, the plan said EUR {float(planned[0]):,.2f}" in out
    assert "beyond the tolerance: stopped before the next order" in out
    assert "1 submitted, 1 not submitted" in out
    recorded = [
        r["orders"][-1] for r in world.state()["resources"].values() if r["orders"][-1]["message"]
    ]
    assert len(recorded) == 1 and recorded[0]["message"].startswith(f"charged EUR {charged}")
    assert recorded[0]["status"] == "ordered"


def test_a_lower_charge_is_recorded_and_the_run_goes_on(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    orders = _plan(world)
    world.faults(price_factor=0.9)
    capsys.readouterr()
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert _ordering_calls(world) == {"prices": 0, "orders": orders}
    out = capsys.readouterr().out
    assert out.count("charged EUR") == orders
    messages = [r["orders"][-1]["message"] for r in world.state()["resources"].values()]
    assert all(m and m.startswith("charged EUR") for m in messages)


def test_a_repriced_rise_is_still_refused_before_ordering(world: World) -> None:
    _plan(world)
    world.faults(price_factor=1.1)
    assert world.cli("apply", "plan.json", "--reprice", "always") == ExitCode.ERROR
    assert _ordering_calls(world) == {"prices": 2, "orders": 0}
    assert world.ledger() == []


def test_a_bad_reprice_value_is_a_usage_error(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("apply", "specs", "--reprice", "sometimes") == ExitCode.USAGE
    assert "use always, never or 'older-than DURATION'" in capsys.readouterr().err
    assert world.ledger() == []


@pytest.mark.parametrize(
    ("policy", "priced_at", "needed"),
    [
        (RepricePolicy(), (NOW - timedelta(minutes=59)).isoformat(), False),
        (RepricePolicy(), (NOW - timedelta(minutes=61)).isoformat(), True),
        (RepricePolicy(), None, True),  # unknown age: old
        (RepricePolicy(), "yesterday", True),
        (RepricePolicy(), "2025-03-01T11:59:00", True),  # no time zone: unknown age
        (RepricePolicy(mode="never"), None, False),
        (RepricePolicy(mode="always"), NOW.isoformat(), True),
        (RepricePolicy(max_age_s=0), NOW.isoformat(), False),
    ],
)
def test_policy(policy: RepricePolicy, priced_at: str | None, needed: bool) -> None:
    assert policy.needed(priced_at, NOW) is needed

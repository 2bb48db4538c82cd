"""What apply checks and records when Airbus answers something else than at plan time.

Against the sandbox over real HTTP, through the CLI; tests/applying/interposer.py lets a test
change the next answers (a 4xx, a 429, a price that rose). Each test pins one promise that a
mutant of applying/apply.py used to break without any test noticing (docs/mutation-testing.md).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan.errors import ExitCode
from tests.applying.interposer import ORDERING, PRICES, TOO_MANY, Airbus, airbus

__all__ = ["airbus"]

TANZANIA = "tanzania-spot.malagarasi.malagarasi-west"
TOULOUSE = "toulouse.city-centre.polygon-1"
XINJIANG = "xinjiang-pneo.hejing-west.hejing-west"
REJECTED = {"errorCode": "E2203", "message": "Unable to access workspace 'ws-1'"}
# These tests pin what the apply-time re-price checks: a plan made seconds ago is otherwise
# not re-priced (tests/applying/test_reprice.py pins that)
ALWAYS = ("--reprice", "always")


def _plan(airbus: Airbus, *specs: str) -> dict[str, Any]:
    assert airbus.world.cli("plan", *(specs or ("specs",)), "--out", "plan.json") == ExitCode.OK
    return dict(json.loads(Path("plan.json").read_text()))


def _statuses(airbus: Airbus) -> dict[str, str]:
    state_file = airbus.world.project / "oneatlas-state.json"
    if not state_file.exists():
        return {}
    return {a: r["status"] for a, r in airbus.world.state()["resources"].items()}


def _first_ordered(plan: dict[str, Any]) -> str:
    orders = [o for o in plan["orders"] if o["action"] in ("create", "reorder")]
    return str(orders[0]["addresses"][0])


def test_a_4xx_is_recorded_rejected_and_the_other_orders_go_on(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _plan(airbus)
    first = _first_ordered(plan)
    airbus.wire.answer(ORDERING, 400, REJECTED)
    capsys.readouterr()
    assert airbus.world.cli("apply", "plan.json") == ExitCode.ERROR
    out = capsys.readouterr().out
    assert f"{first}: REJECTED" in out
    assert "1 rejected, 0 unknown, 0 skipped" in out
    record = airbus.world.state()["resources"][first]
    assert record["status"] == "rejected"  # not left pending: a 4xx created nothing
    assert "E2203" in record["orders"][-1]["message"]
    assert airbus.wire.posts(*ORDERING) == 3  # the 400 was not retried
    assert len(airbus.world.ledger()) == 2
    # Nothing exists at Airbus for the rejected one: the next apply orders it, once.
    assert airbus.world.cli("apply", "specs", "--auto-approve") == ExitCode.OK
    assert _statuses(airbus)[first] == "ordered"
    assert len(airbus.world.ledger()) == 3


def test_fail_fast_stops_at_the_first_rejection(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _first_ordered(_plan(airbus))
    priced = airbus.wire.posts(PRICES)
    airbus.wire.answer(ORDERING, 400, REJECTED)
    capsys.readouterr()
    assert airbus.world.cli("apply", "plan.json", *ALWAYS, "--fail-fast") == ExitCode.ERROR
    out = capsys.readouterr().out
    assert "Stopped: stopped at the first rejection (--fail-fast)" in out
    assert airbus.wire.posts(*ORDERING) == 1
    assert airbus.wire.posts(PRICES) == priced + 1  # the next order was not even re-priced
    assert airbus.world.ledger() == []
    assert _statuses(airbus) == {first: "rejected"}


def test_a_429_stops_the_run_and_is_never_retried(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _first_ordered(_plan(airbus))
    priced = airbus.wire.posts(PRICES)
    airbus.wire.answer(ORDERING, 429, TOO_MANY)
    capsys.readouterr()
    assert airbus.world.cli("apply", "plan.json", *ALWAYS) == ExitCode.ERROR
    out = capsys.readouterr().out
    assert "Stopped: OneAtlas rate-limited this API key (429): stopped" in out
    assert "the 2 later orders were not submitted" in out
    assert "Apply: 0 ordered, 0 quoted, 0 accepted, 1 rejected, 0 unknown" in out
    assert airbus.wire.posts(*ORDERING) == 1
    assert airbus.wire.posts(PRICES) == priced + 1
    assert airbus.world.ledger() == []
    # Nothing was created: recorded as rejected (re-ordered once the ban is over), others untouched.
    assert _statuses(airbus) == {first: "rejected"}
    record = airbus.world.state()["resources"][first]["orders"][-1]
    assert record["message"].startswith("order rate limited (429): Too many requests")
    assert f"{first}: REJECTED\n    order rate limited (429): Too many requests" in out


def test_a_429_on_a_later_order_counts_the_orders_left(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    _plan(airbus)
    airbus.wire.answer(ORDERING, 429, TOO_MANY, after=1)  # the first order goes through
    capsys.readouterr()
    assert airbus.world.cli("apply", "plan.json") == ExitCode.ERROR
    out = capsys.readouterr().out
    assert "the 1 later order was not submitted" in out
    assert len(airbus.world.ledger()) == 1


def test_an_early_stop_forgets_nothing(airbus: Airbus, capsys: pytest.CaptureFixture[str]) -> None:
    specs = airbus.world.project / "specs"
    toulouse = specs / "toulouse-pleiades.yaml"
    aside = airbus.world.project / "toulouse-pleiades.yaml"
    toulouse.rename(aside)
    assert airbus.world.cli("apply", "specs", "--auto-approve") == ExitCode.OK
    assert set(_statuses(airbus)) == {TANZANIA, XINJIANG}
    # Next run: Toulouse is new (to order), Tanzania's spec is gone (to forget).
    aside.rename(toulouse)
    (specs / "tanzania-spot.yaml").unlink()
    _plan(airbus)
    airbus.wire.answer(ORDERING, 400, REJECTED)
    capsys.readouterr()
    assert airbus.world.cli("apply", "plan.json", "--fail-fast") == ExitCode.ERROR
    assert ", 0 forgotten" in capsys.readouterr().out
    assert _statuses(airbus)[TANZANIA] == "ordered"  # still known: the run stopped early
    assert airbus.world.cli("apply", "specs", "--auto-approve") == ExitCode.OK
    assert TANZANIA not in _statuses(airbus)
    assert _statuses(airbus)[TOULOUSE] == "ordered"


def _raise_price(by: Decimal) -> Any:
    def change(answer: dict[str, Any]) -> dict[str, Any]:
        answer["totalAmount"] = float(Decimal(str(answer["totalAmount"])) + by)
        return answer

    return change


def test_a_price_rise_since_the_plan_is_refused_before_anything_is_written(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _plan(airbus, "specs/toulouse-pleiades.yaml")
    planned = Decimal(plan["orders"][0]["price"]["amount"])
    airbus.wire.rewrite(PRICES, _raise_price(Decimal("0.01")))
    capsys.readouterr()
    assert airbus.world.cli("apply", "plan.json", *ALWAYS) == ExitCode.ERROR
    out = capsys.readouterr().out
    risen = planned + Decimal("0.01")
    assert f"price changed since the plan: EUR {planned:,.2f} -> EUR {risen:,.2f}" in out
    assert airbus.wire.posts(*ORDERING) == 0
    assert _statuses(airbus) == {}  # no pending record was written for it
    assert airbus.world.cli("apply", "plan.json", *ALWAYS, "--accept-price-changes") == ExitCode.OK
    assert _statuses(airbus) == {TOULOUSE: "ordered"}
    assert len(airbus.world.ledger()) == 1


def test_a_price_drop_since_the_plan_is_ordered(airbus: Airbus) -> None:
    _plan(airbus, "specs/toulouse-pleiades.yaml")
    airbus.wire.rewrite(PRICES, _raise_price(Decimal("-10")))
    assert airbus.world.cli("apply", "plan.json", *ALWAYS) == ExitCode.OK
    assert _statuses(airbus) == {TOULOUSE: "ordered"}


def test_re_pricing_refused_by_airbus_orders_nothing(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    _plan(airbus, "specs/toulouse-pleiades.yaml")
    airbus.wire.answer(PRICES, 400, REJECTED)
    capsys.readouterr()
    assert airbus.world.cli("apply", "plan.json", *ALWAYS) == ExitCode.ERROR
    out = capsys.readouterr().out
    assert "re-pricing refused by Airbus: price rejected (400 E2203)" in out
    assert "Apply: 0 ordered, 0 quoted, 0 accepted, 0 rejected, 0 unknown, 1 skipped" in out
    assert airbus.wire.posts(*ORDERING) == 0
    assert _statuses(airbus) == {}


def test_the_per_order_budget_is_checked_again_at_the_new_price(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = airbus.world.project / "specs/toulouse-pleiades.yaml"
    price = Decimal(_plan(airbus, str(spec))["orders"][0]["price"]["amount"])
    spec.write_text(spec.read_text().replace("budget: 1000 EUR", f"budget: {price} EUR"))
    _plan(airbus, str(spec))  # the price is exactly the budget: allowed
    airbus.wire.rewrite(PRICES, _raise_price(Decimal("0.01")), times=1)
    capsys.readouterr()
    applied = airbus.world.cli("apply", "plan.json", *ALWAYS, "--accept-price-changes")
    assert applied == ExitCode.ERROR
    out = capsys.readouterr().out
    assert "1 skipped (price or budget)" in out and f"EUR {price:,.2f}" in out
    assert airbus.world.ledger() == []
    assert airbus.world.cli("apply", "plan.json", *ALWAYS) == ExitCode.OK  # at the planned price
    assert _statuses(airbus) == {TOULOUSE: "ordered"}


SECOND_AOI = """      - name: polygon-2
        bbox: [1.42, 43.59, 1.46, 43.62]
    search:"""


@pytest.mark.parametrize("scope", ["total"])
def test_the_apply_time_budget_counts_the_orders_placed_in_the_same_run(
    airbus: Airbus, capsys: pytest.CaptureFixture[str], scope: str
) -> None:
    specs = airbus.world.project / "specs"
    if scope == "total":  # two orders in two spec files
        (specs / "xinjiang-pleiades-neo.yaml").unlink()
        spec = specs / "tanzania-spot.yaml"
    else:  # two orders in one spec file
        for other in ("xinjiang-pleiades-neo.yaml", "tanzania-spot.yaml"):
            (specs / other).unlink()
        spec = specs / "toulouse-pleiades.yaml"
        spec.write_text(spec.read_text().replace("    search:", SECOND_AOI, 1))
    plan = _plan(airbus)
    assert len(plan["orders"]) == 2
    limit = sum(Decimal(o["price"]["amount"]) for o in plan["orders"])
    budget = f"budget: {{{'total' if scope == 'total' else 'per_spec'}: {limit} EUR}}\n"
    spec.write_text(spec.read_text().replace("orders:\n", budget + "orders:\n", 1))
    _plan(airbus)  # exactly within the budget at the planned prices
    # Each price rises by 1 EUR: each order alone fits, both together do not.
    airbus.wire.rewrite(PRICES, _raise_price(Decimal(1)))
    capsys.readouterr()
    applied = airbus.world.cli("apply", "plan.json", *ALWAYS, "--accept-price-changes")
    assert applied == ExitCode.ERROR
    out = capsys.readouterr().out
    label = "total" if scope == "total" else "spec"
    assert f"{label} budget EUR {limit:,.2f} would be exceeded" in out
    assert len(airbus.world.ledger()) == 1
    assert sorted(_statuses(airbus).values()) == ["ordered"]

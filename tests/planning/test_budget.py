from __future__ import annotations

from datetime import date
from decimal import Decimal

from oneatlas_plan.planning.budget import (
    Limit,
    Limits,
    PricedOrder,
    Spend,
    check_budgets,
    committed,
    recheck,
    window_start,
)
from oneatlas_plan.state.model import OrderRecord, ResourceRecord, State

TODAY = date(2026, 3, 2)


def order(key: str, amount: str, address: str = "s.o.a", *, spends: bool = True) -> PricedOrder:
    return PricedOrder(key, (address,), Decimal(amount), "EUR", spends)


def eur(amount: str, per: str | None = None) -> Limit:
    return Limit(Decimal(amount), "EUR", per)


def test_within_every_budget() -> None:
    result = check_budgets(
        [order("a", "100"), order("b", "150", "s.o.b")],
        Limits(airbus_order={"s": eur("200")}, spec={"s": eur("500")}, total=eur("1000")),
        [],
        TODAY,
    )
    assert result.blocked == {}
    assert [(c.scope, c.name, c.planned, c.left, c.ok) for c in result.checks] == [
        ("airbus_order", "a", Decimal("100"), Decimal("100"), True),
        ("airbus_order", "b", Decimal("150"), Decimal("50"), True),
        ("spec", "s", Decimal("250"), Decimal("250"), True),
        ("total", "all orders", Decimal("250"), Decimal("750"), True),
    ]


def test_per_airbus_order_limit_blocks_that_order_only() -> None:
    result = check_budgets(
        [order("a", "300"), order("b", "100")], Limits(airbus_order={"s": eur("200")}), [], TODAY
    )
    assert result.blocked == {
        "a": "order price EUR 300.00 exceeds the per-Airbus-order budget EUR 200.00"
    }


def test_spec_order_budget_counts_all_its_airbus_orders_together() -> None:
    result = check_budgets(
        [order("a", "250", "s.o.a"), order("b", "250", "s.o.b"), order("c", "250", "s.p.c")],
        Limits(order={"s.o": eur("300")}),
        [],
        TODAY,
    )
    assert set(result.blocked) == {"b"}
    assert "order s.o budget EUR 300.00 would be exceeded" in result.blocked["b"]


def test_prior_spend_counts_and_later_cheaper_order_still_fits() -> None:
    prior = [Spend("old", ("s.o.x",), Decimal("3780"), "EUR", date(2025, 1, 1))]
    result = check_budgets(
        [order("a", "250"), order("b", "200", "s.o.b")],
        Limits(spec={"s": eur("4000")}),
        prior,
        TODAY,
    )
    assert set(result.blocked) == {"a"}
    (check,) = result.checks
    assert (check.spent_before, check.planned, check.left, check.ok) == (
        Decimal("3780"),
        Decimal("200"),
        Decimal("20"),
        False,
    )


def test_monthly_window_counts_only_this_month() -> None:
    prior = [
        Spend("feb", ("s.o.x",), Decimal("900"), "EUR", date(2026, 2, 28)),
        Spend("mar", ("s.o.y",), Decimal("100"), "EUR", date(2026, 3, 1)),
    ]
    result = check_budgets(
        [order("a", "250")], Limits(spec={"s": eur("400", "month")}), prior, TODAY
    )
    assert result.blocked == {}
    assert result.checks[0].spent_before == Decimal("100")
    assert result.checks[0].window_start == "2026-03-01"


def test_windows() -> None:
    assert window_start("quarter", date(2026, 5, 17)) == date(2026, 4, 1)
    assert window_start("year", date(2026, 5, 17)) == date(2026, 1, 1)
    assert window_start(None, date(2026, 5, 17)) is None


def test_currencies_are_kept_apart() -> None:
    prior = [Spend("usd", ("s.o.x",), Decimal("5000"), "USD", None)]
    ok = check_budgets([order("a", "100")], Limits(total=eur("200")), prior, TODAY)
    assert ok.blocked == {} and ok.checks[0].spent_before == 0
    usd = PricedOrder("b", ("s.o.b",), Decimal("1"), "USD")
    blocked = check_budgets([usd], Limits(total=eur("200")), [], TODAY)
    assert blocked.blocked == {"b": "order priced in USD but the total budget is in EUR"}


def test_quotation_not_auto_accepted_spends_nothing() -> None:
    result = check_budgets(
        [order("q", "900", spends=False)], Limits(spec={"s": eur("100")}), [], TODAY
    )
    assert result.blocked == {} and result.checks[0].planned == 0


def _record(address: str, key: str, status: str, amount: str, when: str) -> ResourceRecord:
    return ResourceRecord(
        address=address,
        config_digest="sha256:x",
        orders=[
            OrderRecord(
                order_key=key,
                customer_reference=key,
                body_digest="d",
                status=status,  # type: ignore[arg-type]
                amount=Decimal(amount),
                currency="EUR",
                submitted_at=when,
                addresses=[address],
            )
        ],
    )


def test_committed_counts_ordered_accepted_pending_unknown_once() -> None:
    records = [
        _record("s.o.a", "k1", "ordered", "100", "2026-01-01T00:00:00Z"),
        _record("s.o.b", "k2", "unknown", "200", "2026-01-01T00:00:00Z"),
        _record("s.o.c", "k3", "quoted", "400", "2026-01-01T00:00:00Z"),
        _record("s.o.d", "k4", "rejected", "800", "2026-01-01T00:00:00Z"),
        _record("s.o.e", "k5", "accepted", "16", "2026-01-01T00:00:00Z"),
    ]
    state = State.new().model_copy(update={"resources": {r.address: r for r in records}})
    assert sorted(s.amount for s in committed(state)) == [16, 100, 200]
    check = check_budgets([], Limits(spec={"s": eur("1000")}), committed(state), TODAY).checks
    assert check[0].spent_before == Decimal("316")
    reason = recheck(check, "new", ["s.o.z"], Decimal("700"), "EUR", state, TODAY)
    assert reason is not None and "EUR 316.00 already committed" in reason
    assert recheck(check, "new", ["s.o.z"], Decimal("684"), "EUR", state, TODAY) is None


def _placed(key: str, amount: str, submitted: str, status: str = "ordered", **extra: object
            ) -> OrderRecord:
    return OrderRecord.model_validate(
        {"order_key": key, "customer_reference": key, "body_digest": "d", "status": status,
         "amount": amount, "currency": "EUR", "submitted_at": submitted, **extra}
    )


def test_committed_counts_retired_orders_and_a_rebuy_under_the_same_key() -> None:
    """A re-buy of the same resource with the same spec reuses the order key: both orders
    count. A retired order shared with a live resource counts once; one settled not ordered
    does not count; an acceptance in flight does."""
    first = _placed("k", "250", "2026-03-01T10:00:00Z")
    again = _placed("k", "260", "2026-03-02T10:00:00Z")
    shared = _placed("s", "100", "2026-03-01T11:00:00Z", addresses=["x.o.a", "x.o.b"])
    in_flight = _placed("q", "979.72", "2026-03-01T12:00:00Z", "quoted",
                        quotation_id="Q", accept_sent_at="2026-03-01T12:00:05Z")
    never = _placed("n", "50", "2026-03-01T13:00:00Z", "not_ordered")
    state = State.model_validate({
        "lineage": "l",
        "resources": {
            "s.o.a": ResourceRecord(address="s.o.a", config_digest="c", orders=[first, again]),
            "x.o.a": ResourceRecord(address="x.o.a", config_digest="c", orders=[shared]),
        },
        "retired": [
            {"address": "x.o.b", "retired_at": "2026-03-02T00:00:00Z", "reason": "r",
             "order": shared.model_dump()},
            {"address": "t.o.a", "retired_at": "2026-03-02T00:00:00Z", "reason": "r",
             "order": in_flight.model_dump()},
            {"address": "t.o.b", "retired_at": "2026-03-02T00:00:00Z", "reason": "r",
             "order": never.model_dump()},
        ],
    })
    spends = committed(state)
    assert sorted((s.key, s.amount, s.addresses) for s in spends) == [
        ("k", Decimal("250"), ("s.o.a",)),
        ("k", Decimal("260"), ("s.o.a",)),
        ("q", Decimal("979.72"), ("t.o.a",)),
        ("s", Decimal("100"), ("x.o.a", "x.o.b")),
    ]
    result = check_budgets([order("new", "1", "t.o.z")], Limits(spec={"t": eur("980")}),
                           spends, TODAY)
    assert result.blocked == {
        "new": "spec t budget EUR 980.00 would be exceeded (EUR 979.72 already committed + "
        "EUR 1.00)"
    }

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from oneatlas_plan.planning.budget import (
    Limit,
    Limits,
    PricedOrder,
    RunRecheck,
    Spend,
    check_budgets,
    committed,
    window_start,
)
from oneatlas_plan.planning.model import BudgetCheck
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
    run = RunRecheck(check, state, touched=())
    reason = run.violation("new", ["s.o.z"], Decimal("700"), "EUR", state, TODAY)
    assert reason is not None and "EUR 316.00 already committed" in reason
    assert run.violation("new", ["s.o.z"], Decimal("684"), "EUR", state, TODAY) is None


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


# RunRecheck: apply's per-order re-check, incremental over the run's own records, must say
# exactly what the whole-state re-check says after every change an apply run makes.

ADDRESSES = ["a.o.x", "a.o.y", "a.p.x", "b.o.x", "b.o.y"]
STATUSES = ["pending", "ordered", "accepted", "unknown", "rejected", "not_ordered", "quoted"]
DAYS = ["2026-02-27T23:00:00Z", "2026-03-01T00:00:00Z", "2026-03-02T09:00:00Z", None]
Scope = Literal["airbus_order", "order", "spec", "total"]
Per = Literal["month", "quarter", "year"]
SCOPE_ROWS: list[tuple[Scope, str, Per | None, str]] = [
    ("spec", "a", None, "EUR"), ("spec", "b", "month", "EUR"), ("order", "a.o", None, "EUR"),
    ("total", "all orders", None, "EUR"), ("total", "all orders", "month", "EUR"),
    ("total", "all orders", None, "USD"),
]
SCOPES = [
    BudgetCheck(scope=kind, name=name, currency=currency, limit=Decimal("1"), per=per,
                spent_before=Decimal(0), planned=Decimal(0), left=Decimal(0), ok=True)
    for kind, name, per, currency in SCOPE_ROWS
]

def _generated(key: str, status: str, amount: str, currency: str, day: str | None,
               addresses: list[str], legacy: bool) -> OrderRecord:
    return _placed(key, amount, day or "", status, currency=currency, submitted_at=day,
                   addresses=[] if legacy else addresses)


placed = st.builds(
    _generated,
    key=st.sampled_from(["k1", "k2", "k3"]),
    status=st.sampled_from(STATUSES),
    amount=st.sampled_from(["10", "25.5", "300"]),
    currency=st.sampled_from(["EUR", "EUR", "USD"]),
    day=st.sampled_from(DAYS),
    addresses=st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=2, unique=True),
    legacy=st.booleans(),
)
# An Airbus order, held live by some of its addresses (the same record in each: the
# write-ahead writes them together) and maybe retired from another.
held = st.tuples(
    placed,
    st.lists(st.sampled_from(ADDRESSES), max_size=2, unique=True),
    st.none() | st.sampled_from(ADDRESSES),
)


def _state_of(holdings: dict[str, list[OrderRecord]], retired: list[tuple[str, OrderRecord]]
              ) -> State:
    return State.model_validate({
        "lineage": "l",
        "resources": {
            address: {"address": address, "config_digest": "c",
                      "orders": [o.model_dump() for o in orders]}
            for address, orders in holdings.items() if orders
        },
        "retired": [
            {"address": address, "retired_at": "2026-03-01T00:00:00Z", "reason": "r",
             "order": order.model_dump()}
            for address, order in retired
        ],
    })


def _planned_alone(check: BudgetCheck, key: str, addresses: list[str], amount: Decimal,
                   currency: str, state: State, today: date) -> str | None:
    """What the planner says of this one order against the whole state's committed spend."""
    limit = Limit(check.limit, check.currency, check.per)
    limits = {
        "spec": Limits(spec={check.name: limit}),
        "order": Limits(order={check.name: limit}),
        "total": Limits(total=limit),
    }[check.scope]
    result = check_budgets([PricedOrder(key, tuple(addresses), amount, currency)], limits,
                           committed(state), today)
    return result.blocked.get(key)


@settings(max_examples=150, deadline=None)
@given(
    orders=st.lists(held, max_size=6, unique_by=lambda h: (h[0].order_key, h[0].submitted_at)),
    touched=st.lists(st.sampled_from(ADDRESSES), unique=True),
    steps=st.lists(
        st.tuples(st.integers(0, 4), st.sampled_from(STATUSES), st.sampled_from(["7", "300"])),
        max_size=8,
    ),
)
def test_the_run_recheck_says_what_the_whole_state_recheck_says(
    orders: list[tuple[OrderRecord, list[str], str | None]],
    touched: list[str],
    steps: list[tuple[int, str, str]],
) -> None:
    """Shared identities, legacy orders without addresses, retired orders, windows and
    currencies; then what an apply run does to its own records: append a pending order,
    settle its newest order with another amount, reject it."""
    holdings: dict[str, list[OrderRecord]] = {}
    for order, holders, _ in orders:
        for address in holders:
            holdings.setdefault(address, []).append(order)
    retired = [(address, order) for order, _, address in orders if address is not None]
    state = _state_of(holdings, retired)
    run = {check.scope + check.name + str(check.per) + check.currency: RunRecheck(
        [check], state, touched) for check in SCOPES}
    in_flight: OrderRecord | None = None
    for n, (which, status, amount) in enumerate([(0, "", ""), *steps]):
        if n and touched:
            if in_flight is None:  # the write-ahead: one pending order for one or two addresses
                mine = sorted({touched[which % len(touched)], touched[n % len(touched)]})
                in_flight = _placed(f"run{n}", "100", "2026-03-02T10:00:00Z", "pending",
                                    addresses=mine)
                for address in mine:
                    holdings.setdefault(address, []).append(in_flight)
            else:  # its outcome, before the next order: updated in every record holding it
                settled = in_flight.model_copy(update={"status": status, "amount": Decimal(amount)})
                for address in in_flight.addresses:
                    holdings[address][-1] = settled
                in_flight = None
            state = _state_of(holdings, retired)
        for check in SCOPES:
            for today in (TODAY, date(2026, 2, 28)):
                for currency in ("EUR", "USD"):
                    args = ("new", ["a.o.x", "b.o.y"], Decimal("1E9"), currency, state, today)
                    whole = _planned_alone(check, *args)
                    incremental = run[check.scope + check.name + str(check.per) + check.currency]
                    assert incremental.violation(*args) == whole

from __future__ import annotations

from decimal import Decimal

from oneatlas_plan.planning.budget import Limit, PricedOrder, check_budgets


def order(key: str, amount: str, spec: str = "s", per_order: str | None = None) -> PricedOrder:
    limit = Limit(Decimal(per_order), "EUR") if per_order else None
    return PricedOrder(key, spec, Decimal(amount), "EUR", limit)


def test_within_every_budget() -> None:
    result = check_budgets(
        [order("a", "100", per_order="200"), order("b", "150")],
        {"s": Limit(Decimal("500"), "EUR")},
        Limit(Decimal("1000"), "EUR"),
    )
    assert result.blocked == {}
    assert [(c.scope, c.planned, c.ok) for c in result.checks] == [
        ("order", Decimal("100"), True),
        ("spec", Decimal("250"), True),
        ("total", Decimal("250"), True),
    ]


def test_per_order_limit_blocks_that_order_only() -> None:
    result = check_budgets([order("a", "300", per_order="200"), order("b", "100")], {}, None)
    assert result.blocked == {
        "a": "order price EUR 300.00 exceeds the per-order budget EUR 200.00"
    }
    assert [(c.scope, c.name, c.ok) for c in result.checks] == [("order", "a", False)]


def test_spec_budget_blocks_the_order_that_overflows_but_later_cheaper_ones_fit() -> None:
    orders = [order("a", "400"), order("b", "400"), order("c", "50")]
    result = check_budgets(orders, {"s": Limit(Decimal("500"), "EUR")}, None)
    assert result.blocked == {
        "b": "spec s budget EUR 500.00 would be exceeded "
        "(EUR 400.00 already planned + EUR 400.00)"
    }
    assert [(c.scope, c.planned, c.ok) for c in result.checks] == [
        ("spec", Decimal("450"), False)
    ]


def test_total_budget_spans_specs() -> None:
    orders = [order("a", "300", spec="x"), order("b", "300", spec="y")]
    result = check_budgets(orders, {}, Limit(Decimal("500"), "EUR"))
    assert list(result.blocked) == ["b"]
    assert result.blocked["b"].startswith("total budget EUR 500.00 would be exceeded")


def test_currency_mismatch_is_blocked_not_compared() -> None:
    result = check_budgets([order("a", "10")], {"s": Limit(Decimal("500"), "USD")}, None)
    assert result.blocked == {"a": "order priced in EUR but the spec s budget is in USD"}

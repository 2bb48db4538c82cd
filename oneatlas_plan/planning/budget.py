"""Budget checks (pure): per order, per spec and in total, by currency.

Orders are taken in plan order; an order that would push its spec or the total over the
limit is blocked (with the reason) and the ones after it are still considered, so a cheap
order later in the plan can still fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from oneatlas_plan.planning.model import BudgetCheck


@dataclass(frozen=True)
class Limit:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class PricedOrder:
    key: str
    spec: str  # spec name
    amount: Decimal
    currency: str
    per_order_limit: Limit | None


@dataclass(frozen=True)
class BudgetResult:
    blocked: dict[str, str]  # order key -> reason
    checks: list[BudgetCheck]


def _money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.2f}"


def check_budgets(
    orders: Sequence[PricedOrder],
    spec_limits: Mapping[str, Limit],
    total_limit: Limit | None,
) -> BudgetResult:
    blocked: dict[str, str] = {}
    spent_per_spec: dict[tuple[str, str], Decimal] = {}
    spent_total: dict[str, Decimal] = {}
    checks: list[BudgetCheck] = []
    for order in orders:
        reason = _order_reason(order)
        if reason is None:
            reason = _cumulative_reason(
                order, spec_limits, total_limit, spent_per_spec, spent_total
            )
        if reason is not None:
            blocked[order.key] = reason
            continue
        spec_key = (order.spec, order.currency)
        spent_per_spec[spec_key] = spent_per_spec.get(spec_key, Decimal(0)) + order.amount
        spent_total[order.currency] = spent_total.get(order.currency, Decimal(0)) + order.amount
        if order.per_order_limit is not None:
            checks.append(_check("order", order.key, order.per_order_limit, order.amount, True))
    for spec, limit in sorted(spec_limits.items()):
        planned = spent_per_spec.get((spec, limit.currency), Decimal(0))
        ok = not any(r.startswith(f"spec {spec} budget") for r in blocked.values())
        checks.append(_check("spec", spec, limit, planned, ok))
    if total_limit is not None:
        planned = spent_total.get(total_limit.currency, Decimal(0))
        ok = not any(r.startswith("total budget") for r in blocked.values())
        checks.append(_check("total", "all specs", total_limit, planned, ok))
    for key, reason in blocked.items():
        order = next(o for o in orders if o.key == key)
        if order.per_order_limit is not None and reason.startswith("order price"):
            checks.append(_check("order", key, order.per_order_limit, order.amount, False))
    return BudgetResult(blocked=blocked, checks=checks)


def _check(scope: str, name: str, limit: Limit, planned: Decimal, ok: bool) -> BudgetCheck:
    return BudgetCheck(
        scope=scope,  # type: ignore[arg-type]
        name=name,
        currency=limit.currency,
        limit=limit.amount,
        planned=planned,
        ok=ok,
    )


def _order_reason(order: PricedOrder) -> str | None:
    limit = order.per_order_limit
    if limit is None:
        return None
    if limit.currency != order.currency:
        return f"order priced in {order.currency} but its budget is in {limit.currency}"
    if order.amount > limit.amount:
        return (
            f"order price {_money(order.amount, order.currency)} exceeds the per-order budget "
            f"{_money(limit.amount, limit.currency)}"
        )
    return None


def _cumulative_reason(
    order: PricedOrder,
    spec_limits: Mapping[str, Limit],
    total_limit: Limit | None,
    spent_per_spec: Mapping[tuple[str, str], Decimal],
    spent_total: Mapping[str, Decimal],
) -> str | None:
    spec_limit = spec_limits.get(order.spec)
    if spec_limit is not None:
        reason = _over(
            f"spec {order.spec} budget",
            spec_limit,
            order,
            spent_per_spec.get((order.spec, order.currency), Decimal(0)),
        )
        if reason:
            return reason
    if total_limit is not None:
        return _over(
            "total budget", total_limit, order, spent_total.get(order.currency, Decimal(0))
        )
    return None


def _over(label: str, limit: Limit, order: PricedOrder, spent: Decimal) -> str | None:
    if limit.currency != order.currency:
        return f"order priced in {order.currency} but the {label} is in {limit.currency}"
    if spent + order.amount > limit.amount:
        return (
            f"{label} {_money(limit.amount, limit.currency)} would be exceeded "
            f"({_money(spent, limit.currency)} already planned + "
            f"{_money(order.amount, order.currency)})"
        )
    return None

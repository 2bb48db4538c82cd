"""The human summary of a plan, in the spirit of ``terraform plan`` (pure: Plan -> str)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from oneatlas_plan.planning.model import OrderPlan, Plan, ResourcePlan
from oneatlas_plan.render.money import format_money, format_totals

SYMBOLS = {"create": "+", "reorder": "-/+", "forget": "-", "blocked": "!", "no-op": " "}


def _scene_text(resource: ResourcePlan) -> str:
    if not resource.scenes:
        return "-"
    first = resource.scenes[0]
    extra = f" +{len(resource.scenes) - 1}" if len(resource.scenes) > 1 else ""
    cloud = "?" if first.cloud_cover is None else f"{first.cloud_cover:.1f}%"
    return f"{first.platform} {first.acquisition_date[:10]}{extra}  cloud {cloud}"


def _price_text(order: OrderPlan | None) -> str:
    if order is None or order.price is None:
        return ""
    price = order.price
    marker = "*" if price.minimum_applied else ""
    shared = f" (order of {len(order.addresses)})" if len(order.addresses) > 1 else ""
    return (
        f"{price.billable_area_km2:,.2f} km²{marker}  "
        f"{format_money(price.amount, price.currency)}{shared}"
    )


def resource_line(resource: ResourcePlan, order: OrderPlan | None) -> str:
    symbol = SYMBOLS[resource.action]
    parts = [f"{symbol:>3} {resource.address}"]
    if resource.action in ("create", "reorder", "blocked") and resource.scenes:
        coverage = "" if resource.coverage is None else f"  cov {resource.coverage:.0%}"
        parts.append(f"{_scene_text(resource)}{coverage}")
        price = _price_text(order)
        if price:
            parts.append(price)
    return "  ".join(parts)


def _detail_lines(resource: ResourcePlan) -> list[str]:
    lines: list[str] = []
    if resource.action in ("blocked", "forget", "reorder"):
        lines.append(f"      {resource.reason}")
    if resource.action == "reorder" and resource.previous is not None:
        previous = resource.previous
        order_id = previous.sales_order_id or previous.quotation_id or previous.order_key
        lines.append(f"      previous order {order_id} stays ({previous.status})")
    return lines


def summary_line(plan: Plan) -> str:
    counts = plan.counts()
    per_action = _totals_by_action(plan)
    parts = [
        _counted(counts.get("create", 0), "to order", per_action.get("create", {})),
        _counted(counts.get("reorder", 0), "to reorder", per_action.get("reorder", {})),
        f"{counts.get('no-op', 0)} unchanged",
    ]
    if counts.get("forget"):
        parts.append(f"{counts['forget']} to forget")
    parts.append(f"{counts.get('blocked', 0)} blocked")
    return "Plan: " + ", ".join(parts)


def _counted(count: int, what: str, totals: dict[str, Decimal]) -> str:
    """``3 to order (EUR 1,250.00)``; no amount when nothing is there to pay."""
    return f"{count} {what} ({format_totals(totals)})" if count and totals else f"{count} {what}"


def _totals_by_action(plan: Plan) -> dict[str, dict[str, Decimal]]:
    totals: dict[str, dict[str, Decimal]] = {}
    for order in plan.orders:
        if order.price is None or order.action == "blocked":
            continue
        bucket = totals.setdefault(order.action, {})
        currency = order.price.currency
        bucket[currency] = bucket.get(currency, Decimal(0)) + order.price.amount
    return totals


def budget_descriptions(plan: Plan) -> list[str]:
    """Spec and total budgets one by one; per-order budgets summarised, failures listed."""
    lines = []
    per_order = [c for c in plan.budgets if c.scope == "order"]
    if per_order:
        exceeded = [c for c in per_order if not c.ok]
        lines.append(
            f"per-order budgets: {len(per_order) - len(exceeded)} of {len(per_order)} orders within"
        )
        lines += [
            f"order {c.name}: {format_money(c.planned, c.currency)} exceeds "
            f"{format_money(c.limit, c.currency)}"
            for c in exceeded
        ]
    for check in plan.budgets:
        if check.scope == "order":
            continue
        left = check.limit - check.planned
        state = "ok" if check.ok else "EXCEEDED: orders blocked"
        rest = (
            f"{format_money(left, check.currency)} left"
            if left >= 0
            else f"{format_money(-left, check.currency)} over"
        )
        label = "total" if check.scope == "total" else f"{check.scope} {check.name}"
        lines.append(
            f"{label}: {format_money(check.planned, check.currency)} of "
            f"{format_money(check.limit, check.currency)}, {rest} ({state})"
        )
    return lines


def _budget_lines(plan: Plan) -> Iterable[str]:
    for line in budget_descriptions(plan):
        yield f"  budget {line}"


def render_plan_text(plan: Plan, *, show_unchanged: bool = False) -> str:
    orders = {order.key: order for order in plan.orders}
    lines = [f"Endpoint: {plan.endpoint}    State serial: {plan.state.serial}", ""]
    changed = [r for r in plan.resources if r.action != "no-op" or show_unchanged]
    if not changed:
        lines.append("No changes. Every resource matches the state.")
    for resource in changed:
        order = orders.get(resource.order_key) if resource.order_key else None
        lines.append(resource_line(resource, order))
        lines.extend(_detail_lines(resource))
    budget_lines = list(_budget_lines(plan))
    if budget_lines:
        lines += ["", "Budgets:", *budget_lines]
    if any(o.price is not None and o.price.minimum_applied for o in plan.orders):
        lines += ["", "* billed at the product's minimum order area"]
    reused = len(plan.meta.reused_prices)
    if reused:
        lines += [
            "",
            f"{reused} price(s) reused from the previous plan file (identical order bodies "
            "priced recently); apply re-prices every order before submitting it.",
        ]
    lines += ["", summary_line(plan)]
    return "\n".join(lines) + "\n"

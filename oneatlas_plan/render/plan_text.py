"""The human summary of a plan: ``terraform plan`` crossed with an invoice (pure: Plan -> str).

One header row, then one row per resource (action symbol, address, platform, date, short
scene id, cloud, incidence, AOI coverage, requested and billable km², price and price per km²).
An order grouping several resources is shown once, on its own row, with its members below it;
a Pléiades Neo price is a quotation and says so. Colour (green create, yellow reorder, red
blocked) only when the caller asks for it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import Decimal

from oneatlas_plan.planning.model import Alternative, OrderPlan, Plan, ResourcePlan, SceneSummary
from oneatlas_plan.render.money import format_money, format_totals
from oneatlas_plan.render.style import paint

OWNERS = {"state": "owned", "plan": "planned"}
SYMBOLS = {"create": "+", "reorder": "-/+", "forget": "-", "blocked": "!", "no-op": " "}
COLUMNS = (
    "ADDRESS", "PLATFORM", "DATE", "SCENE", "CLOUD", "INCID.", "COVER",
    "REQ km²", "BILL km²", "PRICE", "PER km²",
)  # fmt: skip
_RIGHT = frozenset({"CLOUD", "INCID.", "COVER", "REQ km²", "BILL km²", "PRICE", "PER km²"})


def is_quotation(order: OrderPlan) -> bool:
    """Pléiades Neo archive orders are quoted first: nothing is bought until accepted."""
    return order.needs_quotation


def quote_note(order: OrderPlan) -> str:
    """How a quoted order is bought: ``quote (not bought) — auto-accept up to EUR X``."""
    limit = order.accept_quotations_up_to
    if limit is None:
        return "quote (not bought) — bought only when a person accepts it"
    return f"quote (not bought) — auto-accept up to {format_money(limit, 'EUR')}"


def coverage_text(fraction: float | None) -> str:
    """One decimal, rounded down: 0.9989 is 99.8 %, never 100 %."""
    if fraction is None:
        return "-"
    return f"{math.floor(round(fraction * 1000, 6)) / 10:.1f} %"


def short_scene_id(archive_identifier: str) -> str:
    """``DS_PHR1B_202207151016099_FR1_PX_E001N43_0708_94508`` -> ``…0708_94508``."""
    parts = archive_identifier.split("_")
    return archive_identifier if len(parts) <= 3 else "…" + "_".join(parts[-2:])


def _number(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def price_text(order: OrderPlan) -> str:
    if order.price is None:
        return "not priced"
    text = format_money(order.price.amount, order.price.currency)
    return f"quote {text}" if is_quotation(order) else text


def per_km2_text(order: OrderPlan) -> str:
    price = order.price
    if price is None or price.billable_area_km2 <= 0:
        return "-"
    return format_money(price.amount / Decimal(str(price.billable_area_km2)), price.currency)


def billable_text(order: OrderPlan) -> str:
    if order.price is None:
        return "-"
    marker = "*" if order.price.minimum_applied else ""
    return f"{order.price.billable_area_km2:,.2f}{marker}"


def requested_km2(resource: ResourcePlan) -> float | None:
    """The part of this AOI the chosen scenes cover (the union: overlaps count once)."""
    if resource.aoi_area_km2 is None or resource.coverage is None:
        return None
    return resource.aoi_area_km2 * resource.coverage


def scene_cells(scene: SceneSummary | None, extra: int = 0) -> list[str]:
    if scene is None:
        return ["", "", "", "", ""]
    more = f" +{extra}" if extra else ""
    return [
        scene.platform,
        scene.acquisition_date[:10],
        short_scene_id(scene.archive_identifier) + more,
        _number(scene.cloud_cover, " %"),
        _number(scene.incidence_angle, "°"),
    ]


# A table row (action, cells) or a free line printed as is under the previous row.
_Row = tuple[str, list[str]]
_Entry = _Row | str


def _resource_row(
    resource: ResourcePlan, order: OrderPlan | None, *, member: bool = False
) -> _Row:
    scene = resource.scenes[0] if resource.scenes else None
    cells = [("  " if member else "") + resource.address]
    cells += scene_cells(scene, max(0, len(resource.scenes) - 1))
    requested = requested_km2(resource)
    cells.append(coverage_text(resource.coverage) if scene else "")
    cells.append("" if requested is None or not scene else f"{requested:,.2f}")
    if order is not None and not member:
        cells += [billable_text(order), price_text(order), per_km2_text(order)]
    else:
        cells += ["", "", ""]
    return resource.action, cells


def _order_row(order: OrderPlan) -> _Row:
    requested = "" if order.price is None else f"{order.price.requested_area_km2:,.2f}"
    label = f"order {order.key}: {len(order.addresses)} AOIs, one price"
    cells = [label, "", "", "", "", "", "", requested]
    return order.action, [*cells, billable_text(order), price_text(order), per_km2_text(order)]


def _noted(resource: ResourcePlan) -> bool:
    """An unchanged resource with something to say (an edit that buys nothing)."""
    return resource.action == "no-op" and not resource.reason.startswith("already ")


def _detail_lines(resource: ResourcePlan) -> list[str]:
    lines: list[str] = []
    if resource.action in ("blocked", "forget", "reorder") or _noted(resource):
        lines.append(f"      {resource.reason}")
    if resource.action != "blocked":
        lines += [
            f"      overlap allowed: scene {o.scene} also {OWNERS[o.owner]} by {o.address} "
            f"over {o.area_km2:,.2f} km² ({o.fraction:.0%} of the AOI)"
            for o in resource.overlaps
        ]
    if resource.cover_overlap_km2:
        lines.append(
            f"      its {len(resource.scenes)} scenes overlap over "
            f"{resource.cover_overlap_km2:,.2f} km² (paid more than once)"
        )
    if resource.action == "reorder" and resource.previous is not None:
        previous = resource.previous
        order_id = previous.sales_order_id or previous.quotation_id or previous.order_key
        lines.append(f"      previous order {order_id} stays ({previous.status})")
    return lines


def _alternative_line(alternative: Alternative, *, miss: bool) -> str:
    cells = scene_cells(alternative)
    cover = "" if miss else f"  cover {coverage_text(alternative.coverage)}"
    return (
        f"        {cells[0]} {cells[1]} {cells[2]}  cloud {cells[3]}  incid. {cells[4]}"
        f"{cover}  {alternative.why}"
    )


def candidate_lines(resource: ResourcePlan, limit: int) -> list[str]:
    """``show --candidates``: the search counts, the runners-up or the nearest misses."""
    lines: list[str] = []
    found = resource.candidates
    if found is not None:
        removed = ", ".join(f"{k} {v}" for k, v in sorted(found.removed.items()))
        lines.append(
            f"      candidates: {found.found} found, {found.eligible} eligible"
            + (f" (removed: {removed})" if removed else "")
        )
    if resource.alternatives and limit > 0:
        lines.append("      alternatives (why not chosen):")
        lines += [_alternative_line(a, miss=False) for a in resource.alternatives[:limit]]
    if resource.near_misses and limit > 0:
        lines.append("      nearest misses (what they missed by):")
        lines += [_alternative_line(a, miss=True) for a in resource.near_misses[:limit]]
    return lines


def _entries(plan: Plan, resources: Sequence[ResourcePlan], candidates: int | None) -> list[_Entry]:
    orders = {order.key: order for order in plan.orders}
    position = {r.address: i for i, r in enumerate(resources)}
    shown: set[str] = set()
    entries: list[_Entry] = []
    for resource in resources:
        order = orders.get(resource.order_key) if resource.order_key else None
        if order is not None and len(order.addresses) > 1:
            if order.key in shown:
                continue
            shown.add(order.key)
            entries.append(_order_row(order))
            members = [resources[i] for i in sorted(
                position[a] for a in order.addresses if a in position)]
            for member in members:
                entries.append(_resource_row(member, order, member=True))
                entries += _resource_details(member, candidates)
            continue
        entries.append(_resource_row(resource, order))
        entries += _resource_details(resource, candidates)
    return entries


def _resource_details(resource: ResourcePlan, candidates: int | None) -> list[str]:
    lines = _detail_lines(resource)
    if candidates is not None:
        lines += candidate_lines(resource, candidates)
    return lines


def _table(entries: Sequence[_Entry], colour: bool) -> list[str]:
    rows = [e[1] for e in entries if not isinstance(e, str)]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(COLUMNS)
    widths = [max([len(name), *map(len, c)]) for name, c in zip(COLUMNS, columns, strict=True)]
    pads = [
        (str.rjust if name in _RIGHT else str.ljust, w)
        for name, w in zip(COLUMNS, widths, strict=True)
    ]

    def line(symbol: str, cells: Sequence[str]) -> str:
        padded = [pad(c, w) for (pad, w), c in zip(pads, cells, strict=True)]
        return f"{symbol:>3} " + "  ".join(padded).rstrip()

    lines = [line("", COLUMNS)]
    for entry in entries:
        if isinstance(entry, str):
            lines.append(entry)
            continue
        action, cells = entry
        lines.append(paint(line(SYMBOLS[action], cells), action, colour))
    return lines


def summary_line(plan: Plan) -> str:
    counts = plan.counts()
    per_action = _totals_by_action(plan)
    parts = [
        _counted(counts.get("create", 0), "to order", per_action, "create"),
        _counted(counts.get("reorder", 0), "to reorder", per_action, "reorder"),
        f"{counts.get('no-op', 0)} unchanged",
    ]
    if counts.get("forget"):
        parts.append(f"{counts['forget']} to forget")
    parts.append(f"{counts.get('blocked', 0)} blocked")
    return "Plan: " + ", ".join(parts)


def _counted(
    count: int, what: str, per_action: dict[str, dict[str, Decimal]], action: str
) -> str:
    """``3 to order (EUR 1,250.00)``; no amount when nothing is there to pay; quotations
    apart, not as spend: ``1 to order (EUR 979.72 quoted, not bought until accepted)``."""
    amounts = []
    if per_action.get(action):
        amounts.append(format_totals(per_action[action]))
    if per_action.get(f"quote:{action}"):
        amounts.append(
            f"{format_totals(per_action[f'quote:{action}'])} quoted, not bought until accepted"
        )
    return f"{count} {what} ({'; '.join(amounts)})" if count and amounts else f"{count} {what}"


def spend_totals(plan: Plan) -> dict[str, Decimal]:
    """What applying the plan pays at once (quotations excluded: bought once accepted)."""
    totals: dict[str, Decimal] = {}
    for action, amounts in _totals_by_action(plan).items():
        if not action.startswith("quote:"):
            for currency, amount in amounts.items():
                totals[currency] = totals.get(currency, Decimal(0)) + amount
    return totals


def _totals_by_action(plan: Plan) -> dict[str, dict[str, Decimal]]:
    """Amounts per action; quotations apart (``quote:<action>``): they are not spend."""
    totals: dict[str, dict[str, Decimal]] = {}
    for order in plan.orders:
        if order.price is None or order.action == "blocked":
            continue
        action = f"quote:{order.action}" if is_quotation(order) else order.action
        bucket = totals.setdefault(action, {})
        currency = order.price.currency
        bucket[currency] = bucket.get(currency, Decimal(0)) + order.price.amount
    return totals


def budget_descriptions(plan: Plan) -> list[str]:
    """Every budget: spent before, this plan, left; per-Airbus-order budgets summarised."""
    lines = []
    per_order = [c for c in plan.budgets if c.scope == "airbus_order"]
    if per_order:
        exceeded = [c for c in per_order if not c.ok]
        lines.append(
            f"per-Airbus-order budgets: {len(per_order) - len(exceeded)} of {len(per_order)} "
            "orders within"
        )
        lines += [
            f"order {c.name}: {format_money(c.planned, c.currency)} exceeds "
            f"{format_money(c.limit, c.currency)}"
            for c in exceeded
        ]
    for check in plan.budgets:
        if check.scope == "airbus_order":
            continue
        state = "ok" if check.ok else "EXCEEDED: orders blocked"
        rest = (
            f"{format_money(check.left, check.currency)} left"
            if check.left >= 0
            else f"{format_money(-check.left, check.currency)} over"
        )
        label = {
            "total": "total",
            "spec": f"spec {check.name}",
            "order": f"spec order {check.name}",
        }
        window = f" (per {check.per} from {check.window_start})" if check.per else ""
        lines.append(
            f"{label[check.scope]}{window}: {format_money(check.limit, check.currency)}: "
            f"spent before {format_money(check.spent_before, check.currency)}, "
            f"this plan {format_money(check.planned, check.currency)}, {rest} ({state})"
        )
    return lines


def _budget_lines(plan: Plan) -> Iterable[str]:
    for line in budget_descriptions(plan):
        yield f"  budget {line}"


def _footnotes(plan: Plan) -> list[str]:
    lines: list[str] = []
    if any(o.price is not None and o.price.minimum_applied for o in plan.orders):
        lines += ["", "* billed at the product's minimum order area"]
    if any(is_quotation(o) and o.action != "blocked" for o in plan.orders):
        lines += [
            "",
            "quote: Pléiades Neo orders are quotations; nothing is bought until the quotation "
            "is accepted (oneatlas-plan quotations accept, or the spec's "
            "accept_quotations_up_to).",
        ]
        lines += [
            f"  {', '.join(o.addresses)}: {quote_note(o)}"
            for o in plan.orders
            if is_quotation(o) and o.action != "blocked"
        ]
    reused = len(plan.meta.reused_prices)
    if reused:
        lines += [
            "",
            f"{reused} price(s) reused from the previous plan file (identical order bodies "
            "priced recently, each with the time it was obtained); apply asks again before "
            "ordering when a price is older than an hour by then (the default of apply --reprice).",
        ]
    return lines


def render_plan_text(
    plan: Plan,
    *,
    show_unchanged: bool = False,
    colour: bool = False,
    candidates: int | None = None,
) -> str:
    """``candidates``: show that many alternatives (or nearest misses) per resource."""
    lines = [f"Endpoint: {plan.endpoint}    State serial: {plan.state.serial}", ""]
    changed = [r for r in plan.resources if r.action != "no-op" or show_unchanged or _noted(r)]
    if not changed:
        lines.append("No changes. Every resource matches the state.")
    else:
        lines += _table(_entries(plan, changed, candidates), colour)
    budget_lines = list(_budget_lines(plan))
    if budget_lines:
        lines += ["", "Budgets:", *budget_lines]
    lines += _footnotes(plan)
    lines += ["", summary_line(plan)]
    return "\n".join(lines) + "\n"

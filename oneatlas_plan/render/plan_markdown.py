"""Plan -> markdown for a pull-request comment (pure, stable, under GitHub's size limit).

Layout: the summary (orders to place, spend per currency, budgets used and left, what is
blocked or unknown and why), then one table per spec, then collapsible ``<details>`` blocks
(order bodies, prices, candidates). The output holds no timestamp or other volatile fact, so
the comment diffs cleanly between pushes.

GitHub refuses comments over 65,536 characters. The summary is bounded (long lists are cut
with "and N more") and is never truncated; the details are dropped first, then table rows,
each with a note saying what was left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from oneatlas_plan import _canonical
from oneatlas_plan.planning.model import OrderPlan, Plan, ResourcePlan
from oneatlas_plan.render.plan_text import (
    budget_descriptions,
    format_money,
    format_totals,
    summary_line,
)

GITHUB_COMMENT_LIMIT = 65_536
# Room left for what a CI job adds around the comment (a marker line, a diff section...).
SAFETY_MARGIN = 1_536
# How many blocked/unknown resources (and exceeded per-order budgets) the summary lists.
SUMMARY_LIST_CAP = 20
ACTION_ICONS = {"create": "➕", "reorder": "🔁", "forget": "➖", "blocked": "⛔", "no-op": "·"}
UNSETTLED = frozenset({"pending", "unknown"})

HEADER = (
    "| action | address | scene | platform | date | cloud | incidence | coverage "
    "| billable km² | price |\n|---|---|---|---|---|---|---|---:|---:|---:|"
)


def _escape(text: str) -> str:
    """Safe inside a table cell or a list item: no pipe, no newline, no raw HTML."""
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def _code(text: str) -> str:
    """A code span, also safe in a table cell (GFM honours ``\\|`` inside code spans)."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _capped(items: Sequence[str], cap: int, what: str, indent: str = "") -> list[str]:
    lines = list(items[:cap])
    if len(items) > cap:
        lines.append(
            f"{indent}- … and {len(items) - cap} more {what} (see the tables and the plan file)"
        )
    return lines


# ----------------------------------------------------------------------------- summary


def _is_unknown(resource: ResourcePlan) -> bool:
    previous = resource.previous
    return resource.action == "blocked" and previous is not None and previous.status in UNSETTLED


def _orders_line(plan: Plan) -> str:
    placing = [o for o in plan.orders if o.action in ("create", "reorder")]
    reorders = sum(1 for o in placing if o.action == "reorder")
    resources = sum(len(o.addresses) for o in placing)
    detail = f" ({reorders} reorder{'s' if reorders != 1 else ''})" if reorders else ""
    return (
        f"- Orders to place: **{len(placing)}**{detail}, "
        f"for {resources} resource{'s' if resources != 1 else ''}"
    )


def _budget_lines(plan: Plan) -> list[str]:
    """Budgets used and left; exceeded per-order budgets nested under their summary line."""
    lines = budget_descriptions(plan)
    exceeded = [f"  - {_escape(line)}" for line in lines if line.startswith("order ")]
    others = [f"- Budget {_escape(line)}" for line in lines if not line.startswith("order ")]
    has_per_order = any(check.scope == "order" for check in plan.budgets)
    head, rest = (others[:1], others[1:]) if has_per_order else ([], others)
    nested = _capped(exceeded, SUMMARY_LIST_CAP, "exceeded order budgets", indent="  ")
    return head + nested + _capped(rest, SUMMARY_LIST_CAP, "budgets")


def _resource_list(title: str, resources: Sequence[ResourcePlan]) -> list[str]:
    if not resources:
        return []
    items = [f"- {_code(r.address)}: {_escape(_short(r.reason))}" for r in resources]
    return ["", title, "", *_capped(items, SUMMARY_LIST_CAP, "resources")]


def summary_lines(plan: Plan, *, map_url: str | None = None) -> list[str]:
    """The part of the comment that is never truncated (bounded by SUMMARY_LIST_CAP)."""
    lines = ["## oneatlas-plan", "", f"**{summary_line(plan)}**", ""]
    lines.append(_orders_line(plan))
    lines.append(f"- Total to spend: **{format_totals(plan.totals)}**")
    lines += _budget_lines(plan)
    contracts = ", ".join(_code(c) for c in plan.contracts) or "-"
    lines.append(f"- Endpoint {_code(plan.endpoint)}; contracts {contracts}")
    unknown = [r for r in plan.resources if _is_unknown(r)]
    blocked = [r for r in plan.resources if r.action == "blocked" and not _is_unknown(r)]
    lines += _resource_list(
        f"**⛔ {len(blocked)} blocked** (nothing is ordered for them):", blocked
    )
    lines += _resource_list(
        f"**❓ {len(unknown)} with an unknown order outcome** (reconciled at the next "
        "plan/apply, or settled with `oneatlas-plan state resolve`):",
        unknown,
    )
    if map_url:
        lines += ["", f"![Map of the areas of interest and the chosen scenes]({map_url})"]
    return lines


# ------------------------------------------------------------------------------ tables


def _scene_cell(resource: ResourcePlan) -> str:
    if not resource.scenes:
        return "-"
    more = len(resource.scenes) - 1
    return _code(resource.scenes[0].archive_identifier) + (f" +{more}" if more else "")


def _number(value: float | None, suffix: str) -> str:
    return "-" if value is None else f"{value:.1f}{suffix}"


def _price_cells(resource: ResourcePlan, order: OrderPlan | None) -> tuple[str, str]:
    if order is None or order.price is None:
        return "-", "-"
    if order.addresses and order.addresses[0] != resource.address:
        return "(same order)", "(same order)"
    price = order.price
    billable = f"{price.billable_area_km2:,.2f}" + ("*" if price.minimum_applied else "")
    shared = f" (order of {len(order.addresses)})" if len(order.addresses) > 1 else ""
    return billable, format_money(price.amount, price.currency) + shared


def _row(resource: ResourcePlan, order: OrderPlan | None) -> str:
    scene = resource.scenes[0] if resource.scenes else None
    billable, price = _price_cells(resource, order)
    cells = [
        f"{ACTION_ICONS[resource.action]} {resource.action}",
        _code(resource.address),
        _scene_cell(resource),
        _escape(scene.platform) if scene else "-",
        _escape(scene.acquisition_date[:10]) if scene else "-",
        _number(scene.cloud_cover if scene else None, "%"),
        _number(scene.incidence_angle if scene else None, "°"),
        f"{resource.coverage:.0%}" if resource.coverage is not None else "-",
        billable,
        price,
    ]
    return "| " + " | ".join(cells) + " |"


@dataclass
class _Table:
    heading: list[str]
    rows: list[str]


def _tables(plan: Plan) -> list[_Table]:
    orders = {o.key: o for o in plan.orders}
    per_spec: dict[str, list[ResourcePlan]] = defaultdict(list)
    for resource in plan.resources:
        if resource.action != "no-op":
            per_spec[resource.spec_file or "(state only)"].append(resource)
    return [
        _Table(
            heading=["", f"### {_code(spec)}", "", HEADER],
            rows=[_row(r, orders.get(r.order_key or "")) for r in per_spec[spec]],
        )
        for spec in sorted(per_spec)
    ]


def _table_footer(plan: Plan) -> list[str]:
    lines: list[str] = []
    unchanged = sum(1 for r in plan.resources if r.action == "no-op")
    if unchanged:
        lines += ["", f"{unchanged} unchanged resource(s) not shown."]
    if any(o.price is not None and o.price.minimum_applied for o in plan.orders):
        lines += ["", "\\* billed at the product's minimum order area"]
    return lines


# ----------------------------------------------------------------------------- details


def _candidates_line(resource: ResourcePlan) -> str | None:
    candidates = resource.candidates
    if candidates is None:
        return None
    removed = ", ".join(f"{k} {v}" for k, v in sorted(candidates.removed.items()))
    return (
        f"- Candidates for {_code(resource.address)}: {candidates.found} found, "
        f"{candidates.eligible} eligible" + (f" (removed: {removed})" if removed else "")
    )


def _order_block(order: OrderPlan, resources: dict[str, ResourcePlan]) -> str:
    price = order.price
    cost = "not priced" if price is None else format_money(price.amount, price.currency)
    lines = [
        f"<details><summary>Order <code>{order.key}</code> ({order.action}, {cost}): "
        f"{_escape(', '.join(order.addresses))}</summary>",
        "",
        f"- Reason: {_escape(order.reason)}",
        f"- Contract {_code(order.contract_id)}, product {_code(order.product_type_id)}, "
        f"customerReference {_code(order.customer_reference)}",
    ]
    if price is not None:
        minimum = " (the product's minimum order area)" if price.minimum_applied else ""
        lines.append(
            f"- Area: {price.requested_area_km2:,.2f} km² requested, "
            f"{price.billable_area_km2:,.2f} km² billed{minimum}"
        )
    for address in order.addresses:
        resource = resources.get(address)
        line = None if resource is None else _candidates_line(resource)
        if line:
            lines.append(line)
    lines += ["", "```json", _canonical.dumps(order.body).rstrip("\n"), "```", "</details>"]
    return "\n".join(lines)


def _other_block(plan: Plan) -> str | None:
    """Resources without an order (forget, blocked before pricing): each with its reason."""
    others = [r for r in plan.resources if r.action != "no-op" and r.order_key is None]
    if not others:
        return None
    lines = [f"<details><summary>Resources without an order ({len(others)})</summary>", ""]
    lines += [f"- {_code(r.address)} ({r.action}): {_escape(r.reason)}" for r in others]
    return "\n".join([*lines, "</details>"])


def _details(plan: Plan) -> list[str]:
    resources = {r.address: r for r in plan.resources}
    blocks = [_order_block(order, resources) for order in plan.orders]
    other = _other_block(plan)
    return blocks + ([other] if other else [])


# ------------------------------------------------------------------------------ layout


def _join(lines: Sequence[str]) -> str:
    return "\n".join(lines) + "\n"


def _details_note(dropped: int) -> str:
    return (
        f"\n_{dropped} detail block(s) omitted to stay under GitHub's comment limit; "
        "`oneatlas-plan show PLAN --format json` has every order body._\n"
    )


def _tables_note(dropped: int) -> str:
    return (
        f"\n_Tables truncated to stay under GitHub's comment limit: {dropped} row(s) not shown; "
        "`oneatlas-plan show PLAN` lists every resource._\n"
    )


def _fit_tables(tables: list[_Table], footer: list[str], room: int) -> str:
    """The tables in ``room`` characters; rows cut from the end (with a note) if needed."""
    full = _join([line for t in tables for line in (*t.heading, *t.rows)] + footer)
    if len(full) <= room:
        return full
    total_rows = sum(len(t.rows) for t in tables)
    room -= len(_tables_note(total_rows)) + len(_join(footer))
    lines: list[str] = []
    used = shown = 0
    for table in tables:
        cost = len(_join(table.heading)) + len(table.rows[0]) + 1
        if used + cost > room:
            break
        lines += table.heading
        used += cost - len(table.rows[0]) - 1
        for row in table.rows:
            if used + len(row) + 1 > room:
                break
            lines.append(row)
            used += len(row) + 1
            shown += 1
        else:
            continue
        break
    return _join(lines + footer) + _tables_note(total_rows - shown)


def render_plan_markdown(
    plan: Plan, *, map_url: str | None = None, limit: int = GITHUB_COMMENT_LIMIT
) -> str:
    """The PR comment: at most ``limit - SAFETY_MARGIN`` characters."""
    room = limit - SAFETY_MARGIN
    head = _join(summary_lines(plan, map_url=map_url))
    blocks = _details(plan)
    note_room = len(_details_note(len(blocks))) + 1 if blocks else 0
    body = _fit_tables(_tables(plan), _table_footer(plan), room - len(head) - note_room)
    if not blocks:
        return head + body
    kept: list[str] = []
    left = room - len(head) - len(body) - note_room
    for block in blocks:
        if len(block) + 1 > left:
            break
        kept.append(block)
        left -= len(block) + 1
    details = "\n" + _join(kept) if kept else ""
    if len(kept) < len(blocks):
        details += _details_note(len(blocks) - len(kept))
    return head + body + details

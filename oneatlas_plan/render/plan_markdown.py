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

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oneatlas_plan.planning.model import OrderPlan, Plan, ResourcePlan, SceneSummary
from oneatlas_plan.render import markdown_text
from oneatlas_plan.render.plan_text import (
    budget_descriptions,
    coverage_text,
    format_totals,
    is_quotation,
    price_text,
    quote_note,
    spend_totals,
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
    "| address | opt | date | platform | cloud | cover | km² | price |\n"
    "|---|:-:|---|---|---:|---:|---:|---:|"
)
_escape = markdown_text.escape
_code = markdown_text.code


def _short(text: str, limit: int = 300) -> str:
    """``text`` cut in the middle: a reason ends with what to do about it (``plan with
    --allow-overlap …``), so its end is kept, from a clause start when there is one."""
    if len(text) <= limit:
        return text
    tail = text[-(limit // 2) :]
    clause = tail.find("; ")
    if clause >= 0:
        tail = tail[clause + 2 :]
    return f"{text[: limit - len(tail) - 3]} … {tail}"


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
    has_per_order = any(check.scope == "airbus_order" for check in plan.budgets)
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
    lines.append(f"- Total to spend: **{format_totals(spend_totals(plan))}**")
    lines += [
        f"- {', '.join(_code(a) for a in o.addresses)}: {_escape(quote_note(o))}"
        for o in plan.orders
        if is_quotation(o) and o.action != "blocked"
    ]
    lines += _budget_lines(plan)
    contracts = ", ".join(_code(c) for c in plan.contracts) or "-"
    lines.append(f"- Endpoint {_code(plan.endpoint)}; contracts {contracts}")
    unknown = [r for r in plan.resources if _is_unknown(r)]
    blocked = [r for r in plan.resources if r.action == "blocked" and not _is_unknown(r)]
    lines += _resource_list(
        f"**⛔ {len(blocked)} blocked** (nothing is ordered for them):", blocked
    )
    lines += _resource_list(
        f"**❓ {len(unknown)} with an unknown order outcome** (not found at Airbus when the "
        "plan was made; looked up again at every plan/apply, or settled with "
        "`oneatlas-plan state resolve`):",
        unknown,
    )
    if map_url:
        lines += ["", f"![Map of the areas of interest and the chosen scenes]({map_url})"]
    return lines


# ------------------------------------------------------------------------------ tables


# (product type, sorted option key/value pairs)
_OptionSet = tuple[str, tuple[tuple[str, str], ...]]


def _option_sets(plan: Plan) -> dict[str, tuple[str, _OptionSet]]:
    """Order key -> (label, option set): one short label per distinct option set."""
    labels: dict[_OptionSet, str] = {}
    by_order: dict[str, tuple[str, _OptionSet]] = {}
    for order in plan.orders:
        key = (order.product_type_id, _options(order))
        if key not in labels:
            labels[key] = _label(len(labels))
        by_order[order.key] = (labels[key], key)
    return by_order


def _label(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _options(order: OrderPlan) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for group in order.body.get("optionsPerProductType", []) or []:
        for option in group.get("options", []) or []:
            pairs.append((str(option.get("key")), str(option.get("value"))))
    return tuple(sorted(pairs))


def _options_lines(plan: Plan) -> list[str]:
    """Each distinct option set once, with the orders using it (the table's ``opt``)."""
    by_order = _option_sets(plan)
    users: dict[str, list[str]] = defaultdict(list)
    sets: dict[str, _OptionSet] = {}
    for order in plan.orders:
        label, key = by_order[order.key]
        users[label].append(order.key)
        sets[label] = key
    if not sets:
        return []
    lines = ["", "**Options** (the table's `opt` column):", ""]
    for label, (product, options) in sets.items():
        pairs = " · ".join(f"{_escape(k)} {_code(v)}" for k, v in options) or "none"
        keys = users[label]
        shown = ", ".join(_code(k) for k in keys[:5])
        more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
        count = f"{len(keys)} order{'s' if len(keys) != 1 else ''}"
        lines.append(f"- **{label}** {_code(product)}: {pairs} ({count}: {shown}{more})")
    return lines


def _number(value: float | None, suffix: str) -> str:
    return "-" if value is None else f"{value:.1f}{suffix}"


def _price_cells(resource: ResourcePlan, order: OrderPlan | None) -> tuple[str, str]:
    if order is None:
        return "-", "-"
    if order.price is None:  # a double purchase, or refused by Airbus: the reason says which
        return "-", "not priced"
    if order.addresses and order.addresses[0] != resource.address:
        return "↑", "↑ same order"
    price = order.price
    billable = f"{price.billable_area_km2:,.2f}" + ("\\*" if price.minimum_applied else "")
    shared = f" ({len(order.addresses)} AOIs)" if len(order.addresses) > 1 else ""
    return billable, price_text(order) + shared


def _row(resource: ResourcePlan, order: OrderPlan | None, option: str) -> str:
    scene = resource.scenes[0] if resource.scenes else None
    billable, price = _price_cells(resource, order)
    more = f" +{len(resource.scenes) - 1}" if len(resource.scenes) > 1 else ""
    cells = [
        f"{ACTION_ICONS[resource.action]} {_code(resource.address)}",
        option,
        (_escape(scene.acquisition_date[:10]) + more) if scene else "-",
        _escape(scene.platform) if scene else "-",
        _number(scene.cloud_cover if scene else None, " %"),
        coverage_text(resource.coverage) if scene else "-",
        billable,
        price,
    ]
    # numbers and amounts never wrap inside their narrow cells ("100.0 %", "EUR 404.93")
    cells[4:] = [cell.replace(" ", "\u00a0") for cell in cells[4:]]
    return "| " + " | ".join(cells) + " |"


@dataclass
class _Table:
    heading: list[str]
    rows: list[str]


def _tables(plan: Plan) -> list[_Table]:
    orders = {o.key: o for o in plan.orders}
    options = _option_sets(plan)
    per_spec: dict[str, list[ResourcePlan]] = defaultdict(list)
    for resource in plan.resources:
        if resource.action != "no-op":
            per_spec[resource.spec_file or "(state only)"].append(resource)

    def row(resource: ResourcePlan) -> str:
        key = resource.order_key or ""
        return _row(resource, orders.get(key), options[key][0] if key in options else "")

    return [
        _Table(
            heading=["", f"### {_code(spec)}", "", HEADER],
            rows=[row(r) for r in per_spec[spec]],
        )
        for spec in sorted(per_spec)
    ]


def _table_footer(plan: Plan) -> list[str]:
    lines: list[str] = []
    unchanged = sum(1 for r in plan.resources if r.action == "no-op")
    if unchanged:
        lines += ["", f"{unchanged} unchanged resource(s) not shown."]
    notes = []
    if any(o.price is not None and o.price.minimum_applied for o in plan.orders):
        notes.append("\\* billed at the product's minimum order area")
    if any(is_quotation(o) for o in plan.orders):
        notes.append(
            "quote: Pléiades Neo orders are quotations, nothing is bought until one is accepted"
        )
    if notes:
        lines += ["", "; ".join(notes) + "."]
    return lines + _options_lines(plan)


# ----------------------------------------------------------------------------- details


_ONE_LINE = 88


def compact_json(value: Any, indent: int = 0) -> str:
    """Indented JSON where a list of numbers (however nested: coordinates) is one line, and
    so is any small value."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    flat = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), sort_keys=True)
    if _numeric(value):
        return json.dumps(value, separators=(",", ":"))
    if len(flat) + len(pad) <= _ONE_LINE:
        return flat
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {compact_json(v, indent + 1)}"
            for k, v in sorted(value.items())
        ]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and not _numeric(value):
        items = [f"{inner}{compact_json(v, indent + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _numeric(value: Any) -> bool:
    if isinstance(value, list):
        return all(_numeric(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scene_words(scene: SceneSummary) -> str:
    cloud = _number(scene.cloud_cover, " %")
    incidence = _number(scene.incidence_angle, "°")
    return (
        f"{_code(scene.archive_identifier)} {_escape(scene.platform)} "
        f"{scene.acquisition_date[:10]}, cloud {cloud}, incidence {incidence}"
    )


def _thumbnail(scene: SceneSummary, quicklook_url: str | None) -> str:
    if not quicklook_url:
        return ""
    url = quicklook_url.format(id=scene.id, archive_identifier=scene.archive_identifier)
    return f' <img src="{markdown_text.html(url)}" alt="quicklook" width="96">'


def _why_lines(resource: ResourcePlan, quicklook_url: str | None) -> list[str]:
    lines = [f"- {_code(resource.address)}:"]
    candidates = resource.candidates
    if candidates is not None:
        removed = ", ".join(f"{k} {v}" for k, v in sorted(candidates.removed.items()))
        lines[0] += (
            f" {candidates.found} found, {candidates.eligible} eligible"
            + (f" (removed: {_escape(removed)})" if removed else "")
        )
    for scene in resource.scenes:
        lines.append(
            f"  - chosen: {_scene_words(scene)}, covers {coverage_text(scene.coverage)}"
            + _thumbnail(scene, quicklook_url)
        )
    for alternative in resource.alternatives:
        lines.append(
            f"  - not chosen: {_scene_words(alternative)}: {_escape(alternative.why)}"
        )
    for miss in resource.near_misses:
        lines.append(f"  - nearest miss: {_scene_words(miss)}: {_escape(miss.why)}")
    return lines


def _order_block(
    order: OrderPlan, resources: dict[str, ResourcePlan], quicklook_url: str | None
) -> str:
    price = order.price
    cost = "not priced" if price is None else price_text(order)
    lines = [
        f"<details><summary>Order <code>{order.key}</code> ({order.action}, {cost}): "
        f"{markdown_text.html(', '.join(order.addresses))}</summary>",
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
    lines += ["", "Why these scenes:", ""]
    for address in order.addresses:
        resource = resources.get(address)
        if resource is not None:
            lines += _why_lines(resource, quicklook_url)
    lines += ["", "```json", compact_json(order.body), "```", "</details>"]
    return "\n".join(lines)


def _other_block(plan: Plan) -> str | None:
    """Resources without an order (forget, blocked before pricing): each with its reason."""
    others = [r for r in plan.resources if r.action != "no-op" and r.order_key is None]
    if not others:
        return None
    lines = [f"<details><summary>Resources without an order ({len(others)})</summary>", ""]
    for resource in others:
        lines.append(f"- {_code(resource.address)} ({resource.action}): {_escape(resource.reason)}")
        lines += [
            f"  - nearest miss: {_scene_words(m)}: {_escape(m.why)}" for m in resource.near_misses
        ]
    return "\n".join([*lines, "</details>"])


def _details(plan: Plan, quicklook_url: str | None) -> list[str]:
    resources = {r.address: r for r in plan.resources}
    blocks = [_order_block(order, resources, quicklook_url) for order in plan.orders]
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
    plan: Plan,
    *,
    map_url: str | None = None,
    quicklook_url: str | None = None,
    limit: int = GITHUB_COMMENT_LIMIT,
) -> str:
    """The PR comment: at most ``limit - SAFETY_MARGIN`` characters. ``quicklook_url``: a
    template (``{id}``, ``{archive_identifier}``) of thumbnails readers can load."""
    room = limit - SAFETY_MARGIN
    head = _join(summary_lines(plan, map_url=map_url))
    blocks = _details(plan, quicklook_url)
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

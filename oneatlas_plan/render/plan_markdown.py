"""Plan -> markdown for a pull-request comment (pure, stable, under GitHub's size limit).

The summary always comes first and is never truncated; per-spec tables follow; the details
(order bodies) sit in collapsible blocks and are the first thing dropped to stay under the
65,536-character limit of a GitHub comment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from oneatlas_plan.planning.model import OrderPlan, Plan, ResourcePlan
from oneatlas_plan.render.plan_text import (
    budget_descriptions,
    format_money,
    format_totals,
    summary_line,
)

GITHUB_COMMENT_LIMIT = 65_536
SAFETY_MARGIN = 1_536
ACTION_ICONS = {"create": "➕", "reorder": "🔁", "forget": "➖", "blocked": "⛔", "no-op": "·"}


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _summary(plan: Plan) -> list[str]:
    lines = ["## oneatlas-plan", "", f"**{summary_line(plan)}**", ""]
    lines.append(f"- Endpoint: `{plan.endpoint}`; contracts: {', '.join(plan.contracts) or '-'}")
    lines.append(f"- Total to spend: **{format_totals(plan.totals)}**")
    lines += [f"- Budget {line}" for line in budget_descriptions(plan)]
    blocked = [r for r in plan.resources if r.action == "blocked"]
    if blocked:
        lines += ["", f"**{len(blocked)} blocked:**", ""]
        lines += [f"- `{r.address}`: {_escape(r.reason)}" for r in blocked]
    return lines


def _scene_cell(resource: ResourcePlan) -> str:
    if not resource.scenes:
        return "-"
    more = len(resource.scenes) - 1
    return f"`{resource.scenes[0].archive_identifier}`" + (f" +{more}" if more else "")


def _number(value: float | None, suffix: str) -> str:
    return "-" if value is None else f"{value:.1f}{suffix}"


def _row(resource: ResourcePlan, order: OrderPlan | None) -> str:
    scene = resource.scenes[0] if resource.scenes else None
    price = order.price if order is not None else None
    billable = "-"
    if price is not None:
        billable = f"{price.billable_area_km2:,.2f}" + ("*" if price.minimum_applied else "")
    cells = [
        f"{ACTION_ICONS[resource.action]} {resource.action}",
        f"`{resource.address}`",
        _scene_cell(resource),
        scene.platform if scene else "-",
        scene.acquisition_date[:10] if scene else "-",
        _number(scene.cloud_cover if scene else None, "%"),
        _number(scene.incidence_angle if scene else None, "°"),
        f"{resource.coverage:.0%}" if resource.coverage is not None else "-",
        billable,
        format_money(price.amount, price.currency) if price else "-",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| action | address | scene | platform | date | cloud | incidence | coverage "
    "| billable km² | price |\n|---|---|---|---|---|---|---|---|---:|---:|"
)


def _tables(plan: Plan) -> list[str]:
    orders = {o.key: o for o in plan.orders}
    per_spec: dict[str, list[ResourcePlan]] = defaultdict(list)
    for resource in plan.resources:
        if resource.action != "no-op":
            per_spec[resource.spec_file or "(state only)"].append(resource)
    lines: list[str] = []
    for spec in sorted(per_spec):
        lines += ["", f"### `{spec}`", "", HEADER]
        lines += [_row(r, orders.get(r.order_key or "")) for r in per_spec[spec]]
    unchanged = sum(1 for r in plan.resources if r.action == "no-op")
    if unchanged:
        lines += ["", f"{unchanged} unchanged resource(s) not shown."]
    return lines


def _details(plan: Plan) -> Iterable[str]:
    from oneatlas_plan._canonical import dumps

    for order in plan.orders:
        yield (
            f"<details><summary>Order <code>{order.key}</code> ({order.action}): "
            f"{', '.join(order.addresses)}</summary>\n\n```json\n{dumps(order.body)}```\n</details>"
        )


def render_plan_markdown(plan: Plan, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    head = "\n".join(_summary(plan) + _tables(plan)) + "\n"
    budget = limit - SAFETY_MARGIN - len(head)
    details: list[str] = []
    dropped = 0
    for block in _details(plan):
        if budget - len(block) - 1 < 0:
            dropped += 1
            continue
        details.append(block)
        budget -= len(block) + 1
    if dropped:
        details.append(
            f"\n_{dropped} order detail block(s) omitted to stay under GitHub's comment limit; "
            "see the plan file for every body._"
        )
    body = head + ("\n" + "\n".join(details) + "\n" if details else "")
    if len(body) > limit - SAFETY_MARGIN // 2:  # the tables alone are too long: cut them
        cut = head[: limit - SAFETY_MARGIN - len(_TRUNCATED)]
        body = cut[: cut.rfind("\n") + 1] + _TRUNCATED
    return body


_TRUNCATED = "\n_Tables truncated to stay under GitHub's comment limit; see the plan file._\n"

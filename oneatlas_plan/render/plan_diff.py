"""What changed between two plans: orders added or removed, scenes, options, prices, spend.

The comparison runs deepdiff over one canonical summary per resource address (the volatile
``meta`` never enters it), then phrases each change for a reviewer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from oneatlas_plan.planning.model import OrderPlan, Plan, ResourcePlan
from oneatlas_plan.render.plan_text import format_money


@dataclass
class PlanDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changes: dict[str, list[str]] = field(default_factory=dict)  # address -> descriptions
    spend_delta: dict[str, Decimal] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changes or any(self.spend_delta.values()))

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changes": self.changes,
            "spend_delta": {c: str(v) for c, v in sorted(self.spend_delta.items())},
        }


def _options(order: OrderPlan | None) -> dict[str, str]:
    if order is None:
        return {}
    options: dict[str, str] = {}
    for per_type in order.body.get("optionsPerProductType", []):
        for option in per_type.get("options", []):
            options[str(option["key"])] = str(option["value"])
    return options


def _summary(resource: ResourcePlan, order: OrderPlan | None) -> dict[str, Any]:
    price = order.price if order is not None else None
    return {
        "action": resource.action,
        "scenes": [s.archive_identifier or s.id for s in resource.scenes],
        "options": _options(order),
        "price": None if price is None else f"{price.currency} {price.amount:.2f}",
        "product": order.product_type_id if order is not None else None,
    }


def _summaries(plan: Plan) -> dict[str, dict[str, Any]]:
    orders = {o.key: o for o in plan.orders}
    return {r.address: _summary(r, orders.get(r.order_key or "")) for r in plan.resources}


def _spend(plan: Plan) -> dict[str, Decimal]:
    return dict(plan.totals)


def _describe(path: list[Any], old: Any, new: Any) -> str:
    head = path[0]
    if head == "scenes":
        return f"scenes {old_list(old)} -> {old_list(new)}"
    if head == "options":
        key = path[1] if len(path) > 1 else "options"
        return (
            f"option {key}: {old if old is not None else '(unset)'} -> "
            f"{new if new is not None else '(unset)'}"
        )
    return f"{head}: {old} -> {new}"


def old_list(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    from deepdiff import DeepDiff

    before, after = _summaries(old), _summaries(new)
    result = PlanDiff(
        added=sorted(set(after) - set(before)),
        removed=sorted(set(before) - set(after)),
    )
    for address in sorted(set(before) & set(after)):
        delta = DeepDiff(before[address], after[address], view="tree", ignore_order=False)
        lines: list[str] = []
        for items in delta.values():
            for item in items:
                path = item.path(output_format="list")
                if path and path[0] == "scenes":
                    line = _describe(
                        ["scenes"], before[address]["scenes"], after[address]["scenes"]
                    )
                else:
                    line = _describe(path, _value(item.t1), _value(item.t2))
                if line not in lines:
                    lines.append(line)
        if lines:
            result.changes[address] = lines
    old_spend, new_spend = _spend(old), _spend(new)
    for currency in sorted(set(old_spend) | set(new_spend)):
        delta_amount = new_spend.get(currency, Decimal(0)) - old_spend.get(currency, Decimal(0))
        if delta_amount:
            result.spend_delta[currency] = delta_amount
    return result


def _value(value: Any) -> Any:
    from deepdiff.helper import NotPresent

    return None if isinstance(value, NotPresent) else value


def render_diff(diff: PlanDiff, output_format: str = "text") -> str:
    if output_format == "json":
        from oneatlas_plan._canonical import dumps

        return dumps(diff.to_json())
    bullet = "- " if output_format == "markdown" else "  "
    code = "`" if output_format == "markdown" else ""
    lines: list[str] = ["### Plan changes" if output_format == "markdown" else "Plan changes:"]
    if diff.empty:
        lines.append(f"{bullet}no change")
    lines += [f"{bullet}+ {code}{a}{code} added" for a in diff.added]
    lines += [f"{bullet}- {code}{a}{code} removed" for a in diff.removed]
    for address, changes in diff.changes.items():
        lines.append(f"{bullet}~ {code}{address}{code}: " + "; ".join(changes))
    for currency, amount in diff.spend_delta.items():
        sign = "+" if amount > 0 else "-"
        lines.append(f"{bullet}spend {sign}{format_money(abs(amount), currency)}")
    return "\n".join(lines) + "\n"

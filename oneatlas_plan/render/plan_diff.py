"""What changed between two plans, or between the state and a plan (pure).

Each side is reduced to one canonical summary per resource address (action, scenes, product
options, product, price; never the volatile ``meta``), the summaries are compared, and
each difference is phrased for a reviewer: orders added or removed, action, scene, option,
product and price changes, spec files changed, and the spend delta per currency.

Two plans are compared as streams (``diff_plan_streams``, fed by ``planfile.iter_plan_pair``):
both sides' orders are reduced to their summaries, then both sides' resources are walked in
address order, side by side, so a diff holds the changes, not the plans (and the reader makes
what both files hold alike once).

Against a state (``diff_state_plan``) the old side is what the state records for each
resource (its latest order: status, scenes, amount); the state keeps no order body, so
options and product are not compared there. Unchanged (``no-op``) resources match their
record by definition, forgotten ones are removed, and the spend delta is what the plan adds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from oneatlas_plan import _canonical
from oneatlas_plan.planning.model import OrderPlan, Plan, ResourcePlan
from oneatlas_plan.render.markdown_text import code, escape
from oneatlas_plan.render.plan_text import format_money
from oneatlas_plan.state.model import ResourceRecord, State

# The fields compared, in the order they are reported.
FIELDS = ("action", "status", "product", "scenes", "options", "price")
# Actions after which scenes/options/price mean nothing (no order is made).
NO_ORDER = frozenset({"no-op", "forget"})
MARKDOWN_ROW_CAP = 300


@dataclass(frozen=True)
class Change:
    """One difference: ``field`` is one of FIELDS, ``option`` (key) or ``spec_file``/…"""

    field: str
    old: Any
    new: Any
    key: str | None = None
    detail: str | None = None  # spec files: which resources the edit changed

    def describe(self) -> str:
        if self.field == "spec_file":
            return f"spec file {self.key} {self.new}: {self.detail or 'no resource changed'}"
        name = f"option {self.key}" if self.field == "options" else self.field
        return f"{name}: {_show(self.old)} -> {_show(self.new)}"

    def to_json(self) -> dict[str, Any]:
        data = {"field": self.field, "old": self.old, "new": self.new}
        if self.key is not None:
            data["key"] = self.key
        if self.detail is not None:
            data["detail"] = self.detail
        return data


@dataclass
class PlanDiff:
    old_kind: Literal["plan", "state"] = "plan"
    added: dict[str, dict[str, Any]] = field(default_factory=dict)  # address -> summary
    removed: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: dict[str, list[Change]] = field(default_factory=dict)  # address -> changes
    plan_changes: list[Change] = field(default_factory=list)  # endpoint, contracts, spec files
    spend_old: dict[str, Decimal] = field(default_factory=dict)
    spend_new: dict[str, Decimal] = field(default_factory=dict)

    @property
    def spend_delta(self) -> dict[str, Decimal]:
        currencies = sorted(set(self.spend_old) | set(self.spend_new))
        delta = {
            c: self.spend_new.get(c, Decimal(0)) - self.spend_old.get(c, Decimal(0))
            for c in currencies
        }
        return {c: amount for c, amount in delta.items() if amount}

    @property
    def empty(self) -> bool:
        return not (
            self.added or self.removed or self.changes or self.plan_changes or self.spend_delta
        )

    def to_json(self) -> dict[str, Any]:
        currencies = sorted(set(self.spend_old) | set(self.spend_new))
        return {
            "old_kind": self.old_kind,
            "added": self.added,
            "removed": self.removed,
            "changes": {a: [c.to_json() for c in cs] for a, cs in self.changes.items()},
            "plan_changes": [c.to_json() for c in self.plan_changes],
            "spend": {
                c: {
                    "old": str(self.spend_old.get(c, Decimal(0))),
                    "new": str(self.spend_new.get(c, Decimal(0))),
                    "delta": str(
                        self.spend_new.get(c, Decimal(0)) - self.spend_old.get(c, Decimal(0))
                    ),
                }
                for c in currencies
            },
            "empty": self.empty,
        }


# ---------------------------------------------------------------------------- summaries


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)


def _money(amount: Decimal | None, currency: str | None) -> str | None:
    return None if amount is None or not currency else f"{currency} {amount:.2f}"


def _options(order: OrderPlan | None) -> dict[str, str]:
    if order is None:
        return {}
    options: dict[str, str] = {}
    for per_type in order.body.get("optionsPerProductType", []) or []:
        for option in per_type.get("options", []) or []:
            if isinstance(option, dict) and "key" in option:
                options[str(option["key"])] = str(option.get("value"))
    return dict(sorted(options.items()))


def _order_summary(
    order: OrderPlan | None, options: dict[str, str] | None = None
) -> dict[str, Any]:
    """What a resource's summary takes from its order (small: kept for every order);
    ``options``: the order's, when known."""
    price = order.price if order is not None else None
    return {
        "product": None if order is None else order.product_type_id,
        "options": _options(order) if options is None else options,
        "price": None if price is None else _money(price.amount, price.currency),
    }


def _plan_summary(resource: ResourcePlan, order: dict[str, Any] | None) -> dict[str, Any]:
    if resource.action in NO_ORDER:
        return {"action": resource.action}
    order = order or _order_summary(None)
    return {
        "action": resource.action,
        "product": order["product"],
        "scenes": [s.archive_identifier or s.id for s in resource.scenes],
        "options": order["options"],
        "price": order["price"],
    }


def plan_summaries(plan: Plan) -> dict[str, dict[str, Any]]:
    """address -> canonical summary of what the plan does for it."""
    orders = {o.key: _order_summary(o) for o in plan.orders}
    return {r.address: _plan_summary(r, orders.get(r.order_key or "")) for r in plan.resources}


def _record_summary(record: ResourceRecord) -> dict[str, Any]:
    current = record.current
    return {
        "status": record.status,
        "scenes": [] if current is None else [s.archive_identifier or s.id for s in current.scenes],
        "price": None if current is None else _money(current.amount, current.currency),
    }


def state_summaries(state: State) -> dict[str, dict[str, Any]]:
    """address -> canonical summary of what the state records for it."""
    return {a: _record_summary(r) for a, r in sorted(state.resources.items())}


# ------------------------------------------------------------------------------ compare


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """The differences between two summaries of one resource, in FIELDS order: a field
    that differs, or (options) each key whose value differs. Summaries hold strings, lists
    of strings and (options) a dict of strings, so plain equality is the comparison."""
    changes = []
    for name in sorted(before.keys() & after.keys(), key=FIELDS.index):  # no-op: no scenes
        old, new = before[name], after[name]
        if old == new:
            continue
        if name == "options" and isinstance(old, dict) and isinstance(new, dict):
            changes += [
                Change("options", old.get(key), new.get(key), key=key)
                for key in sorted(old.keys() | new.keys())
                if old.get(key) != new.get(key)
            ]
        else:
            changes.append(Change(name, old, new))
    return changes


def _plan_level(old: Plan, new: Plan) -> list[Change]:
    changes = [
        Change(name, getattr(old, name), getattr(new, name))
        for name in ("endpoint", "contracts")
        if getattr(old, name) != getattr(new, name)
    ]
    for path in sorted(set(old.spec_files) | set(new.spec_files)):
        before, after = old.spec_files.get(path), new.spec_files.get(path)
        if before != after:
            state = "added" if before is None else "removed" if after is None else "changed"
            changes.append(Change("spec_file", _short_digest(before), state, key=path))
    return changes


def _short_digest(digest: str | None) -> str | None:
    return None if digest is None else digest[:12]


def _diff(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], diff: PlanDiff
) -> PlanDiff:
    diff.added = {a: after[a] for a in sorted(set(after) - set(before))}
    diff.removed = {a: before[a] for a in sorted(set(before) - set(after))}
    for address in sorted(set(before) & set(after)):
        changes = compare(before[address], after[address])
        if changes:
            diff.changes[address] = changes
    return diff


PlanItem = OrderPlan | ResourcePlan | Plan


class _Side:
    """One plan read as a stream (orders, then resources by address, then the plan)."""

    def __init__(self, items: Iterable[PlanItem]) -> None:
        self.items = iter(items)
        self.orders: dict[str, dict[str, Any]] = {}
        self.plan: Plan | None = None
        self.head: ResourcePlan | None = None
        self.in_orders = True
        self.options: tuple[Any, dict[str, str]] = (object(), {})  # the last body's options

    def step(self) -> None:
        """One item while the orders last; then ``head`` is the first resource."""
        item = next(self.items, None)
        if isinstance(item, OrderPlan):
            self.orders[item.key] = self.order_summary(item)
            return
        self.in_orders = False
        if isinstance(item, ResourcePlan):
            self.head = item
        elif isinstance(item, Plan):
            self.plan = item

    def advance(self) -> ResourcePlan | None:
        for item in self.items:
            if isinstance(item, OrderPlan):
                self.orders[item.key] = self.order_summary(item)
            elif isinstance(item, ResourcePlan):
                return item
            else:
                self.plan = item
                return None
        return None

    def order_summary(self, order: OrderPlan) -> dict[str, Any]:
        """:func:`_order_summary`; the orders of a spec order are adjacent and their bodies
        share one options object (the file's common part): its summary is made once."""
        options = order.body.get("optionsPerProductType")
        if options is not self.options[0]:
            self.options = (options, _options(order))
        return _order_summary(order, self.options[1])

    def summary(self, resource: ResourcePlan) -> dict[str, Any]:
        return _plan_summary(resource, self.orders.get(resource.order_key or ""))


def plan_items(plan: Plan) -> Iterator[PlanItem]:
    """A plan in memory as ``planfile.iter_plan`` reads one (resources by address)."""
    yield from plan.orders
    yield from sorted(plan.resources, key=lambda r: r.address)
    yield plan


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """OLD plan -> NEW plan; the spend is each plan's total of orders to place."""
    return diff_plan_streams(plan_items(old), plan_items(new))


def diff_plan_streams(old_items: Iterable[PlanItem], new_items: Iterable[PlanItem]) -> PlanDiff:
    """:func:`diff_plans` over two plans read as streams (``planfile.iter_plan``): each
    yields its orders, its resources sorted by address, then the plan itself (the rest)."""
    old, new = _Side(old_items), _Side(new_items)
    # The orders side by side too (like the resources below): two files read together
    # (planfile.iter_plan_pair) make what they hold alike once, while it is fresh.
    while old.in_orders or new.in_orders:
        for side in (old, new):
            if side.in_orders:
                side.step()
    result = PlanDiff(old_kind="plan")
    spec_files: dict[str, str | None] = {}  # address -> spec file, for the reported ones
    while old.head is not None or new.head is not None:
        before, after = old.head, new.head
        if after is None or (before is not None and before.address < after.address):
            assert before is not None
            result.removed[before.address] = old.summary(before)
            spec_files[before.address] = before.spec_file
            old.head = old.advance()
        elif before is None or after.address < before.address:
            result.added[after.address] = new.summary(after)
            spec_files[after.address] = after.spec_file
            new.head = new.advance()
        else:
            changes = compare(old.summary(before), new.summary(after))
            if changes:
                result.changes[after.address] = changes
                spec_files[after.address] = after.spec_file
            old.head, new.head = old.advance(), new.advance()
    if old.plan is None or new.plan is None:
        raise ValueError("a plan stream ended without its plan")
    result.plan_changes = _plan_level(old.plan, new.plan)
    result.spend_old, result.spend_new = dict(old.plan.totals), dict(new.plan.totals)
    result.plan_changes = [_spec_detail(c, spec_files, result) for c in result.plan_changes]
    return result


def _spec_detail(change: Change, files: dict[str, str | None], diff: PlanDiff) -> Change:
    """Name what an edit of a spec file changed: the resources it added, removed, changed
    (``files``: address -> spec file of those resources)."""
    if change.field != "spec_file":
        return change
    mine = sorted(a for a, f in files.items() if f == change.key)
    parts = []
    added = [a for a in mine if a in diff.added]
    removed = [a for a in mine if a in diff.removed]
    changed = [
        f"{a} ({', '.join(sorted({c.field for c in diff.changes[a]}))})"
        for a in mine
        if a in diff.changes
    ]
    for label, items in (("added", added), ("removed", removed), ("changed", changed)):
        if items:
            shown = ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
            parts.append(f"{label} {shown}")
    unchanged = (
        "no resource changed (comments, formatting or defaults only)"
        if change.new == "changed"
        else "no resource of it planned"
    )
    detail = "; ".join(parts) or unchanged
    return Change(change.field, change.old, change.new, key=change.key, detail=detail)


def diff_state_plan(state: State, plan: Plan) -> PlanDiff:
    """What applying PLAN changes in STATE; the spend delta is what the plan would spend."""
    before = state_summaries(state)
    after: dict[str, dict[str, Any]] = {}
    for address, summary in plan_summaries(plan).items():
        action = summary["action"]
        if action == "forget":
            continue
        if action == "no-op" and address in before:
            after[address] = before[address]
            continue
        after[address] = {
            "status": f"{action}",
            "scenes": summary.get("scenes", []),
            "price": summary.get("price"),
        }
    spent = state.spent()
    after_spend = dict(spent)
    for currency, amount in plan.totals.items():
        after_spend[currency] = after_spend.get(currency, Decimal(0)) + amount
    result = PlanDiff(old_kind="state", spend_old=spent, spend_new=after_spend)
    return _diff(before, after, result)


# ------------------------------------------------------------------------------- render


def _entry(summary: dict[str, Any]) -> str:
    what = summary.get("action") or summary.get("status") or "?"
    parts = [str(what)]
    if summary.get("scenes"):
        parts.append(_show(summary["scenes"]))
    if summary.get("price"):
        parts.append(str(summary["price"]))
    return ", ".join(parts)


def _spend_lines(diff: PlanDiff) -> list[str]:
    lines = []
    for currency, amount in diff.spend_delta.items():
        sign = "+" if amount > 0 else "-"
        old = diff.spend_old.get(currency, Decimal(0))
        new = diff.spend_new.get(currency, Decimal(0))
        lines.append(
            f"spend {sign}{format_money(abs(amount), currency)} "
            f"({format_money(old, currency)} -> {format_money(new, currency)}"
            + (" including what the state already spent)" if diff.old_kind == "state" else ")")
        )
    return lines


def _title(diff: PlanDiff) -> str:
    return "Changes from the state" if diff.old_kind == "state" else "Plan changes"


def render_diff_text(diff: PlanDiff) -> str:
    lines = [f"{_title(diff)}:"]
    if diff.empty:
        lines.append("  no change")
    lines += [f"  + {a}: added ({_entry(s)})" for a, s in diff.added.items()]
    lines += [f"  - {a}: removed (was {_entry(s)})" for a, s in diff.removed.items()]
    for address, changes in diff.changes.items():
        lines.append(f"  ~ {address}")
        lines += [f"      {change.describe()}" for change in changes]
    lines += [f"  ~ {change.describe()}" for change in diff.plan_changes]
    lines += [f"  {line}" for line in _spend_lines(diff)]
    return "\n".join(lines) + "\n"


def _arrows(text: str) -> str:
    return escape(text.replace(" -> ", " → "))


def render_diff_markdown(diff: PlanDiff) -> str:
    lines = [f"### {_title(diff)}", ""]
    if diff.empty:
        return "\n".join([*lines, "No change."]) + "\n"
    rows = [f"| ➕ | {code(a)} | added: {escape(_entry(s))} |" for a, s in diff.added.items()]
    rows += [
        f"| ➖ | {code(a)} | removed (was {escape(_entry(s))}) |" for a, s in diff.removed.items()
    ]
    rows += [
        f"| ✏️ | {code(a)} | {_arrows('; '.join(c.describe() for c in cs))} |"
        for a, cs in diff.changes.items()
    ]
    if rows:
        lines += ["| | address | change |", "|---|---|---|", *rows[:MARKDOWN_ROW_CAP]]
        if len(rows) > MARKDOWN_ROW_CAP:
            lines += ["", f"_… and {len(rows) - MARKDOWN_ROW_CAP} more changed resources._"]
    if diff.plan_changes:
        lines += ["", *[f"- {_arrows(c.describe())}" for c in diff.plan_changes]]
    spend = _spend_lines(diff)
    if spend:
        lines += ["", *[f"**{_arrows(line)}**" for line in spend]]
    return "\n".join(lines) + "\n"


def render_diff(diff: PlanDiff, output_format: str = "text") -> str:
    if output_format == "json":
        return _canonical.dumps(diff.to_json())
    if output_format == "markdown":
        return render_diff_markdown(diff)
    return render_diff_text(diff)

"""The state as text and JSON for `state list` / `state show` (pure: State -> str | dict)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oneatlas_plan.render.machine import StateListOutput
from oneatlas_plan.render.money import format_money, format_totals
from oneatlas_plan.state.model import (
    OrderRecord,
    ResourceRecord,
    RetiredOrder,
    State,
    may_be_spent,
)

COLUMNS = ("ADDRESS", "#", "STATUS", "ORDER ID", "AMOUNT", "SUBMITTED", "DELIVERED", "DOWNLOADED")


EMPTY_ROW_KEYS = (
    "production_status",
    "sales_order_id",
    "quotation_id",
    "amount",
    "currency",
    "submitted_at",
    "outcome_at",
    "order_key",
)


def order_rows(state: State) -> list[dict[str, Any]]:
    """One row per order of every resource (history included, newest last), by address."""
    rows = []
    for address in sorted(state.resources):
        record = state.resources[address]
        for number, order in enumerate(record.orders, start=1):
            rows.append(_row(record, number, order))
        if not record.orders:
            rows.append(
                dict.fromkeys(EMPTY_ROW_KEYS)
                | {
                    "address": address,
                    "order": 0,
                    "current": True,
                    "status": record.status,
                    "delivered_items": 0,
                    "downloaded": 0,
                    "shared_with": [],
                }
            )
    return rows


def _row(record: ResourceRecord, number: int, order: OrderRecord) -> dict[str, Any]:
    return {
        "address": record.address,
        "order": number,
        "current": number == len(record.orders),
        "status": order.status,
        "production_status": order.production_status,
        "sales_order_id": order.sales_order_id,
        "quotation_id": order.quotation_id,
        "amount": None if order.amount is None else str(order.amount),
        "currency": order.currency,
        "submitted_at": order.submitted_at,
        "outcome_at": order.outcome_at,
        "delivered_items": len({d.item_id for d in order.deliveries}),
        "downloaded": len(order.downloads),
        "shared_with": [a for a in order.addresses if a != record.address],
        "order_key": order.order_key,
    }


def retired_rows(state: State) -> list[dict[str, Any]]:
    """One row per retired order, oldest first."""
    counted = {e.order.order_key for e in state.retired_orders() if may_be_spent(e.order)}
    live = {o.order_key for o in state.distinct_orders() if may_be_spent(o)}
    return [
        {
            "address": entry.address,
            "retired_at": entry.retired_at,
            "reason": entry.reason,
            "status": entry.order.status,
            "counted": entry.order.order_key in counted | live,
            "sales_order_id": entry.order.sales_order_id,
            "quotation_id": entry.order.quotation_id,
            "amount": None if entry.order.amount is None else str(entry.order.amount),
            "currency": entry.order.currency,
            "submitted_at": entry.order.submitted_at,
            "order_key": entry.order.order_key,
        }
        for entry in state.retired
    ]


def _unknown(state: State) -> tuple[int, dict[str, Decimal]]:
    orders = [o for o in state.distinct_orders() if o.status in ("unknown", "pending")]
    upper: dict[str, Decimal] = {}
    for order in orders:
        if order.amount is not None and order.currency:
            upper[order.currency] = upper.get(order.currency, Decimal(0)) + order.amount
    return len(orders), upper


def _quoted(state: State) -> tuple[int, dict[str, Decimal]]:
    orders = [o for o in state.distinct_orders() if o.status == "quoted"]
    totals: dict[str, Decimal] = {}
    for order in orders:
        if order.amount is not None and order.currency:
            totals[order.currency] = totals.get(order.currency, Decimal(0)) + order.amount
    return len(orders), totals


def _quoted_amounts(state: State, totals: dict[str, Decimal]) -> str:
    """``EUR 979.72``, and how many quotations Airbus answered without an amount."""
    unpriced = sum(1 for o in state.distinct_orders() if o.status == "quoted" and o.amount is None)
    if not unpriced:
        return format_totals(totals)
    without = f"{unpriced} without an amount (Airbus's answer gave none)"
    return f"{format_totals(totals)} and {without}" if totals else without


def _arrived(state: State) -> dict[str, int]:
    orders = state.distinct_orders()
    return {
        "delivered_items": sum(len({d.item_id for d in o.deliveries}) for o in orders),
        "downloaded_files": sum(len(o.downloads) for o in orders),
        "downloaded_bytes": sum(d.size or 0 for o in orders for d in o.downloads),
    }


def state_list_json(state: State) -> dict[str, Any]:
    """The data of ``state list --format json``, checked against its schema's model."""
    count, upper = _unknown(state)
    quoted, quoted_totals = _quoted(state)
    data = {
        "version": state.version,
        "lineage": state.lineage,
        "serial": state.serial,
        "orders": order_rows(state),
        "spent": {currency: str(amount) for currency, amount in sorted(state.spent().items())},
        "unsettled": {
            "orders": count,
            "up_to": {currency: str(amount) for currency, amount in sorted(upper.items())},
        },
        "quoted": {
            "orders": quoted,
            "amounts": {c: str(amount) for c, amount in sorted(quoted_totals.items())},
        },
        "arrived": _arrived(state),
        "retired": retired_rows(state),
    }
    output: dict[str, Any] = StateListOutput.model_validate(data).model_dump(mode="json")
    return output


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    if row["order"] == 0:
        return (row["address"], "-", row["status"], "-", "-", "-", "-", "-")
    status = row["status"]
    production = row["production_status"]
    if production and production != status:  # never "ordered/ordered"
        status += ", " + production.replace("_", " ")
    order_id = row["sales_order_id"] or (
        f"quotation {row['quotation_id']}" if row["quotation_id"] else "-"
    )
    if row["sales_order_id"] and row["quotation_id"]:
        order_id += f" ({row['quotation_id']})"  # an accepted quotation
    amount = "-"
    if row["amount"] is not None:
        amount = format_money(Decimal(row["amount"]), row["currency"] or "?")
        amount += " *" if row["shared_with"] else ""
    delivered = str(row["delivered_items"]) if row["delivered_items"] else "-"
    downloaded = f"{row['downloaded']}/{row['delivered_items']}" if row["delivered_items"] else "-"
    return (
        row["address"],
        str(row["order"]),
        status,
        order_id,
        amount,
        row["submitted_at"] or "-",
        delivered,
        downloaded,
    )


def render_state_table(state: State) -> str:
    """The whole life of every order, with the total spent per currency."""
    header = f"State {state.lineage}, serial {state.serial}"
    rows = order_rows(state)
    if not rows and not state.retired:
        return f"{header}: no resources.\n"
    lines = _table([COLUMNS, *(_cells(row) for row in rows)]) if rows else []
    lines += _retired_lines(state)
    orders = state.distinct_orders()
    lines += [
        "",
        f"{header}: {len(state.resources)} resources, {len(orders)} orders.",
        f"Spent: {format_totals(state.spent())} (orders placed; each Airbus order once).",
    ]
    quoted, quoted_totals = _quoted(state)
    if quoted:
        lines.append(
            f"Quoted, awaiting acceptance: {_quoted_amounts(state, quoted_totals)} ({quoted} "
            f"quotation{'s' if quoted != 1 else ''}; `oneatlas-plan quotations list`)."
        )
    arrived = _arrived(state)
    if arrived["delivered_items"]:
        lines.append(
            f"Arrived: {arrived['delivered_items']} item"
            f"{'s' if arrived['delivered_items'] != 1 else ''} delivered, "
            f"{arrived['downloaded_files']} downloaded ({_size(arrived['downloaded_bytes'])})."
        )
    count, upper = _unknown(state)
    if count:
        lines.append(
            f"Unsettled: {count} order{'s' if count != 1 else ''} pending or of unknown outcome "
            f"(up to {format_totals(upper)}); reconcile with Airbus, or settle with "
            "`oneatlas-plan state resolve`."
        )
    if any(row.get("shared_with") for row in rows):
        lines.append("* one Airbus order shared by several resources (its full amount shown).")
    return "\n".join(lines) + "\n"


def _table(table: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in table
    ]


def _retired_lines(state: State) -> list[str]:
    rows = retired_rows(state)
    if not rows:
        return []
    cells = [
        (
            row["address"],
            row["status"] + ("" if row["counted"] else " (not counted)"),
            row["sales_order_id"] or row["quotation_id"] or "-",
            "-" if row["amount"] is None
            else format_money(Decimal(row["amount"]), row["currency"] or "?"),
            row["submitted_at"] or "-",
            f"{row['retired_at']}: {row['reason']}",
        )
        for row in rows
    ]
    return [
        "",
        "Retired: orders of resources that left the state; their spend still counts in every "
        "budget (settle an unknown one with `oneatlas-plan state resolve ADDRESS`).",
        *_table([("ADDRESS", "STATUS", "ORDER ID", "AMOUNT", "SUBMITTED", "RETIRED"), *cells]),
    ]


def _size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover


def _order_lines(number: int, total: int, order: OrderRecord) -> list[str]:
    title = f"order {number}/{total}" + (" (current)" if number == total else "")
    lines = [f"  {title}:"]
    fields: list[tuple[str, object]] = [
        ("status", order.status),
        ("production status", order.production_status),
        ("order key", order.order_key),
        ("customer reference", order.customer_reference),
        ("body digest", order.body_digest),
        ("sales order id", order.sales_order_id),
        ("quotation id", order.quotation_id),
        ("quotation valid until", order.quotation_valid_until),
        (
            "amount",
            None if order.amount is None else format_money(order.amount, order.currency or "?"),
        ),
        ("submitted at", order.submitted_at),
        ("outcome at", order.outcome_at),
        ("resolved by", order.resolved_by),
        ("resolved at", order.resolved_at),
        ("message", order.message),
        ("shared with", ", ".join(order.addresses) if len(order.addresses) > 1 else None),
    ]
    lines += [f"    {name}: {value}" for name, value in fields if value is not None]
    for label, items in (
        ("scenes", [_scene(s.id, s.platform, s.acquisition_date) for s in order.scenes]),
        ("deliveries", [f"{d.item_id} {d.download_href or ''}".rstrip() for d in order.deliveries]),
        ("downloads", [f"{d.path} ({d.size} bytes, md5 {d.md5}, {d.at})" for d in order.downloads]),
    ):
        if items:
            lines.append(f"    {label}:")
            lines += [f"      - {item}" for item in items]
    return lines


def _scene(scene_id: str, platform: str | None, date: str | None) -> str:
    details = ", ".join(x for x in (platform, date) if x)
    return f"{scene_id} ({details})" if details else scene_id


def render_resource(record: ResourceRecord) -> str:
    """Everything the state knows about one resource (`state show`)."""
    lines = [
        f"{record.address}:",
        f"  status: {record.status}",
        f"  config digest: {record.config_digest}",
        f"  spec file: {record.spec_file or '-'}",
    ]
    if not record.orders:
        lines.append("  no order submitted")
    for number, order in enumerate(record.orders, start=1):
        lines += _order_lines(number, len(record.orders), order)
    return "\n".join(lines) + "\n"


def render_retired(address: str, entries: list[RetiredOrder]) -> str:
    """The retired orders of a resource that left the state (`state show`)."""
    lines = [f"{address}: not in the state; its retired orders still count as spend:"]
    for number, entry in enumerate(entries, start=1):
        order = _order_lines(number, len(entries), entry.order)
        order[0] = f"  retired order {number}/{len(entries)} ({entry.retired_at}, {entry.reason}):"
        lines += order
    return "\n".join(lines) + "\n"

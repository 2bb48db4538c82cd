"""RefreshResult -> text: one row per Airbus order (pure)."""

from __future__ import annotations

from datetime import datetime

from oneatlas_plan.applying.refresh import RefreshResult

COLUMNS = ("ADDRESS", "ORDER ID", "STATUS", "DELIVERED", "AGE")
STATUS_WORDS = {"in_production": "in production"}


def age(since: str | None, now: datetime) -> str:
    """``45s``, ``12m``, ``3h``, ``2d`` since a state timestamp; ``-`` when unknown."""
    if not since:
        return "-"
    try:
        moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        return "-"
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def render_refresh(result: RefreshResult, now: datetime) -> str:
    if not result.orders:
        return "Nothing to refresh: no order placed or quoted in the state.\n"
    rows: list[tuple[str, ...]] = [COLUMNS]
    for order in result.orders:
        for address in order.addresses:
            rows.append(
                (
                    address,
                    order.order_id or "-",
                    STATUS_WORDS.get(order.status, order.status),
                    str(order.delivered_items) if order.delivered_items else "-",
                    age(order.submitted_at, now),
                )
            )
    count = len(result.orders)
    plural = "s" if count != 1 else ""
    summary = f"Refreshed {count} order{plural}: {result.changed} changed in the state."
    return "\n".join([*table(rows), "", summary]) + "\n"

"""Money as people read it in every output: ``EUR 1,250.00``."""

from __future__ import annotations

from decimal import Decimal


def format_money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.2f}"


def format_totals(totals: dict[str, Decimal]) -> str:
    """Amounts per currency, sorted by currency; ``nothing`` when empty."""
    if not totals:
        return "nothing"
    return ", ".join(format_money(totals[c], c) for c in sorted(totals))

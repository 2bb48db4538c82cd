"""Quotations -> text and JSON (pure)."""

from __future__ import annotations

from typing import Any

from oneatlas_plan.applying.quotations import Quotation
from oneatlas_plan.render.refresh_text import table

COLUMNS = ("QUOTATION", "ADDRESS", "STATUS", "AMOUNT", "VALID UNTIL", "SUBMITTED")


NO_AMOUNT = "no amount"  # Airbus's answer to the quotation request carried none


def _amount(quotation: Quotation) -> str:
    if quotation.amount is None:
        return NO_AMOUNT
    return f"{quotation.currency or '?'} {quotation.amount:,.2f}"


def _status(quotation: Quotation) -> str:
    if quotation.status == "accepted" and quotation.sales_order_id:
        return f"accepted ({quotation.sales_order_id})"
    return quotation.status


def render_quotations(quotations: list[Quotation]) -> str:
    if not quotations:
        return "No quotation awaits a decision.\n"
    rows: list[tuple[str, ...]] = [COLUMNS]
    for quotation in quotations:
        for address in quotation.addresses:
            rows.append(
                (
                    quotation.quotation_id,
                    address,
                    _status(quotation),
                    _amount(quotation),
                    quotation.valid_until or "-",
                    quotation.submitted_at or "-",
                )
            )
    hint = (
        "Nothing is bought until a quotation is accepted: "
        "`oneatlas-plan quotations accept ADDRESS|QUOTATION_ID` (or `refuse`)."
    )
    return "\n".join([*table(rows), "", hint]) + "\n"


def quotations_json(quotations: list[Quotation]) -> list[dict[str, Any]]:
    return [
        {
            "quotation_id": q.quotation_id,
            "addresses": list(q.addresses),
            "status": q.status,
            "amount": None if q.amount is None else str(q.amount),
            "currency": q.currency,
            "valid_until": q.valid_until,
            "submitted_at": q.submitted_at,
            "sales_order_id": q.sales_order_id,
        }
        for q in quotations
    ]


def render_decision(quotation: Quotation) -> str:
    where = ", ".join(quotation.addresses)
    if quotation.status == "accepted":
        order = f": sales order {quotation.sales_order_id}" if quotation.sales_order_id else ""
        return (
            f"Accepted quotation {quotation.quotation_id} ({_amount(quotation)}) "
            f"for {where}{order}.\n"
        )
    return f"Refused quotation {quotation.quotation_id} ({_amount(quotation)}) for {where}.\n"


def render_acceptance_question(quotation: Quotation) -> str:
    where = ", ".join(quotation.addresses)
    valid = f", valid until {quotation.valid_until}" if quotation.valid_until else ""
    if quotation.amount is None:
        return (
            f"Quotation {quotation.quotation_id} for {where}{valid}: Airbus's answer gave no "
            "amount, so this tool cannot show what it costs. Read the amount on the quotation "
            "in OneAtlas before accepting: accepting starts production and Airbus bills it "
            "(no refund)."
        )
    return (
        f"Quotation {quotation.quotation_id} for {where}: {_amount(quotation)}{valid}. "
        "Accepting it starts production and Airbus bills this amount (no refund)."
    )

"""ApplyResult -> text (pure)."""

from __future__ import annotations

import re
from decimal import Decimal

from oneatlas_plan.applying.apply import ApplyResult
from oneatlas_plan.render.money import format_totals

STATUS_WORDS = {
    "ordered": "ordered",
    "quoted": "quoted (Pléiades Neo: not bought until accepted)",
    "accepted": "quotation accepted, ordered",
    "rejected": "REJECTED",
    "unknown": "OUTCOME UNKNOWN (reconciled at the next plan/apply)",
    "skipped": "not submitted",
}


_COMMAND = re.compile(r"`(oneatlas-plan [^`]*)`")


def with_flags(message: str, flags: str) -> str:
    """Hints quote commands to run next: they repeat the endpoint/state flags of this run."""
    return _COMMAND.sub(lambda m: f"`{m.group(1)}{flags}`", message) if flags else message


def render_apply_result(result: ApplyResult, *, flags: str = "") -> str:
    lines = []
    for outcome in result.outcomes:
        what = STATUS_WORDS.get(outcome.status, outcome.status)
        order_id = f" {outcome.order_id}" if outcome.order_id else ""
        amount = (
            f" ({outcome.currency} {outcome.amount:,.2f})"
            if outcome.amount is not None and outcome.currency
            else ""
        )
        lines.append(f"{', '.join(outcome.addresses)}: {what}{order_id}{amount}")
        if outcome.message:
            message = with_flags(outcome.message, flags)
            lines.extend(f"    {line}" for line in message.splitlines())
    for address in result.forgotten:
        lines.append(f"{address}: forgotten (nothing was cancelled)")
    counts = [
        f"{result.count('ordered')} ordered",
        f"{result.count('quoted')} quoted",
        f"{result.count('accepted')} accepted",
        f"{result.count('rejected')} rejected",
        f"{result.count('unknown')} unknown",
        f"{result.count('skipped')} skipped (price or budget)",
        f"{len(result.forgotten)} forgotten",
    ]
    lines.append("Apply: " + ", ".join(counts))
    if result.stopped:
        lines.append(f"Stopped: {result.stopped}")
    lines.append(submitted_line(result))
    return "\n".join(lines) + "\n"


def submitted_line(result: ApplyResult) -> str:
    """``3 submitted, 2 not submitted``: every order of the plan is in one of the two."""
    submitted = sum(1 for o in result.outcomes if o.status != "skipped")
    return f"{submitted} submitted, {result.planned - submitted} not submitted"


def confirmation_prompt(count: int, totals: dict[str, Decimal], endpoint: str) -> str:
    """What `apply` asks before placing orders planned from specs."""
    orders = f"{count} order{'s' if count != 1 else ''}"
    return (
        f"Place {orders} for {format_totals(totals)} on endpoint {endpoint}? "
        "Only 'yes' will be accepted"
    )

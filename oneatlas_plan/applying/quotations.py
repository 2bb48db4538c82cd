"""Pléiades Neo quotations: list them, accept or refuse them (the caller holds the state lock).

An order on a Pléiades Neo contract answers with a quotationId: nothing is bought until the
quotation is accepted. Acceptance is a person's decision (`quotations accept`), or automatic in
`apply` when the spec set ``accept_quotations_up_to`` and the quoted amount is within it.
Airbus documents no body for accept/refuse, so the salesOrderId of an accepted quotation is
read back from ``/api/v2/orders/search``, which also gives the contract and the validity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from oneatlas_plan import _testhooks
from oneatlas_plan.api.orders import orders_search_q
from oneatlas_plan.errors import ApiError, StateError
from oneatlas_plan.planning.budget import within_threshold
from oneatlas_plan.state.backends import StateStore
from oneatlas_plan.state.model import OrderRecord, ResourceRecord, State, utc_iso

if TYPE_CHECKING:
    from oneatlas_plan.api.client import OneAtlasClient
    from oneatlas_plan.api.models import OrderLine

# Spec thresholds are Money, whose only currency is EUR (spec.models.Money).

Decision = Literal["accept", "refuse"]


@dataclass(frozen=True)
class Quotation:
    """One quotation recorded in the state (shared by every address of its order)."""

    quotation_id: str
    order_key: str
    addresses: tuple[str, ...]
    status: str  # quoted | accepted | refused
    amount: Decimal | None
    currency: str | None
    valid_until: str | None
    submitted_at: str | None
    sales_order_id: str | None


def quotations(state: State, *, include_decided: bool = False) -> list[Quotation]:
    """The quotations of the current orders (only those awaiting a decision by default)."""
    found: dict[str, Quotation] = {}
    for address in sorted(state.resources):
        order = state.resources[address].current
        if order is None or not order.quotation_id or order.order_key in found:
            continue
        if order.status != "quoted" and not include_decided:
            continue
        found[order.order_key] = _quotation(address, order)
    return list(found.values())


def _quotation(address: str, order: OrderRecord) -> Quotation:
    return Quotation(
        quotation_id=order.quotation_id or "",
        order_key=order.order_key,
        addresses=tuple(order.addresses or [address]),
        status=order.status,
        amount=order.amount,
        currency=order.currency,
        valid_until=order.quotation_valid_until,
        submitted_at=order.submitted_at,
        sales_order_id=order.sales_order_id,
    )


def find_quotation(state: State, reference: str) -> Quotation:
    """The quotation named by an address or a quotation id; a clear error otherwise."""
    record = state.resources.get(reference)
    if record is not None:
        order = record.current
        if order is None or not order.quotation_id:
            raise StateError(f"{reference}: its current order is not a Pléiades Neo quotation")
        return _quotation(reference, order)
    for candidate in quotations(state, include_decided=True):
        if candidate.quotation_id == reference:
            return candidate
    raise StateError(
        f"no resource or quotation {reference!r} in the state; "
        "`oneatlas-plan quotations list` shows the quotations awaiting a decision"
    )


def auto_acceptable(order: OrderRecord) -> bool:
    """A quotation the reviewed plan allowed to accept without asking (its amount is within
    the ``accept_quotations_up_to`` recorded with the order)."""
    return (
        order.status == "quoted"
        and bool(order.quotation_id)
        and within_threshold(order.amount, order.currency, order.accept_up_to)
    )


def quotation_lines(client: OneAtlasClient, quotation_id: str) -> list[OrderLine]:
    """The order lines of a quotation (``/api/v2/orders/search`` by ``cis.quotation``)."""
    lines = client.search_orders(orders_search_q(quotation_id=quotation_id))
    return [line for line in lines if line.quotation_id in (None, quotation_id)]


def valid_until(lines: list[OrderLine]) -> str | None:
    for line in lines:
        value = (line.model_extra or {}).get("quotationEndOfValidityDate")
        if isinstance(value, str) and value:
            return value
    return None


def decide(
    store: StateStore,
    client: OneAtlasClient,
    quotation: Quotation,
    decision: Decision,
    now: datetime,
    *,
    contract_id: str | None = None,
    reason: str = "",
) -> Quotation:
    """Accept or refuse ``quotation`` at Airbus and record the outcome; returns it updated.

    A quotation Airbus already shows as decided the same way is only recorded (the answer to
    an earlier request may have been lost); one decided the other way is an error.
    """
    if quotation.status != "quoted":
        raise StateError(
            f"quotation {quotation.quotation_id} is already {quotation.status} "
            f"({', '.join(quotation.addresses)})"
        )
    lines = quotation_lines(client, quotation.quotation_id)
    if not lines:
        raise ApiError(f"quotation {quotation.quotation_id} is not known to Airbus (order search)")
    contract = contract_id or next((line.contract_id for line in lines if line.contract_id), None)
    if contract is None:
        raise ApiError(f"quotation {quotation.quotation_id}: Airbus did not give its contract")
    wanted = "ACCEPTED" if decision == "accept" else "REFUSED"
    current = (lines[0].quotation_status or "").upper()
    if current not in ("SENT", wanted):
        raise ApiError(
            f"quotation {quotation.quotation_id} is {current or 'in an unknown state'} at Airbus; "
            f"it cannot be {wanted.lower()} (run `oneatlas-plan refresh` to record its status)"
        )
    if current == "SENT":
        reference = _customer_reference(store, quotation)
        if decision == "accept":
            # Written ahead: if the answer is lost (or the run killed), reconcile asks Airbus
            # whether this acceptance took effect and records it as spend.
            mark_accept_sent(store, quotation, now)
            client.accept_quotation(contract, quotation.quotation_id, customer_reference=reference)
            _testhooks.pause("after-accept")
        else:
            client.refuse_quotation(contract, quotation.quotation_id, customer_reference=reference)
    sales_order_id = None
    if decision == "accept":
        lines = quotation_lines(client, quotation.quotation_id) or lines
        sales_order_id = next((x.sales_order_id for x in lines if x.sales_order_id), None)
    record_decision(
        store,
        quotation,
        decision,
        now,
        sales_order_id=sales_order_id,
        valid_until=valid_until(lines),
        message=reason or f"quotation {wanted.lower()}",
    )
    return find_quotation(store.view(), quotation.addresses[0])


def _customer_reference(store: StateStore, quotation: Quotation) -> str:
    record = store.get(quotation.addresses[0])
    order = record.current if record is not None else None
    return order.customer_reference if order is not None else ""


def mark_accept_sent(store: StateStore, quotation: Quotation, now: datetime) -> None:
    def change(current: OrderRecord) -> None:
        current.accept_sent_at = utc_iso(now)

    _change_quoted(store, quotation, change)


def _change_quoted(
    store: StateStore, quotation: Quotation, change: Callable[[OrderRecord], None]
) -> None:
    for address in quotation.addresses:

        def update(record: ResourceRecord) -> ResourceRecord:
            current = record.orders[-1]
            if current.order_key == quotation.order_key and current.status == "quoted":
                change(current)
            return record

        if store.get(address) is not None:
            store.update(address, update)


def record_decision(
    store: StateStore,
    quotation: Quotation,
    decision: Decision,
    now: datetime,
    *,
    sales_order_id: str | None,
    valid_until: str | None,
    message: str,
) -> None:
    """Record an accepted (→ ``accepted``, an order) or refused (→ ``refused``) quotation."""
    _change_quoted(store, quotation, decision_change(
        decision, now, sales_order_id=sales_order_id, valid_until=valid_until, message=message))


def decision_change(
    decision: Decision,
    now: datetime,
    *,
    sales_order_id: str | None,
    valid_until: str | None,
    message: str,
) -> Callable[[OrderRecord], None]:
    """The change of a quoted record that Airbus shows accepted or refused."""

    def change(current: OrderRecord) -> None:
        current.status = "accepted" if decision == "accept" else "refused"
        current.sales_order_id = sales_order_id or current.sales_order_id
        current.quotation_valid_until = valid_until or current.quotation_valid_until
        current.production_status = "ordered" if decision == "accept" else None
        current.outcome_at = utc_iso(now)
        current.message = message

    return change

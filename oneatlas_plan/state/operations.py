"""Repairs a person makes to the state (`state rm`, `state resolve`); the caller holds the lock."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from oneatlas_plan.errors import StateError
from oneatlas_plan.state.backends import StateStore
from oneatlas_plan.state.model import OrderRecord, ResourceRecord, utc_iso

RESOLVABLE: frozenset[str] = frozenset({"unknown", "pending"})


def remove_resource(store: StateStore, address: str, removed_by: str) -> ResourceRecord:
    """Forget a resource; nothing is cancelled at Airbus, and its orders that spent are
    retired (their spend still counts). Returns the removed record."""
    return store.remove(address, f"removed with `state rm` by {removed_by}")


def retired_unsettled(store: StateStore, address: str) -> list[int]:
    """Positions of the retired orders of ``address`` whose outcome a person may settle."""
    return [
        index
        for index, entry in enumerate(store.view().retired)
        if entry.address == address and _resolvable(entry.order)
    ]


def _resolvable(order: OrderRecord) -> bool:
    return order.status in RESOLVABLE or (
        order.status == "quoted" and order.accept_sent_at is not None
    )


def resolve_order(
    store: StateStore,
    address: str,
    *,
    sales_order_id: str | None,
    resolved_by: str,
    now: datetime,
) -> list[tuple[str, str]]:
    """Settle an ``unknown``/``pending`` order after a person checked with Airbus.

    ``sales_order_id`` given: Airbus has the order (status ``ordered``); None: it has not
    (``not_ordered``, so the next plan orders it again). Every resource sharing that Airbus
    order is settled alike. A resource that left the state has its unsettled retired orders
    settled instead. Returns (address, status) of what was settled.
    """
    record = store.get(address)
    if record is None:
        return _resolve_retired(store, address, sales_order_id, resolved_by, now)
    order = record.current
    if order is None or order.status not in RESOLVABLE:
        what = "no order" if order is None else f"its order is {order.status!r}"
        raise StateError(f"{address}: {what}; only an unknown or pending order can be resolved")
    if sales_order_id is not None and not sales_order_id.strip():
        raise StateError("the sales order id is empty")
    status: Literal["ordered", "not_ordered"] = (
        "ordered" if sales_order_id is not None else "not_ordered"
    )
    key = order.order_key

    def settle(shared: ResourceRecord) -> ResourceRecord:
        current = shared.orders[-1]
        current.status = status
        current.sales_order_id = sales_order_id
        current.outcome_at = utc_iso(now)
        current.resolved_by = resolved_by
        current.resolved_at = utc_iso(now)
        return shared

    updated = []
    for shared_address in dict.fromkeys([address, *order.addresses]):
        shared = store.get(shared_address)
        if shared is None or shared.current is None:
            continue
        if shared.current.order_key == key and shared.current.status in RESOLVABLE:
            updated.append(store.update(shared_address, settle))
    return [(r.address, r.status) for r in updated]


def _resolve_retired(
    store: StateStore,
    address: str,
    sales_order_id: str | None,
    resolved_by: str,
    now: datetime,
) -> list[tuple[str, str]]:
    """Settle the unsettled retired orders of ``address`` (it left the state): ``--ordered``
    keeps the spend, ``--not-ordered`` stops counting it. A settled order cannot be undone."""
    positions = retired_unsettled(store, address)
    if not positions:
        retired = any(entry.address == address for entry in store.view().retired)
        raise StateError(
            f"no resource {address!r} in state {store.location}"
            + (
                "; its retired orders are settled (ordered or accepted): what was bought "
                "stays counted"
                if retired
                else ""
            )
        )
    if sales_order_id is not None and not sales_order_id.strip():
        raise StateError("the sales order id is empty")
    for index in positions:
        entry = store.view().retired[index]
        order = entry.order.model_copy(deep=True)
        order.status = "ordered" if sales_order_id is not None else "not_ordered"
        order.sales_order_id = sales_order_id or order.sales_order_id
        order.accept_sent_at = None
        order.outcome_at = utc_iso(now)
        order.resolved_by = resolved_by
        order.resolved_at = utc_iso(now)
        store.record_retired(index, entry.model_copy(update={"order": order}))
    return [(f"{address} (retired order {n})", "ordered" if sales_order_id else "not_ordered")
            for n in positions]

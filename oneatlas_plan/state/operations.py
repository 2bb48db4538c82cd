"""Repairs a person makes to the state (`state rm`, `state resolve`); the caller holds the lock."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from oneatlas_plan.errors import StateError
from oneatlas_plan.state.backends import StateStore
from oneatlas_plan.state.model import ResourceRecord, utc_iso

RESOLVABLE: frozenset[str] = frozenset({"unknown", "pending"})


def remove_resource(store: StateStore, address: str) -> ResourceRecord:
    """Forget a resource; nothing is cancelled at Airbus. Returns the removed record."""
    return store.remove(address)


def resolve_order(
    store: StateStore,
    address: str,
    *,
    sales_order_id: str | None,
    resolved_by: str,
    now: datetime,
) -> list[ResourceRecord]:
    """Settle an ``unknown``/``pending`` order after a person checked with Airbus.

    ``sales_order_id`` given: Airbus has the order (status ``ordered``); None: it has not
    (``not_ordered``, so the next plan orders it again). Every resource sharing that Airbus
    order is settled alike. Returns the updated records.
    """
    record = store.get(address)
    if record is None:
        raise StateError(f"no resource {address!r} in state {store.location}")
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
    return updated

"""Reconcile orders whose outcome is unknown (or pending after a crash) against Airbus.

An order's customerReference carries its idempotency key, so Airbus can tell whether it
exists: the contract's delivery workspace is searched by customerReference (the delivered
items carry the salesOrderId as internalReference), and /api/v2/orders/search is asked too
(Pléiades Neo quotations and orders). A match turns the record into ``ordered`` (or
``quoted``); a record with no match stays blocked: it is never resubmitted silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from oneatlas_plan.api.orders import orders_search_q
from oneatlas_plan.state.backends import StateStore
from oneatlas_plan.state.model import Delivery, OrderRecord, ResourceRecord, State, utc_iso

if TYPE_CHECKING:
    from oneatlas_plan.api.client import OneAtlasClient
    from oneatlas_plan.api.models import Feature, OrderLine

UNSETTLED = frozenset({"pending", "unknown"})


@dataclass
class ReconcileResult:
    resolved: dict[str, str] = field(default_factory=dict)  # address -> order id
    unresolved: list[str] = field(default_factory=list)


def unsettled(state: State) -> list[ResourceRecord]:
    return [r for r in state.resources.values() if r.status in UNSETTLED]


@dataclass(frozen=True)
class Finding:
    sales_order_id: str | None
    quotation_id: str | None
    deliveries: tuple[Delivery, ...] = ()


class DeliveryWorkspaces:
    """Delivery workspace per contract: the contract's, else the account's (/api/v1/me)."""

    def __init__(self, client: OneAtlasClient) -> None:
        self._client = client
        self._by_contract: dict[str, str | None] | None = None
        self._account: str | None = None

    def of(self, contract_id: str | None) -> str | None:
        if self._by_contract is None:
            self._by_contract = {
                c.contract_id: c.delivery_workspace for c in self._client.contracts()
            }
        workspace = self._by_contract.get(contract_id or "")
        if workspace is None and self._account is None:
            me = self._client.me()
            self._account = me.contract.workspace_id if me.contract else ""
        return workspace or self._account or None


def find_order(
    client: OneAtlasClient, order: OrderRecord, workspace: str | None, contract_id: str | None
) -> Finding | None:
    if workspace:
        items = client.find_delivered(workspace, customer_reference=order.customer_reference)
        exact = [f for f in items if f.properties.customer_reference == order.customer_reference]
        sales_ids = sorted(
            {ref for f in exact if (ref := f.properties.internal_reference) is not None}
        )
        if sales_ids:
            return Finding(sales_ids[0], None, tuple(delivery(f) for f in exact))
    key = order.order_key
    lines = client.search_orders(orders_search_q(contract_id=contract_id, customer_reference=key))
    matches: list[OrderLine] = [
        line for line in lines if line.customer_reference == order.customer_reference
    ]
    for line in matches:
        if line.sales_order_id or line.quotation_id:
            return Finding(line.sales_order_id, line.quotation_id)
    return None


def delivery(feature: Feature) -> Delivery:
    link = feature.download_link
    return Delivery(
        item_id=feature.id,
        download_href=link.href if link else None,
        resource_id=link.resource_id if link else None,
        publication_date=feature.properties.model_extra.get("publicationDate")
        if feature.properties.model_extra
        else None,
    )


def reconcile(
    store: StateStore,
    client: OneAtlasClient,
    contracts: dict[str, str],
    now: Callable[[], datetime],
) -> ReconcileResult:
    """Settle every pending/unknown record that Airbus knows about. Caller holds the lock.

    ``contracts`` maps an address to the contract id of its order (from the plan or spec).
    """
    result = ReconcileResult()
    workspaces = DeliveryWorkspaces(client)
    done: set[str] = set()
    for record in unsettled(store.state()):
        order = record.current
        if order is None or order.order_key in done:
            continue
        contract_id = order.contract_id or contracts.get(record.address)
        finding = find_order(client, order, workspaces.of(contract_id), contract_id)
        done.add(order.order_key)
        addresses = order.addresses or [record.address]
        if finding is None:
            result.unresolved.extend(addresses)
            continue
        _settle(store, addresses, order.order_key, finding, now())
        for address in addresses:
            result.resolved[address] = finding.sales_order_id or finding.quotation_id or "?"
    return result


def _settle(
    store: StateStore, addresses: list[str], key: str, finding: Finding, now: datetime
) -> None:
    for address in addresses:

        def change(record: ResourceRecord) -> ResourceRecord:
            current = record.orders[-1]
            if current.order_key == key and current.status in UNSETTLED:
                current.status = "ordered" if finding.sales_order_id else "quoted"
                current.sales_order_id = finding.sales_order_id
                current.quotation_id = finding.quotation_id
                current.outcome_at = utc_iso(now)
                current.message = "reconciled with Airbus by customerReference"
                if finding.deliveries:
                    current.deliveries = list(finding.deliveries)
                    current.production_status = "delivered"
            return record

        if store.get(address) is not None:
            store.update(address, change)

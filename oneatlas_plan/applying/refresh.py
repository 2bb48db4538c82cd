"""Refresh: learn from Airbus what became of every order, without ordering anything.

For each current order that was placed (``ordered``/``accepted``) or quoted:

* Pléiades Neo orders and quotations are read from ``/api/v2/orders/search`` (by quotation
  id, else by the customerReference): line status, quotation status and validity, the
  salesOrderId of an accepted quotation, the delivery workspace;
* delivered items are searched by internalReference (the salesOrderId), else by
  customerReference, in the workspace the order's body named (``delivery.workspace``), then
  the one the order search gives, then the contract's (or the account's); each gives a
  :class:`Delivery` (item id, the ``_links.download`` path and resourceId, publication date).

Every resource sharing an Airbus order is updated alike; an unchanged record costs no write,
so a refresh that observes nothing new leaves the state (and its serial) as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from oneatlas_plan.addresses import check_targets
from oneatlas_plan.api.orders import orders_search_q
from oneatlas_plan.applying.quotations import valid_until
from oneatlas_plan.applying.reconcile import DeliveryWorkspaces, deliveries, same_reference
from oneatlas_plan.state.backends import StateStore
from oneatlas_plan.state.model import (
    Delivery,
    OrderRecord,
    ProductionStatus,
    ResourceRecord,
    State,
    utc_iso,
)

if TYPE_CHECKING:
    from oneatlas_plan.api.client import OneAtlasClient
    from oneatlas_plan.api.models import Feature, OrderLine
    from oneatlas_plan.applying.session import Workspace

REFRESHABLE = frozenset({"ordered", "accepted", "quoted"})
Progress = Callable[[str, int, int], None]

# orderLine status -> production status (Airbus: PENDING, IN_PROGRESS, DELIVERED, CANCELLED…)
LINE_STATUS: dict[str, ProductionStatus] = {
    "IN_PROGRESS": "in_production",
    "DELIVERED": "delivered",
    "CANCELLED": "cancelled",
    "CANCELED": "cancelled",
    "FAILED": "failed",
    "REJECTED": "failed",
    "ERROR": "failed",
}


@dataclass(frozen=True)
class RefreshedOrder:
    """What is known of one Airbus order after the refresh (one row of the table)."""

    addresses: tuple[str, ...]
    order_id: str | None
    status: str  # quoted | refused | ordered | in_production | delivered | failed | cancelled
    delivered_items: int
    submitted_at: str | None
    changed: bool


@dataclass
class RefreshResult:
    orders: list[RefreshedOrder] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(1 for order in self.orders if order.changed)


@dataclass(frozen=True)
class _Observation:
    sales_order_id: str | None = None
    quotation_status: str | None = None
    valid_until: str | None = None
    production: ProductionStatus | None = None
    items: tuple[Feature, ...] = ()


def refreshable(state: State, targets: Sequence[str] = ()) -> list[ResourceRecord]:
    """Records whose current order Airbus may have news about (optionally under ``targets``)."""
    return [
        record
        for address, record in sorted(state.resources.items())
        if record.current is not None
        and record.current.status in REFRESHABLE
        and (not targets or any(_matches(address, t) for t in targets))
    ]


def _matches(address: str, target: str) -> bool:
    return address == target or address.startswith(target.rstrip(".") + ".")


def is_neo(order: OrderRecord) -> bool:
    """A Pléiades Neo order: quoted first, or ordering a PNEO scene."""
    return bool(order.quotation_id) or any(
        (scene.platform or "").upper().startswith("PNEO") for scene in order.scenes
    )


def refresh_orders(
    store: StateStore,
    client: OneAtlasClient,
    now: Callable[[], datetime],
    *,
    contracts: Mapping[str, str] | None = None,
    targets: Sequence[str] = (),
    on_event: Progress | None = None,
) -> RefreshResult:
    """Refresh every refreshable order (the caller holds the state lock).

    ``contracts`` maps an address to its contract id when known (plan/spec); otherwise the
    workspace comes from the order search (Pléiades Neo) or the account (``/api/v1/me``).
    """
    emit = on_event or (lambda stage, done, total: None)
    result = RefreshResult()
    workspaces = DeliveryWorkspaces(client)
    seen: set[str] = set()
    records = refreshable(store.state(), targets)
    for done, record in enumerate(records):
        emit("refresh", done, len(records))
        order = record.current
        if order is None or order.order_key in seen:
            continue
        seen.add(order.order_key)
        addresses = tuple(order.addresses or [record.address])
        contract_id = order.contract_id or (contracts or {}).get(record.address)
        observed = _observe(client, order, workspaces, contract_id)
        changed = False
        for address in addresses:
            changed |= _record(store, address, order.order_key, observed, now())
        updated = store.get(record.address)
        current = updated.current if updated is not None else None
        result.orders.append(_summary(addresses, current or order, changed))
    emit("refresh", len(records), len(records))
    return result


def refresh_with_state(
    workspace: Workspace,
    *,
    contracts: Mapping[str, str] | None = None,
    targets: Sequence[str] = (),
    on_event: Progress | None = None,
) -> RefreshResult:
    """:func:`refresh_orders` under the state lock (no request when nothing is refreshable)."""
    from datetime import UTC

    from oneatlas_plan.applying.session import locked_store

    state = workspace.state.store().load()
    check_targets(targets, state.resources, what="address")
    if not refreshable(state, targets):
        return RefreshResult()
    with locked_store(workspace) as store:
        return refresh_orders(
            store,
            workspace.client(),
            lambda: datetime.now(UTC),
            contracts=contracts,
            targets=targets,
            on_event=on_event,
        )


def _observe(
    client: OneAtlasClient,
    order: OrderRecord,
    workspaces: DeliveryWorkspaces,
    contract_id: str | None,
) -> _Observation:
    sales_order_id = order.sales_order_id
    quotation_status = validity = production = workspace = None
    if is_neo(order):
        lines = _order_lines(client, order)
        if lines:
            sales_order_id = sales_order_id or next(
                (line.sales_order_id for line in lines if line.sales_order_id), None
            )
            quotation_status = (lines[0].quotation_status or "").upper() or None
            validity = valid_until(lines)
            production = _line_production(lines)
            workspace = next((x.delivery_workspace for x in lines if x.delivery_workspace), None)
            contract_id = contract_id or lines[0].contract_id
    items: tuple[Feature, ...] = ()
    if sales_order_id or order.status != "quoted":
        searched: set[str] = set()
        for candidate in _workspaces(order, workspace, workspaces, contract_id):
            if candidate in searched:
                continue
            searched.add(candidate)
            items = tuple(_delivered(client, candidate, order, sales_order_id))
            if items:
                break
    return _Observation(sales_order_id, quotation_status, validity, production, items)


def _workspaces(
    order: OrderRecord,
    from_lines: str | None,
    workspaces: DeliveryWorkspaces,
    contract_id: str | None,
) -> Iterator[str]:
    """The body's delivery workspace, the order search's, then the defaults (lazily)."""
    if order.delivery_workspace:
        yield order.delivery_workspace
    if from_lines:
        yield from_lines
    yield from workspaces.candidates(order, contract_id)


def _order_lines(client: OneAtlasClient, order: OrderRecord) -> list[OrderLine]:
    if order.quotation_id:
        query = orders_search_q(quotation_id=order.quotation_id)
    else:
        query = orders_search_q(customer_reference=order.order_key)
    return [
        line
        for line in client.search_orders(query)
        if (
            line.customer_reference is None
            or same_reference(line.customer_reference, order.customer_reference, order.order_key)
        )
        and (not order.quotation_id or line.quotation_id in (None, order.quotation_id))
    ]


def _line_production(lines: Sequence[OrderLine]) -> ProductionStatus | None:
    statuses = {LINE_STATUS.get((line.status or "").upper()) for line in lines}
    if not statuses or statuses == {None}:
        return None  # PENDING (a quotation) or a status this tool does not know
    for status in ("delivered", "cancelled"):
        if statuses == {status}:
            return status
    if "failed" in statuses:
        return "failed"
    return "in_production"


def _delivered(
    client: OneAtlasClient, workspace: str, order: OrderRecord, sales_order_id: str | None
) -> list[Feature]:
    if sales_order_id:
        items = client.find_delivered(workspace, internal_reference=sales_order_id)
        exact = [f for f in items if f.properties.internal_reference == sales_order_id]
        if exact:
            return exact
    items = client.find_delivered(workspace, customer_reference=order.customer_reference)
    return [
        f
        for f in items
        if same_reference(f.properties.customer_reference, order.customer_reference,
                          order.order_key)
    ]


def _record(
    store: StateStore, address: str, key: str, observed: _Observation, now: datetime
) -> bool:
    record = store.get(address)
    if record is None or record.current is None or record.current.order_key != key:
        return False
    before = record.current.model_copy(deep=True)
    _update(record.current, observed, utc_iso(now))
    if record.current == before:
        return False
    store.record(record)
    return True


def _update(order: OrderRecord, observed: _Observation, now: str) -> None:
    if observed.valid_until:
        order.quotation_valid_until = observed.valid_until
    if order.status == "quoted":
        if observed.quotation_status == "ACCEPTED" and observed.sales_order_id:
            order.status = "accepted"
            order.outcome_at = now
            order.message = "quotation accepted at Airbus (found by refresh)"
        elif observed.quotation_status == "REFUSED":
            order.status = "refused"
            order.outcome_at = now
            order.message = "quotation refused at Airbus (found by refresh)"
            return
        else:
            return
    if observed.sales_order_id:
        order.sales_order_id = order.sales_order_id or observed.sales_order_id
    order.deliveries = _merge(order.deliveries, [d for f in observed.items for d in deliveries(f)])
    order.production_status = _production(order, observed)


def _merge(known: Sequence[Delivery], found: Sequence[Delivery]) -> list[Delivery]:
    """Found deliveries keeping the checksum verified by an earlier download of the same file
    (the same item, the same place among its files)."""
    by_file = _by_file(known)
    merged = []
    for key, item in _by_file(found).items():
        previous = by_file.pop(key, None)
        checksum = previous.checksum if previous is not None else None
        merged.append(item.model_copy(update={"checksum": checksum}))
    listed = {d.item_id for d in found}
    # an item no longer listed is kept: it was delivered
    merged += [d for (item_id, _), d in by_file.items() if item_id not in listed]
    return sorted(merged, key=lambda d: d.item_id)  # stable: an item's files keep their order


def _by_file(items: Sequence[Delivery]) -> dict[tuple[str, int], Delivery]:
    seen: dict[str, int] = {}
    keyed = {}
    for item in items:
        seen[item.item_id] = seen.get(item.item_id, -1) + 1
        keyed[(item.item_id, seen[item.item_id])] = item
    return keyed


def _production(order: OrderRecord, observed: _Observation) -> ProductionStatus | None:
    if observed.production is not None:
        return observed.production
    expected = max(1, len(order.addresses))
    if len({d.item_id for d in order.deliveries}) >= expected:
        return "delivered"
    if order.deliveries:
        return "in_production"
    return order.production_status or "ordered"


def _summary(addresses: tuple[str, ...], order: OrderRecord, changed: bool) -> RefreshedOrder:
    status: str = order.production_status or "ordered"
    if order.status in ("quoted", "refused"):
        status = order.status
    return RefreshedOrder(
        addresses=addresses,
        order_id=order.sales_order_id or order.quotation_id,
        status=status,
        delivered_items=len({d.item_id for d in order.deliveries}),
        submitted_at=order.submitted_at,
        changed=changed,
    )

"""The state file's models: what is known about every order placed (pydantic, no I/O).

The state is written as canonical JSON (sorted keys, 2-space indent, trailing newline) so
that it reads well in a diff. It never holds a secret. ``schemas/state.schema.json`` is
generated from :class:`State`.

A resource's ``status`` is, by definition, the status of its latest order mapped by
:func:`record_status`; it is re-derived whenever a record is validated, so it can never
disagree with ``orders[-1]``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from oneatlas_plan import _canonical

STATE_VERSION = 4

RecordStatus = Literal["pending", "ordered", "quoted", "unknown", "rejected", "not_ordered"]
OrderStatus = Literal[
    "pending", "ordered", "quoted", "accepted", "refused", "unknown", "rejected", "not_ordered"
]
ProductionStatus = Literal["ordered", "in_production", "delivered", "failed", "cancelled"]

# order status -> resource status (the status of a resource is that of its latest order)
RECORD_STATUS: dict[str, RecordStatus] = {
    "pending": "pending",  # written ahead of the request; outcome not yet known
    "ordered": "ordered",
    "accepted": "ordered",  # a quotation accepted becomes an order
    "quoted": "quoted",
    "unknown": "unknown",  # the request may have reached Airbus: reconcile before reordering
    "rejected": "rejected",  # Airbus refused the request: nothing was created
    "refused": "not_ordered",  # we refused Airbus's quotation
    "not_ordered": "not_ordered",  # settled by a person with `state resolve --not-ordered`
}

# Statuses whose amount was spent.
SPENT_STATUSES: frozenset[str] = frozenset({"ordered", "accepted"})
# Statuses whose amount is, or may be, spent: an unsettled outcome counts until reconciled.
COMMITTED_STATUSES: frozenset[str] = frozenset({"ordered", "accepted", "pending", "unknown"})

# Bounds every amount read from a file: far above any order, and it keeps a hand-edited
# "1e999999999" from being formatted into a gigabyte of digits.
MAX_AMOUNT = Decimal(10) ** 15
Amount = Annotated[Decimal, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]

UtcTimestamp = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"),
]


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_iso(moment: datetime) -> str:
    """``2026-11-23T20:00:00Z``: the one timestamp format of the state file."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: state timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_lineage() -> str:
    return str(uuid.uuid4())


def record_status(order_status: str) -> RecordStatus:
    return RECORD_STATUS[order_status]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SceneRef(_Model):
    id: str = Field(description="Catalogue item id (catalogItemId).")
    archive_identifier: str | None = Field(default=None, description="DS_… / ACQ_… id.")
    platform: str | None = None
    acquisition_date: str | None = None


class Delivery(_Model):
    """One delivered file of a sales order (from the data API): an item listing several
    download links has one entry per link, all with its item_id."""

    item_id: str
    download_href: str | None = None
    resource_id: str | None = None
    publication_date: str | None = None
    checksum: str | None = None


class Download(_Model):
    """One file downloaded to disk."""

    path: str
    md5: str | None = None
    size: int | None = None
    at: UtcTimestamp


class OrderRecord(_Model):
    """One Airbus order (or quotation) for a resource; shared by up to 5 resources."""

    order_key: str = Field(description="Idempotency key (part of customerReference).")
    customer_reference: str
    contract_id: str | None = Field(
        default=None, description="Contract the order was placed on (finds its workspace)."
    )
    body_digest: str
    status: OrderStatus
    submitted_at: UtcTimestamp | None = None
    outcome_at: UtcTimestamp | None = None
    sales_order_id: str | None = None
    quotation_id: str | None = None
    quotation_valid_until: str | None = None
    amount: Amount | None = Field(
        default=None,
        description="Price of the whole Airbus order (the same in every record sharing it).",
    )
    currency: str | None = None
    scenes: list[SceneRef] = Field(default_factory=list)
    addresses: list[str] = Field(
        default_factory=list, description="Every resource sharing this Airbus order."
    )
    digests: dict[str, str] = Field(
        default_factory=dict,
        description="Digest per spec field class when ordered (what a later edit changed).",
    )
    aoi_geometry: dict[str, Any] | None = Field(
        default=None, description="The resource's AOI when ordered (finds double purchases)."
    )
    message: str | None = Field(default=None, description="Airbus's message (rejections).")
    production_status: ProductionStatus | None = None
    deliveries: list[Delivery] = Field(default_factory=list)
    downloads: list[Download] = Field(default_factory=list)
    resolved_by: str | None = Field(
        default=None, description="user@host who settled the outcome with `state resolve`."
    )
    resolved_at: UtcTimestamp | None = None
    delivery_workspace: str | None = Field(
        default=None,
        description="delivery.workspace of the order body (searched first for its deliveries).",
    )
    accept_up_to: Amount | None = Field(
        default=None,
        description="Reviewed accept_quotations_up_to (EUR): a quotation within it is accepted "
        "automatically, also after an interrupted run.",
    )
    accept_sent_at: UtcTimestamp | None = Field(
        default=None,
        description="When an acceptance of the quotation was sent (written before the request).",
    )
    not_found_checks: list[UtcTimestamp] = Field(
        default_factory=list,
        description="Times Airbus's order search, authoritative for this contract, found no "
        "order with this customerReference (an unknown outcome settles after two, a grace "
        "period apart).",
    )


def may_be_spent(order: OrderRecord) -> bool:
    """Whether the order's amount is, or may be, gone: placed, of unknown outcome, or a
    quotation whose acceptance was sent and not yet read back."""
    if order.status in COMMITTED_STATUSES:
        return True
    return order.status == "quoted" and order.accept_sent_at is not None


def order_identity(order: OrderRecord) -> tuple[str, str | None]:
    """One Airbus order: its key and when it was sent (every record sharing it holds both).
    The key alone is not enough: a re-buy of the same resources with the same spec (``plan
    --replace``, a spec deleted and added again) gets the same key."""
    return order.order_key, order.submitted_at


class ResourceRecord(_Model):
    address: str
    config_digest: str
    spec_file: str | None = None
    status: RecordStatus = Field(
        default="pending", description="Status of the latest order (derived from it)."
    )
    orders: list[OrderRecord] = Field(
        default_factory=list, description="Every order for this resource, newest last."
    )

    @model_validator(mode="after")
    def _derive_status(self) -> ResourceRecord:
        if self.orders:
            derived = record_status(self.orders[-1].status)
            if self.status != derived:
                object.__setattr__(self, "status", derived)
        return self

    @property
    def current(self) -> OrderRecord | None:
        """The latest order, or None when nothing was submitted yet."""
        return self.orders[-1] if self.orders else None


class RetiredOrder(_Model):
    """An order of a resource that left the state (forgotten by ``apply``, ``state rm``).

    What was bought stays bought: its amount still counts in every budget it belongs to and
    its scenes in the double-purchase check. Only an order whose money is or may be gone is
    retired (:func:`may_be_spent`)."""

    address: str = Field(description="The resource it was ordered for (spec.order.aoi).")
    spec_file: str | None = None
    retired_at: UtcTimestamp
    reason: str = Field(description="Why the resource left the state, and by whom.")
    order: OrderRecord


REMOVED = "removed from the state"


def retire(record: ResourceRecord, at: str, reason: str) -> list[RetiredOrder]:
    """The retired entries of a resource leaving the state (its orders that spent)."""
    return [
        RetiredOrder(
            address=record.address,
            spec_file=record.spec_file,
            retired_at=at,
            reason=reason,
            order=order.model_copy(deep=True),
        )
        for order in record.orders
        if may_be_spent(order)
    ]


class State(_Model):
    version: int = Field(default=STATE_VERSION, description="State format version.")
    lineage: str = Field(description="UUID made when the state was created; never changes.")
    serial: int = Field(default=0, ge=0, description="+1 on every change.")
    resources: dict[str, ResourceRecord] = Field(default_factory=dict)
    retired: list[RetiredOrder] = Field(
        default_factory=list,
        description="Orders of resources that left the state, oldest first: their spend "
        "still counts (docs/SPEC.md, Budgets).",
    )

    @model_validator(mode="after")
    def _check(self) -> State:
        if self.version != STATE_VERSION:
            raise ValueError(f"version must be {STATE_VERSION} (migrate older states first)")
        for address, record in self.resources.items():
            if record.address != address:
                raise ValueError(f"resources[{address!r}] holds the record of {record.address!r}")
        return self

    @classmethod
    def new(cls) -> State:
        return cls(version=STATE_VERSION, lineage=new_lineage(), serial=0, resources={})

    def to_json(self) -> str:
        return dumps(self.model_dump(mode="json"))

    def distinct_orders(self) -> list[OrderRecord]:
        """Every order once (an Airbus order shared by several resources appears in each)."""
        seen: dict[tuple[str, str | None], OrderRecord] = {}
        for record in self.resources.values():
            for order in record.orders:
                seen.setdefault(order_identity(order), order)
        return list(seen.values())

    def retired_orders(self) -> list[RetiredOrder]:
        """Retired orders no live record holds, each once (its latest retirement first)."""
        seen = {order_identity(o) for r in self.resources.values() for o in r.orders}
        found = []
        for entry in reversed(self.retired):
            if order_identity(entry.order) not in seen:
                seen.add(order_identity(entry.order))
                found.append(entry)
        return found

    def placed_keys(self) -> dict[str, tuple[str, ...]]:
        """Address -> the keys of the orders recorded for it, live and retired."""
        keys: dict[str, set[str]] = {}
        for record in self.resources.values():
            keys.setdefault(record.address, set()).update(o.order_key for o in record.orders)
        for entry in self.retired:
            keys.setdefault(entry.address, set()).add(entry.order.order_key)
        return {address: tuple(sorted(found)) for address, found in keys.items()}

    def spent(self) -> dict[str, Decimal]:
        """Currency -> amount of the orders placed (ordered or accepted), each counted once,
        retired ones included."""
        totals: dict[str, Decimal] = {}
        retired = [entry.order for entry in self.retired_orders()]
        for order in self.distinct_orders() + retired:
            if order.status in SPENT_STATUSES and order.amount is not None and order.currency:
                totals[order.currency] = totals.get(order.currency, Decimal(0)) + order.amount
        return totals


dumps = _canonical.dumps  # the state file: the project's one canonical JSON


def dumps_line(data: Any) -> str:
    """One compact canonical JSON line (the journal's format)."""
    return _canonical.compact(data) + "\n"


def updated_record(
    current: ResourceRecord | None,
    address: str,
    fn: Callable[[ResourceRecord], ResourceRecord],
    location: str,
) -> ResourceRecord:
    """``fn(current)``, checked: the record exists and ``fn`` kept its address (both stores'
    ``update``)."""
    from oneatlas_plan.errors import StateError

    if current is None:
        raise StateError(f"no resource {address!r} in state {location}")
    new = fn(current)
    if new.address != address:
        raise StateError(f"update of {address!r} returned the record of {new.address!r}")
    return new

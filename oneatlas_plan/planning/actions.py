"""What each resource needs, given the state (pure; no API call).

A resource ordered (or quoted) with the same config digest is a no-op; with another digest
it is reordered (the old order stays). A record whose outcome is unknown blocks the resource
until it is reconciled or settled by a person. Resources in the state but not in the specs
are forgotten (nothing is cancelled).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from oneatlas_plan.planning.model import PreviousOrder
from oneatlas_plan.planning.orders import cover_address
from oneatlas_plan.state.model import ResourceRecord

UNSETTLED = frozenset({"pending", "unknown"})
HELD = frozenset({"ordered", "quoted"})


METADATA_ONLY = "metadata changed after ordering: applies to future orders only"
KEPT = "on_change: keep: the spec changed, the owned order stays as it is"
FORCED = "replacement forced with --replace"
DIFFERENT_PRODUCT = {
    "geometry": "the AOI geometry",
    "product": "the product (type or options)",
    "image": "the product (type or options)",
    "scenes": "the scenes per AOI",
}


@dataclass(frozen=True)
class Decision:
    action: str  # create | no-op | reorder | recheck | blocked | forget
    reason: str
    previous: PreviousOrder | None = None
    owned: tuple[str, ...] = ()  # recheck: the catalogue ids of the owned scenes
    forced: bool = False  # reorder asked with --replace

    @property
    def needs_resolution(self) -> bool:
        """Whether the resource must be searched (and, unless still satisfied, priced)."""
        return self.action in ("create", "reorder", "recheck")


def previous_order(record: ResourceRecord) -> PreviousOrder | None:
    current = record.current
    if current is None:
        return None
    return PreviousOrder(
        order_key=current.order_key,
        status=current.status,
        sales_order_id=current.sales_order_id,
        quotation_id=current.quotation_id,
        amount=current.amount,
        currency=current.currency,
    )


def decide(
    config_digest: str,
    record: ResourceRecord | None,
    *,
    digests: Mapping[str, str] | None = None,
    on_change: str = "replace",
    replace: bool = False,
) -> Decision:
    if record is None:
        return Decision("create", "new resource")
    previous = previous_order(record)
    if record.status in HELD:
        if replace:
            return Decision("reorder", FORCED, previous, forced=True)
        if record.config_digest == config_digest:
            return Decision("no-op", f"already {record.status}", previous)
        if on_change == "keep":
            return Decision("no-op", KEPT, previous)
        return _edited(record, digests or {}, previous)
    if record.status in UNSETTLED:
        key = previous.order_key if previous else "?"
        # reconcile records how (and when) it will settle this outcome
        settling = record.current.message if record.current is not None else None
        return Decision(
            "blocked",
            f"outcome of order {key} is unknown ({record.status}): Airbus showed no order "
            "with its customerReference when this plan was made (it is looked up again at "
            "every plan/apply); if you know the outcome, settle it with "
            f"`oneatlas-plan state resolve {record.address} --ordered ID | --not-ordered`"
            + (f"; {settling}" if settling else ""),
            previous,
        )
    message = ""
    if previous is not None and record.current is not None and record.current.message:
        message = f": {record.current.message}"
    return Decision("create", f"previous order {record.status}{message}", previous)


def decide_cover(
    config_digest: str,
    records: Sequence[ResourceRecord],
    *,
    digests: Mapping[str, str] | None = None,
    on_change: str = "replace",
    replace: bool = False,
) -> Decision:
    """A cover bought as several Airbus orders (one record per part, docs/plan-format.md):
    settled only when every part is; one part to buy again re-resolves the whole cover
    (the overlap check then keeps the parts already owned from being bought twice)."""
    if len(records) == 1:
        return decide(
            config_digest, records[0], digests=digests, on_change=on_change, replace=replace
        )
    parts = [
        (r.address, decide(config_digest, r, digests=digests, on_change=on_change, replace=replace))
        for r in records
    ]
    for wanted in ("blocked", "reorder", "create"):
        for address, decision in parts:
            if decision.action == wanted:
                return replace_reason(decision, f"{address}: {decision.reason}")
    if any(decision.action == "recheck" for _, decision in parts):
        first = next(d for _, d in parts if d.action == "recheck")
        owned = tuple(scene for _, d in parts for scene in d.owned)
        return Decision("recheck", first.reason, first.previous, owned=owned)
    first = parts[0][1]
    return replace_reason(first, f"{first.reason} ({len(parts)} Airbus orders)")


def replace_reason(decision: Decision, reason: str) -> Decision:
    return Decision(decision.action, reason, decision.previous, decision.owned, decision.forced)


def _edited(
    record: ResourceRecord, digests: Mapping[str, str], previous: PreviousOrder | None
) -> Decision:
    """A held resource whose spec changed: what the edit asks for, field class by class."""
    owned = record.current.digests if record.current is not None else {}
    if not owned:
        return Decision(
            "reorder",
            "the spec changed since it was ordered (the state does not say which fields: "
            "ordered by an older oneatlas-plan): a new order is needed",
            previous,
        )
    changed = sorted(k for k in digests if k in owned and owned[k] != digests[k])
    different = [k for k in changed if k in DIFFERENT_PRODUCT]
    if different:
        what = " and ".join(dict.fromkeys(DIFFERENT_PRODUCT[k] for k in different))
        return Decision("reorder", f"{what} changed: a different product is needed", previous)
    if "criteria" in changed:
        scenes = record.current.scenes if record.current is not None else []
        return Decision(
            "recheck",
            "search criteria changed",
            previous,
            owned=tuple(scene.id for scene in scenes),
        )
    return Decision("no-op", METADATA_ONLY, previous)


def forgotten(
    state_resources: Mapping[str, ResourceRecord], desired_addresses: Iterable[str]
) -> dict[str, Decision]:
    """Records of resources that left the specs (a part of a desired cover has not)."""
    desired = set(desired_addresses)
    return {
        address: _forget(record)
        for address, record in sorted(state_resources.items())
        if cover_address(address) not in desired
    }


def _forget(record: ResourceRecord) -> Decision:
    if record.status in UNSETTLED:
        return Decision(
            "blocked",
            "no longer in the specs, but the outcome of its order is unknown: it is "
            "reconciled first (or settle it with `oneatlas-plan state resolve`)",
            previous_order(record),
        )
    return Decision(
        "forget",
        "no longer in the specs: it leaves the state on apply (what it spent still counts); "
        "nothing is cancelled",
        previous_order(record),
    )

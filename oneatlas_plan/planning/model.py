"""The plan: a pure value, written as canonical JSON and reviewed before `apply`.

The file layout (dense lines, shared body parts) is ``planning/planfile.py``'s; the checksum is
over the plain canonical form of this model, whatever the layout.

Everything but ``meta`` is deterministic for the same specs, state and catalog, so two plans
are byte-identical apart from ``meta``. ``checksum`` covers everything but ``meta`` and
itself: `apply` refuses a plan whose checksum does not match (a hand-edited plan).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from oneatlas_plan import _canonical
from oneatlas_plan.state.model import Amount

FORMAT_VERSION = 3

Action = Literal["create", "no-op", "reorder", "forget", "blocked"]
ORDERING_ACTIONS: frozenset[str] = frozenset({"create", "reorder"})
# Products quoted first (POST /api/v1/quotations), bought only once the quotation is accepted:
# Pléiades Neo. The planner refuses a contract whose backendSource disagrees with the
# constellation, so these are exactly the orders on `neo` contracts.
QUOTED_CONSTELLATIONS: frozenset[str] = frozenset({"PNEO"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SceneSummary(_Model):
    """One catalogue scene chosen for a resource."""

    id: str = Field(description="Catalogue item id (used as catalogItemId).")
    archive_identifier: str = Field(description="Datastrip / archive id (DS_… or ACQ_…).")
    platform: str
    constellation: str
    acquisition_date: str
    cloud_cover: float | None
    incidence_angle: float | None
    coverage: float = Field(description="Fraction of the AOI this scene covers (0..1).")
    footprint: dict[str, Any] = Field(description="GeoJSON footprint of the scene.")


class Alternative(SceneSummary):
    """A scene that was not chosen, and why (``ranked by cloud_cover: 0.4 vs 2.1``)."""

    why: str = Field(description="The deciding difference, or what it missed by.")


class Candidates(_Model):
    """What the search found for an AOI and what the policy removed (for explanations)."""

    found: int = Field(description="Scenes intersecting the AOI in the date window.")
    eligible: int = Field(description="Scenes left after every criterion.")
    removed: dict[str, int] = Field(
        default_factory=dict, description="Criterion -> number of scenes it removed."
    )


class PreviousOrder(_Model):
    """The order already recorded in the state for a resource (no-op, reorder, forget)."""

    order_key: str
    status: str
    sales_order_id: str | None = None
    quotation_id: str | None = None
    amount: Amount | None = None
    currency: str | None = None


class Overlap(_Model):
    """The same scene, with the same product and options, already owned or planned over
    part of this resource's AOI."""

    scene: str = Field(description="Archive identifier (datastrip) of the scene.")
    address: str = Field(description="The resource that owns or plans it.")
    owner: Literal["state", "plan"]
    sales_order_id: str | None = None
    area_km2: float = Field(description="AOI ∩ other AOI ∩ scene footprint, geodesic.")
    fraction: float = Field(description="Share of this resource's AOI (0..1).")
    price_share: Amount | None = Field(
        default=None,
        description="The order's price × the overlap's share of its area; null when the "
        "order is not priced (a blocked double purchase).",
    )
    currency: str | None = None


class ResourcePlan(_Model):
    address: str = Field(description="spec.order.aoi, plus [i] when several scenes are chosen.")
    action: Action
    reason: str
    spec_file: str | None
    config_digest: str
    aoi_name: str
    aoi_geometry: dict[str, Any] | None
    aoi_area_km2: float | None
    scenes: list[SceneSummary] = Field(default_factory=list)
    coverage: float | None = Field(default=None, description="Union coverage of the scenes.")
    candidates: Candidates | None = None
    alternatives: list[Alternative] = Field(
        default_factory=list, description="Best-ranked eligible scenes not chosen (why not)."
    )
    near_misses: list[Alternative] = Field(
        default_factory=list, description="When nothing qualified: the closest scenes (why not)."
    )
    order_key: str | None = Field(default=None, description="Key of the order it belongs to.")
    previous: PreviousOrder | None = None
    digests: dict[str, str] = Field(
        default_factory=dict,
        description="Digest per field class (product, geometry, criteria, metadata): what an "
        "edit changed, compared with the state's record.",
    )
    overlaps: list[Overlap] = Field(
        default_factory=list,
        description="The same scene with the same options, owned or planned over an "
        "overlapping AOI.",
    )
    cover_overlap_km2: float | None = Field(
        default=None, description="Area the chosen scenes of a multi-scene cover share."
    )


class PriceSummary(_Model):
    currency: str
    amount: Amount
    requested_area_km2: float = Field(description="AOI ∩ footprints, geodesic.")
    billable_area_km2: float = Field(description="Area Airbus bills (minimum applied).")
    minimum_applied: bool


class OrderPlan(_Model):
    """One Airbus order (1..5 AOI/item pairs) with the exact body that will be sent."""

    key: str = Field(description="Idempotency key; part of customerReference.")
    action: Literal["create", "reorder", "blocked"]
    reason: str
    spec_file: str
    addresses: list[str]
    contract_id: str
    product_type_id: str
    constellation: str
    customer_reference: str
    body: dict[str, Any] = Field(description="Exact JSON body for /prices and /orders.")
    body_digest: str
    price: PriceSummary | None = None
    accept_quotations_up_to: Amount | None = None

    @property
    def needs_quotation(self) -> bool:
        """Submitted as a quotation request; nothing is bought until it is accepted."""
        return self.constellation in QUOTED_CONSTELLATIONS


class BudgetCheck(_Model):
    """One budget: what the state had committed before, what this plan adds, what is left."""

    scope: Literal["airbus_order", "order", "spec", "total"] = Field(
        description="airbus_order: one Airbus order (name = order key); order: one spec order "
        "(name = spec.order); spec: one spec; total: every order of the state."
    )
    name: str
    currency: str
    limit: Amount
    per: Literal["month", "quarter", "year"] | None = Field(
        default=None, description="Calendar window; None: every order ever recorded."
    )
    window_start: str | None = Field(default=None, description="First day of the window.")
    spent_before: Amount = Field(
        description="Committed in the state (ordered, accepted, pending, unknown) in the window."
    )
    planned: Amount = Field(description="What this plan would spend (blocked orders excluded).")
    left: Amount = Field(description="limit - spent_before - planned (negative: over).")
    ok: bool = Field(description="False when the budget blocked at least one order.")


class StateRef(_Model):
    lineage: str | None = Field(description="Lineage of the state the plan was made against.")
    serial: int


class PlanMeta(BaseModel):
    """Volatile facts (not covered by the checksum)."""

    model_config = ConfigDict(extra="allow")

    created_at: str
    tool_version: str
    host: str
    priced_at: dict[str, str] = Field(default_factory=dict)
    reused_prices: list[str] = Field(default_factory=list)
    requests: dict[str, int] = Field(default_factory=dict)


class Plan(_Model):
    format_version: int = FORMAT_VERSION
    endpoint: str
    contracts: list[str]
    spec_files: dict[str, str] = Field(description="Spec path -> sha256 of its bytes.")
    state: StateRef
    resources: list[ResourcePlan]
    orders: list[OrderPlan]
    totals: dict[str, Amount] = Field(description="Currency -> amount of orders to place.")
    budgets: list[BudgetCheck]
    checksum: str = ""
    meta: PlanMeta

    def body_for_checksum(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"meta", "checksum"})
        return data

    def compute_checksum(
        self, known: Mapping[str, tuple[ResourcePlan, bytes]] | None = None
    ) -> str:
        """``known``: address -> (a resource plan of this plan, its compact canonical JSON in
        UTF-8), made beforehand; the digest is the same as without them."""
        if not known:
            return "sha256:" + _canonical.digest(self.body_for_checksum())
        data = self.model_dump(mode="json", exclude={"meta", "checksum", "resources"})
        data["resources"] = None
        digest = hashlib.sha256(b"{")  # the compact form, a member at a time
        for n, key in enumerate(sorted(data)):
            digest.update(("," if n else "").encode() + _canonical.compact(key).encode() + b":")
            if key != "resources":
                digest.update(_canonical.compact(data[key]).encode())
                continue
            digest.update(b"[")
            for i, resource in enumerate(self.resources):
                ready = known.get(resource.address)
                text = ready[1] if ready is not None and ready[0] is resource else None
                if text is None:
                    text = _canonical.compact(resource.model_dump(mode="json")).encode()
                digest.update(b"," + text if i else text)
            digest.update(b"]")
        digest.update(b"}")
        return "sha256:" + digest.hexdigest()

    def sealed(self, known: Mapping[str, tuple[ResourcePlan, bytes]] | None = None) -> Plan:
        return self.model_copy(update={"checksum": self.compute_checksum(known)})

    def to_json(self) -> str:
        """The plan file's text (``planfile.encode_plan``)."""
        from oneatlas_plan.planning.planfile import encode_plan

        return encode_plan(self)

    @property
    def has_changes(self) -> bool:
        return any(r.action != "no-op" for r in self.resources)

    @property
    def will_change(self) -> bool:
        """Whether applying would buy, quote, accept or change the state (blocked and
        unsatisfied resources change nothing)."""
        return any(o.action in ORDERING_ACTIONS for o in self.orders) or any(
            r.action == "forget" for r in self.resources
        )

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for resource in self.resources:
            counts[resource.action] = counts.get(resource.action, 0) + 1
        return counts

"""Make a plan: decide per resource against the state, then resolve what needs ordering.

The only I/O goes through the ``OneAtlasClient`` handed in; a plan with nothing to resolve
never asks for a client, so re-planning an unchanged, fully applied spec set costs no request.
"""

from __future__ import annotations

import math
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from oneatlas_plan import __version__, _canonical, _testhooks
from oneatlas_plan.addresses import check_targets
from oneatlas_plan.errors import ApiError, OutcomeUnknownError, RateLimitedError
from oneatlas_plan.geodesy import geodesic_area_km2
from oneatlas_plan.planning import budget as budgets
from oneatlas_plan.planning import overlap
from oneatlas_plan.planning.actions import (
    Decision,
    decide,
    decide_cover,
    forgotten,
    previous_order,
)
from oneatlas_plan.planning.desired import DesiredResource, DesiredSet
from oneatlas_plan.planning.explain import why_not_chosen
from oneatlas_plan.planning.model import (
    QUOTED_CONSTELLATIONS,
    Alternative,
    BudgetCheck,
    Candidates,
    OrderPlan,
    Overlap,
    Plan,
    PlanMeta,
    PriceSummary,
    ResourcePlan,
    SceneSummary,
    StateRef,
)
from oneatlas_plan.planning.orders import (
    OptionNames,
    OrderDraft,
    ResolvedResource,
    build_orders,
    cover_address,
    pair_limit,
)
from oneatlas_plan.planning.selection import (
    Candidate,
    CandidateIndex,
    Selection,
    filter_candidates,
    forget_shapes,
    select,
)
from oneatlas_plan.state.model import State

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from oneatlas_plan.api.client import OneAtlasClient
    from oneatlas_plan.planning.contract import ContractCatalog

Event = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class PlanSettings:
    endpoint: str
    targets: tuple[str, ...] = ()
    # the plan last written at --out, for its young prices: read only once something must be
    # priced (a no-op re-plan never needs it)
    previous: Callable[[], Plan | None] | None = None
    price_ttl_seconds: float = 3600.0
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    replace: tuple[str, ...] = ()  # addresses (or prefixes) to re-buy whatever the state says
    allow_overlap: bool = False  # let double purchases through (reported, not blocked)


def _targeted(address: str, targets: Sequence[str]) -> bool:
    if not targets:
        return True
    return any(
        address == t or address.startswith(t + ".") or address.startswith(t + "[") for t in targets
    )


def _families(state: State) -> dict[str, list[str]]:
    """Resource address -> the state's addresses recorded for it (itself, or the parts of a
    cover split into several Airbus orders)."""
    families: dict[str, list[str]] = {}
    for address in sorted(state.resources):
        families.setdefault(cover_address(address), []).append(address)
    return families


def _decide(
    resource: DesiredResource, state: State, family: Sequence[str], settings: PlanSettings
) -> Decision:
    replace = bool(settings.replace) and _targeted(resource.address, settings.replace)
    if not family:
        return decide(resource.config_digest, None, replace=replace)
    return decide_cover(
        resource.config_digest,
        [state.resources[a] for a in family],
        digests=resource.digests,
        on_change=resource.on_change,
        replace=replace,
    )


@dataclass
class _Outcome:
    """What resolving one resource produced."""

    desired: DesiredResource
    decision: Decision
    selection: Selection | None = None
    blocked: str | None = None
    projection: str | None = None
    option_names: OptionNames = field(default_factory=OptionNames)
    overlaps: list[overlap.Found] = field(default_factory=list)
    duplicate: bool = False  # blocked because of its overlaps
    cover_overlap_km2: float | None = None


def make_plan(
    desired: DesiredSet,
    state: State,
    client_factory: Callable[[], OneAtlasClient],
    settings: PlanSettings,
    on_event: Event | None = None,
) -> Plan:
    emit = on_event or (lambda stage, done, total: None)
    known = [r.address for r in desired.resources] + list(state.resources)
    check_targets(settings.targets, known, what="--target")
    resources = [r for r in desired.resources if _targeted(r.address, settings.targets)]
    check_targets(settings.replace, [r.address for r in resources], what="--replace")
    families = _families(state)
    outcomes = {
        r.address: _Outcome(r, _decide(r, state, families.get(r.address, []), settings))
        for r in resources
    }
    gone = {
        address: decision
        for address, decision in forgotten(
            state.resources, [r.address for r in desired.resources]
        ).items()
        if _targeted(address, settings.targets)
    }
    to_resolve = [o for o in outcomes.values() if o.decision.needs_resolution]
    drafts: list[OrderDraft] = []
    client: OneAtlasClient | None = None
    pricing: _Pricing | None = None
    prepared: dict[str, tuple[ResourcePlan, bytes]] = {}
    created_at = settings.now().isoformat(timespec="seconds")
    if to_resolve:
        client = client_factory()
        drafts, pricing, prepared = _resolve(client, to_resolve, state, settings, emit)

    def meta() -> PlanMeta:
        """Made last: an order priced while budgets were settled is in it."""
        keys = [d.key for d in drafts]
        return PlanMeta(
            created_at=created_at,
            tool_version=__version__,
            host=socket.gethostname(),
            priced_at={k: pricing.priced_at[k] for k in keys if k in pricing.priced_at}
            if pricing is not None
            else {},
            reused_prices=[k for k in keys if k in pricing.reused] if pricing is not None else [],
            requests=dict(client.stats.as_dict()["requests"]) if client is not None else {},
        )

    return _assemble(
        desired,
        state,
        settings,
        outcomes,
        gone,
        drafts,
        pricing.prices if pricing is not None else {},
        meta,
        price_late=pricing.price if pricing is not None else None,
        prepared=prepared,
    )


def _resolve(
    client: OneAtlasClient,
    outcomes: Sequence[_Outcome],
    state: State,
    settings: PlanSettings,
    emit: Event,
) -> tuple[list[OrderDraft], _Pricing, dict[str, tuple[ResourcePlan, bytes]]]:
    """Search, select, check and price, as a pipeline (:mod:`~oneatlas_plan.planning.pipeline`):
    each resource's order is priced as soon as it is final, while the others are still being
    searched, selected and checked. The orders, prices and their order are those of doing
    each step for every resource in turn. A double purchase gets its own order, not priced:
    the plan will not buy it, and a price costs an ordering call (1 s at Airbus)."""
    # Imported here: a plan with nothing to resolve (a no-op re-plan) needs none of them.
    from oneatlas_plan.planning.contract import ContractCatalog
    from oneatlas_plan.planning.pipeline import (
        AddressFrontier,
        OrderStream,
        Pricer,
        in_build_order,
    )

    emit = _serialised(emit)
    catalog = ContractCatalog(client)
    frontier = AddressFrontier((o.desired.address, o) for o in outcomes)
    # A cover of no scene (coverage min 0) would join a full order: wait for the next one.
    stream = OrderStream(closes_when_full=all(o.desired.policy.min_coverage > 0 for o in outcomes))
    owned = overlap.OwnedIndex(overlap.owned_in_state(state))
    earlier_keys = _keys_by_family(state)
    pricing = _Pricing(client, settings)
    alone: dict[str, list[OrderDraft]] = {}  # double purchases: an order each, not priced
    orders: list[OrderDraft] = []

    def passed(outcome: _Outcome) -> None:
        """Everything before ``outcome`` has passed: check its overlaps, form its order(s)."""
        if outcome.decision.action == "no-op" or outcome.blocked is not None:
            return
        _check_overlaps(outcome, owned, settings.allow_overlap)
        if outcome.duplicate:
            alone[outcome.desired.address] = build_orders([_resolved(outcome, earlier_keys)])
            return
        stream.add(_resolved(outcome, earlier_keys))

    # How many orders to expect, for the progress shown before they are all known.
    expected = math.ceil(sum(1 / pair_limit(o.desired.template) for o in outcomes))
    with (
        _responsive_threads(),
        Pricer(pricing.price, lambda done, known: emit("price", done, max(known, expected)))
        as pricer,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="oneatlas-contract") as pool,
    ):
        # The contract look-ups go to the ordering host too: made while the searches run, in
        # the order the resources need them; a check waits for its own look-up only (or makes
        # it), so the first orders are priced while the other look-ups are still to come.
        halt = threading.Event()  # on an error here, no more look-ups than the one in flight
        warming = pool.submit(_warm_catalog, catalog, outcomes, emit, halt)
        try:
            for selected in _select_scenes(client, outcomes, emit):
                for outcome in selected:
                    if outcome.decision.action != "no-op":
                        _check_contract(catalog, outcome)
                    for released in frontier.ready(outcome.desired.address):
                        passed(released)
                    drafts = stream.release(frontier.horizon)
                    orders += drafts
                    pricer.put(drafts)
                    if pricer.queued:
                        _testhooks.pause("plan-queued")
            warming.result()
        finally:
            halt.set()
        drafts = stream.release(None)
        orders += drafts
        pricer.put(drafts)
        ready = [o.desired.address for o in outcomes if o.desired.address in alone]
        orders = in_build_order(orders)  # budgets are spent in this order
        everything = orders + [draft for address in ready for draft in alone[address]]
        # the main thread has nothing left to do while the last orders are priced
        prepared = _prepare(outcomes, everything)
    emit("price", len(orders), len(orders))
    return everything, pricing, prepared


@contextmanager
def _responsive_threads() -> Iterator[None]:
    """While this thread selects scenes, the pricing thread waking up (its interval over, its
    answer in) gets the interpreter within 0.5 ms rather than Python's default 5 ms, which is
    a tenth of the sandbox's ordering interval, paid twice per price."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, 0.0005))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _serialised(emit: Event) -> Event:
    """``emit`` callable from the pricing thread and this one (one event at a time)."""
    lock = threading.Lock()

    def locked(stage: str, done: int, total: int) -> None:
        with lock:
            emit(stage, done, total)

    return locked


def _select_scenes(
    client: OneAtlasClient, outcomes: Sequence[_Outcome], emit: Event
) -> Iterator[list[_Outcome]]:
    """The outcomes with their selection made, a search at a time (in the order of their
    first address, so the first resources are ready first)."""
    from shapely.geometry import shape

    from oneatlas_plan.planning.search import SearchNeed, merge_searches, stream_searches

    needs = []
    aois: dict[str, BaseGeometry] = {}
    first: dict[str, str] = {}
    for outcome in outcomes:
        resource = outcome.desired
        first[resource.aoi_key] = min(first.get(resource.aoi_key, resource.address),
                                      resource.address)
        if resource.aoi_key in aois:
            continue
        aoi = aois[resource.aoi_key] = shape(resource.aoi_geometry)
        needs.append(SearchNeed(key=resource.aoi_key, query=resource.query, bounds=aoi.bounds))
    merged = sorted(merge_searches(needs), key=lambda m: min(first[str(k)] for k in m.keys))
    by_key: dict[str, list[_Outcome]] = {}
    for outcome in sorted(outcomes, key=lambda o: (o.desired.aoi_key, o.desired.index)):
        by_key.setdefault(outcome.desired.aoi_key, []).append(outcome)
    emit("search", 0, len(needs))
    done = 0
    used: dict[str, frozenset[str]] = {}
    workers = client.limits.search_concurrency
    for search, candidates in stream_searches(merged, client.search_scenes, workers):
        # One spatial index per merged search: each AOI meets only the scenes that touch it.
        index = CandidateIndex(candidates)
        done += len(search.keys)
        emit("search", done, len(needs))
        chosen: set[str] = set()
        for key in sorted(search.keys, key=lambda k: first[str(k)]):
            aoi = aois[str(key)]
            touching = index.touching(aoi)
            for outcome in by_key[str(key)]:
                _select_one(outcome, aoi, touching, used)
                if outcome.selection is not None:
                    chosen |= {c.id for c, _ in outcome.selection.scenes}
            yield sorted(by_key[str(key)], key=lambda o: o.desired.address)
        # Memory follows what is selected, not every feature seen.
        forget_shapes(c.id for c in candidates if c.id not in chosen)


def _select_one(
    outcome: _Outcome,
    aoi: BaseGeometry,
    candidates: list[Candidate],
    used: dict[str, frozenset[str]],
) -> None:
    resource = outcome.desired
    exclude = used.get(resource.aoi_key, frozenset())
    if outcome.decision.action == "recheck":
        problem = still_satisfied(aoi, candidates, outcome.decision.owned, resource)
        decision = outcome.decision
        if problem is None:
            outcome.decision = Decision(
                "no-op",
                f"{decision.reason}; the owned scene(s) still satisfy them: nothing to buy",
                decision.previous,
            )
            used[resource.aoi_key] = exclude | set(decision.owned)
            return
        outcome.decision = Decision(
            "reorder",
            f"{decision.reason} and the owned scene(s) no longer satisfy them ({problem}): "
            "a new order is needed",
            decision.previous,
        )
    selection = select(aoi, candidates, resource.criteria, resource.policy, exclude=exclude)
    outcome.selection = selection
    if not selection.satisfied:
        outcome.blocked = f"unsatisfied: {selection.unsatisfied}"
        return
    if len(selection.scenes) > 1:
        outcome.cover_overlap_km2 = round(
            overlap.cover_overlap_km2(aoi, [c for c, _ in selection.scenes]), 3
        )
    used[resource.aoi_key] = exclude | {c.id for c, _ in selection.scenes}


def still_satisfied(
    aoi: BaseGeometry,
    candidates: Sequence[Candidate],
    owned: Sequence[str],
    resource: DesiredResource,
) -> str | None:
    """Why the owned scenes no longer satisfy the edited criteria and coverage (None: they do)."""
    by_id = {c.id: c for c in candidates}
    missing = [scene for scene in owned if scene not in by_id]
    if not owned or missing:
        return f"scene {', '.join(missing) or '?'} is outside the edited search"
    scenes = [by_id[scene] for scene in owned]
    _, removed = filter_candidates(scenes, resource.criteria)
    if removed:
        return "removed by " + ", ".join(sorted(removed))
    if len(scenes) > resource.policy.max_scenes:
        return f"{len(scenes)} scenes, above max_scenes {resource.policy.max_scenes}"
    kept = select(aoi, scenes, resource.criteria, resource.policy)
    if not kept.satisfied:
        return kept.unsatisfied
    return None


def _find_overlaps(
    outcomes: Sequence[_Outcome],
    state: State,
    allow_all: bool,
    not_bought: frozenset[str] = frozenset(),
) -> None:
    """Attach to each purchase the same scenes owned or planned over its AOI; block it unless
    overlaps are allowed. Earlier resources (address order) keep their purchase, unless they
    are in ``not_bought`` (blocked by a budget)."""
    owned = overlap.OwnedIndex(overlap.owned_in_state(state))
    for outcome in sorted(outcomes, key=lambda o: o.desired.address):
        if outcome.blocked is not None or outcome.selection is None:
            continue
        _check_overlaps(outcome, owned, allow_all, not_bought)


def _check_overlaps(
    outcome: _Outcome,
    owned: overlap.OwnedIndex,
    allow_all: bool,
    not_bought: frozenset[str] = frozenset(),
) -> None:
    """:func:`_find_overlaps` for one outcome, every resource before it being in ``owned``
    (its own scenes are added to it unless it is a double purchase)."""
    from shapely.geometry import shape

    if outcome.selection is None:
        raise ValueError(f"{outcome.desired.address}: no selection to check")
    if outcome.desired.address in not_bought:
        outcome.overlaps, outcome.duplicate = [], False
        return
    resource = outcome.desired
    scenes = [c for c, _ in outcome.selection.scenes]
    product = overlap.image_digest(resource.digests) or ""
    outcome.overlaps = overlap.overlaps(
        shape(resource.aoi_geometry),
        resource.aoi_area_km2,
        product,
        scenes,
        owned.among(scenes),
        skip_address=resource.address if outcome.decision.forced else None,
    )
    allowed = allow_all or resource.allow_overlap
    outcome.duplicate = bool(outcome.overlaps) and not allowed
    if not outcome.duplicate:
        owned.extend(overlap.planned(resource.address, product, resource.aoi_geometry, scenes))


def _warm_catalog(
    catalog: ContractCatalog, outcomes: Sequence[_Outcome], emit: Event, halt: threading.Event
) -> None:
    """Fetch what :func:`_check_contract` will need, once per (contract, product, UTM zone),
    in address order, until ``halt`` is set."""
    from oneatlas_plan.planning.contract import utm_zone

    needs: dict[tuple[str, str, tuple[int, bool]], DesiredResource] = {}
    for outcome in sorted(outcomes, key=lambda o: o.desired.address):
        resource = outcome.desired
        template = resource.template
        key = (template.contract_id, template.product_type_id, utm_zone(resource.aoi_geometry))
        needs.setdefault(key, resource)
    emit("contracts", 0, len(needs))
    for done, resource in enumerate(needs.values(), start=1):
        if halt.is_set():
            return
        catalog.warm(resource.template, resource.aoi_geometry)
        emit("contracts", done, len(needs))


def _check_contract(catalog: ContractCatalog, outcome: _Outcome) -> None:
    if outcome.blocked is not None:
        return
    resource = outcome.desired
    problem, projection, names = catalog.check(
        resource.template, resource.aoi_geometry, resource.projection, resource.dem
    )
    if problem is not None:
        outcome.blocked = problem
    outcome.projection = projection
    outcome.option_names = names


def _resolved(outcome: _Outcome, earlier_keys: Mapping[str, tuple[str, ...]]) -> ResolvedResource:
    if outcome.selection is None:
        raise ValueError(f"{outcome.desired.address}: no selection to order")
    resource = outcome.desired
    return ResolvedResource(
        address=resource.address,
        config_digest=resource.config_digest,
        aoi_name=resource.aoi_name,
        aoi_geometry=resource.aoi_geometry,
        template=resource.template,
        scenes=tuple(c for c, _ in outcome.selection.scenes),
        projection=outcome.projection,
        dem=resource.dem,
        option_names=outcome.option_names,
        earlier_keys=earlier_keys.get(resource.address, ()),
    )


def _keys_by_family(state: State) -> dict[str, tuple[str, ...]]:
    """Address -> keys of the orders placed for it or for any part of its split cover."""
    found: dict[str, set[str]] = {}
    for address, keys in state.placed_keys().items():
        found.setdefault(cover_address(address), set()).update(keys)
    return {address: tuple(sorted(keys)) for address, keys in found.items()}


def _previous_prices(previous: Plan | None) -> dict[str, tuple[PriceSummary, str]]:
    if previous is None:
        return {}
    found = {}
    for order in previous.orders:
        when = previous.meta.priced_at.get(order.key)
        if order.price is not None and when:
            found[order.body_digest] = (order.price, when)
    return found


NOT_PRICED_DUPLICATE = (
    "not priced: blocked as a double purchase; plan with --allow-overlap "
    "(or allow_overlap: true) to price and buy it"
)


class _Pricing:
    """Prices one order at a time (in the pricing thread); reuses young prices of identical
    bodies from the previous plan."""

    def __init__(self, client: OneAtlasClient, settings: PlanSettings) -> None:
        self._client = client
        self._previous = settings.previous
        self._reusable: dict[str, tuple[PriceSummary, str]] | None = None
        self._ttl = settings.price_ttl_seconds
        self._now = settings.now()
        self.prices: dict[str, PriceSummary | str] = {}
        self.reused: set[str] = set()
        self.priced_at: dict[str, str] = {}

    def price(self, draft: OrderDraft) -> None:
        digest = draft.body_digest
        if self._reusable is None:
            self._reusable = _previous_prices(self._previous() if self._previous else None)
        cached = self._reusable.get(digest)
        if cached is not None and _young(cached[1], self._now, self._ttl):
            self.prices[draft.key], self.priced_at[draft.key] = cached
            self.reused.add(draft.key)
            return
        try:
            response = self._client.price(draft.body)
        except (OutcomeUnknownError, RateLimitedError):
            raise
        except ApiError as error:
            self.prices[draft.key] = f"price refused by Airbus: {error}"
            return
        self.prices[draft.key] = _summary(draft, response)
        self.priced_at[draft.key] = self._now.isoformat(timespec="seconds")


def _young(when: str, now: datetime, ttl: float) -> bool:
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return 0 <= (now - moment).total_seconds() <= ttl


def _summary(draft: OrderDraft, response: Any) -> PriceSummary:
    from shapely.geometry import shape

    requested = 0.0
    for resource in draft.resources:
        aoi = shape(resource.aoi_geometry)
        for scene in resource.scenes:
            requested += geodesic_area_km2(aoi.intersection(scene.footprint_shape))
    areas = [pt.area_km2 for pt in response.product_types if pt.area_km2 is not None]
    billable = float(sum(areas)) if areas else requested
    return PriceSummary(
        currency=response.currency or "EUR",
        amount=response.total_amount.quantize(Decimal("0.01")),
        requested_area_km2=round(requested, 2),
        billable_area_km2=round(billable, 2),
        minimum_applied=billable > requested + 0.01,
    )


def _assemble(
    desired: DesiredSet,
    state: State,
    settings: PlanSettings,
    outcomes: dict[str, _Outcome],
    gone: dict[str, Decision],
    drafts: Sequence[OrderDraft],
    prices: dict[str, PriceSummary | str],
    meta: Callable[[], PlanMeta],
    *,
    price_late: Callable[[OrderDraft], None] | None = None,
    prepared: Mapping[str, tuple[ResourcePlan, bytes]] | None = None,
) -> Plan:
    prepared = prepared or {}
    by_address = _drafts_by_address(drafts)
    parts = _parts_by_cover(drafts)

    def outcome_of(address: str) -> _Outcome:
        return outcomes[cover_address(address)]

    accept_up_to = {
        draft.key: _accept_up_to([outcome_of(a).desired for a in draft.addresses])
        for draft in drafts
    }
    budget_result = _settle_overlaps(
        desired, state, settings, outcomes, drafts, prices, accept_up_to, price_late
    )
    shares = {
        address: _overlap_records(outcome_of(address), prices.get(draft.key), draft)
        for address, draft in by_address.items()
    }
    duplicates = {
        draft.key: _duplicate_reason(outcome_of(draft.addresses[0]), shares[draft.addresses[0]])
        for draft in drafts
        if outcome_of(draft.addresses[0]).duplicate
    }
    order_plans = [
        _order_plan(
            draft,
            prices.get(draft.key),
            duplicates.get(draft.key) or budget_result.blocked.get(draft.key),
            reorder=any(outcome_of(a).decision.action == "reorder" for a in draft.addresses),
            accept_up_to=accept_up_to[draft.key],
        )
        for draft in drafts
    ]
    order_by_key = {o.key: o for o in order_plans}
    resource_plans = []
    known: dict[str, tuple[ResourcePlan, bytes]] = {}  # prepared plans still true, and their text
    for outcome, key, its_order, piece in _pieces(outcomes.values(), drafts):
        decided = _resource_action(outcome, order_by_key[its_order.key] if its_order else None)
        records = shares.get(key, [])
        ready = prepared.get(key)
        if ready is not None and (ready[0].action, ready[0].reason) == decided and (
            ready[0].overlaps == records
        ):
            known[key] = ready
            resource_plans.append(ready[0])
        else:
            resource_plans.append(_resource_plan(outcome, its_order, decided, records, piece))
    superseded = _superseded(state, parts, order_by_key, by_address)
    resource_plans += [
        ResourcePlan(
            address=address,
            action="blocked" if decision.action == "blocked" else "forget",
            reason=decision.reason,
            spec_file=state.resources[address].spec_file,
            config_digest=state.resources[address].config_digest,
            aoi_name=cover_address(address).rsplit(".", 1)[-1],
            aoi_geometry=None,
            aoi_area_km2=None,
            previous=decision.previous,
        )
        for address, decision in (gone | superseded).items()
    ]
    resource_plans.sort(key=lambda r: r.address)
    totals: dict[str, Decimal] = {}
    for order in order_plans:
        if order.action != "blocked" and order.price is not None:
            currency = order.price.currency
            totals[currency] = totals.get(currency, Decimal(0)) + order.price.amount
    contracts = sorted({r.template.contract_id for r in desired.resources})
    plan = Plan(
        endpoint=settings.endpoint,
        contracts=contracts,
        spec_files=dict(sorted(desired.spec_files.items())),
        state=StateRef(lineage=state.lineage if state.serial else None, serial=state.serial),
        resources=resource_plans,
        orders=sorted(order_plans, key=lambda o: o.addresses[0]),
        totals=dict(sorted(totals.items())),
        budgets=budget_result.checks,
        meta=meta(),
    )
    return plan.sealed(known)


def _superseded(
    state: State,
    parts: dict[str, list[ResolvedResource]],
    orders: dict[str, OrderPlan],
    by_address: dict[str, OrderDraft],
) -> dict[str, Decision]:
    """Records of a cover that a new purchase splits differently (the whole cover where it
    is now split, parts it no longer has): they leave the state once the new orders are
    placed; nothing is cancelled."""
    found: dict[str, Decision] = {}
    for address, new_parts in parts.items():
        kept = {p.address for p in new_parts}
        buying = any(orders[by_address[a].key].action != "blocked" for a in kept)
        for old in sorted(state.resources):
            if cover_address(old) == address and old not in kept and buying:
                found[old] = Decision(
                    "forget",
                    f"superseded by the new order(s) of {address}: it leaves the state on "
                    "apply; nothing is cancelled",
                    previous_order(state.resources[old]),
                )
    return found


def _settle_overlaps(
    desired: DesiredSet,
    state: State,
    settings: PlanSettings,
    outcomes: dict[str, _Outcome],
    drafts: Sequence[OrderDraft],
    prices: dict[str, PriceSummary | str],
    accept_up_to: dict[str, Decimal | None],
    price_late: Callable[[OrderDraft], None] | None = None,
) -> budgets.BudgetResult:
    """Budgets of the orders that are not double purchases; a resource that a budget keeps
    from buying does not make a later one a double purchase (checked again without it: its
    order, not priced while it was a double purchase, is priced then with ``price_late``).
    A cover split into several orders is bought whole or not at all: when one of its orders
    is blocked, the others are withheld and the budgets checked again without them."""
    not_bought: frozenset[str] = frozenset()
    withheld: dict[str, str] = {}
    per_order_checks: dict[str, BudgetCheck] = {}  # a withheld order's own check stays shown
    while True:
        candidates = [
            d
            for d in drafts
            if not any(outcomes[cover_address(a)].duplicate for a in d.addresses)
        ]
        for draft in candidates:
            if draft.key not in prices and price_late is not None:
                price_late(draft)
        unpriced = {
            d.key: "not priced" if prices.get(d.key) is None else str(prices[d.key])
            for d in candidates
            if not isinstance(prices.get(d.key), PriceSummary)
        }
        withheld |= _whole_covers(candidates, unpriced)
        buying = [d for d in candidates if d.key not in withheld]
        result = _budgets(desired, state, settings, buying, prices, accept_up_to)
        for check in result.checks:
            if check.scope == "airbus_order":
                per_order_checks[check.name] = check
        more = _whole_covers(buying, result.blocked)
        if any(key not in result.blocked for key in more):
            withheld |= more
            continue
        shown = {(c.scope, c.name) for c in result.checks}
        kept = [
            c
            for k, c in per_order_checks.items()
            if k in withheld and ("airbus_order", k) not in shown
        ]
        result = budgets.BudgetResult(
            blocked=result.blocked | withheld, checks=[*result.checks, *kept]
        )
        blocked = (
            frozenset(
                cover_address(a) for d in drafts if d.key in result.blocked for a in d.addresses
            )
            | not_bought
        )
        if blocked == not_bought:
            return result
        not_bought = blocked
        resolving = [o for o in outcomes.values() if o.selection is not None]
        _find_overlaps(resolving, state, settings.allow_overlap, not_bought)


def _whole_covers(drafts: Sequence[OrderDraft], blocked: dict[str, str]) -> dict[str, str]:
    """The orders holding a part of a split cover one of whose orders is blocked: that one
    with its reason, the others as kept from being bought whole (key -> reason)."""
    split = {
        cover_address(a): reason
        for d in drafts
        if (reason := blocked.get(d.key)) is not None
        for a in d.addresses
        if cover_address(a) != a
    }
    found: dict[str, str] = {}
    for draft in drafts:
        if draft.key in blocked:
            if any(cover_address(a) in split for a in draft.addresses):
                found[draft.key] = blocked[draft.key]
            continue
        cover = next((c for a in draft.addresses if (c := cover_address(a)) in split), None)
        if cover is not None:
            found[draft.key] = f"part of {cover}, bought whole or not at all: {split[cover]}"
    return found


def _overlap_records(
    outcome: _Outcome, price: PriceSummary | str | None, draft: OrderDraft
) -> list[Overlap]:
    """The outcome's overlaps with the share of its order's price they stand for."""
    records = []
    requested = price.requested_area_km2 if isinstance(price, PriceSummary) else 0.0
    for found in outcome.overlaps:
        share = None
        if isinstance(price, PriceSummary) and requested > 0:
            ratio = Decimal(str(min(1.0, found.area_km2 / requested)))
            share = (price.amount * ratio).quantize(Decimal("0.01"))
        records.append(
            Overlap(
                scene=found.owned.scene,
                address=found.owned.address,
                owner=found.owned.owner,  # type: ignore[arg-type]
                sales_order_id=found.owned.sales_order_id,
                area_km2=round(found.area_km2, 3),
                fraction=round(found.fraction, 4),
                price_share=share,
                currency=price.currency if isinstance(price, PriceSummary) else None,
            )
        )
    return records


def _duplicate_reason(outcome: _Outcome, records: Sequence[Overlap]) -> str:
    """Why a double purchase is blocked (``records``: its overlaps with their price shares)."""
    shares = [_share_text(o) for o in records]
    return f"{overlap.describe(outcome.overlaps, shares)}; {NOT_PRICED_DUPLICATE}"


def _share_text(record: Overlap) -> str:
    if record.price_share is None or record.currency is None:
        return ""
    return budgets.money(record.price_share, record.currency)


def _budgets(
    desired: DesiredSet,
    state: State,
    settings: PlanSettings,
    drafts: Sequence[OrderDraft],
    prices: dict[str, PriceSummary | str],
    accept_up_to: dict[str, Decimal | None],
) -> budgets.BudgetResult:
    priced = []
    for draft in drafts:
        price = prices.get(draft.key)
        if isinstance(price, PriceSummary):
            threshold = accept_up_to.get(draft.key)
            spends = draft.template.constellation not in QUOTED_CONSTELLATIONS or (
                budgets.within_threshold(price.amount, price.currency, threshold)
            )
            priced.append(
                budgets.PricedOrder(
                    key=draft.key,
                    addresses=tuple(draft.addresses),
                    amount=price.amount,
                    currency=price.currency,
                    spends=spends,
                )
            )
    planned_specs = {r.spec_name for r in desired.resources}
    limits = desired.limits
    scoped = budgets.Limits(
        airbus_order=limits.airbus_order,
        order={k: v for k, v in limits.order.items() if budgets.spec_of(k) in planned_specs},
        spec={k: v for k, v in limits.spec.items() if k in planned_specs},
        total=limits.total,
    )
    today = settings.now().astimezone(UTC).date()
    return budgets.check_budgets(priced, scoped, budgets.committed(state), today)


def _order_plan(
    draft: OrderDraft,
    price: PriceSummary | str | None,
    blocked_reason: str | None,
    *,
    reorder: bool,
    accept_up_to: Decimal | None = None,
) -> OrderPlan:
    action, reason = ("reorder", "a spec changed") if reorder else ("create", "new order")
    notes = sorted({r.option_names.note for r in draft.resources if r.option_names.note})
    if notes:
        reason = f"{reason} ({'; '.join(notes)})"
    summary = price if isinstance(price, PriceSummary) else None
    if isinstance(price, str):
        action, reason = "blocked", price
    elif blocked_reason is not None:  # a double purchase has a reason and no price
        action, reason = "blocked", blocked_reason
    elif price is None:
        action, reason = "blocked", "not priced"
    first = draft.resources[0]
    return OrderPlan(
        key=draft.key,
        action=action,  # type: ignore[arg-type]
        reason=reason,
        spec_file=first.template.spec_file,
        addresses=draft.addresses,
        contract_id=draft.template.contract_id,
        product_type_id=draft.template.product_type_id,
        constellation=draft.template.constellation,
        customer_reference=draft.request.customer_reference,
        body=draft.body,
        body_digest=draft.body_digest,
        price=summary,
        accept_quotations_up_to=accept_up_to,
    )


def _accept_up_to(resources: Sequence[DesiredResource]) -> Decimal | None:
    """The quotation auto-acceptance threshold of an order: the lowest of its resources',
    None (always ask a person) when one of them has none."""
    limits = [r.accept_quotations_up_to for r in resources]
    if not limits or any(limit is None for limit in limits):
        return None
    return min(limit for limit in limits if limit is not None)


def _drafts_by_address(drafts: Sequence[OrderDraft]) -> dict[str, OrderDraft]:
    return {r.address: d for d in drafts for r in d.resources}


def _parts_by_cover(drafts: Sequence[OrderDraft]) -> dict[str, list[ResolvedResource]]:
    """Cover address -> its parts, in order (one part: the resource itself)."""
    parts: dict[str, list[ResolvedResource]] = {}
    for draft in drafts:
        for part in draft.resources:
            parts.setdefault(cover_address(part.address), []).append(part)
    return parts


def _pieces(
    outcomes: Iterable[_Outcome], drafts: Sequence[OrderDraft]
) -> Iterator[tuple[_Outcome, str, OrderDraft | None, ResolvedResource | None]]:
    """(outcome, address, its order, the part) of each resource plan: one per resource, or
    one per part of a cover split into several orders."""
    by_address = _drafts_by_address(drafts)
    parts = _parts_by_cover(drafts)
    for outcome in outcomes:
        address = outcome.desired.address
        own: list[ResolvedResource | None] = [*parts.get(address, [])] or [None]
        for piece in own:
            key = piece.address if piece is not None else address
            yield outcome, key, by_address.get(key), piece


def _prepare(
    outcomes: Iterable[_Outcome], drafts: Sequence[OrderDraft]
) -> dict[str, tuple[ResourcePlan, bytes]]:
    """Each resource plan as it will be unless a budget blocks its order or a price gives its
    overlaps a share (:func:`_assemble` checks), with its compact canonical JSON (UTF-8) for
    the plan's checksum: made while the last orders are priced rather than after them."""
    found = {}
    for outcome, key, draft, piece in _pieces(outcomes, drafts):
        records = [] if draft is None else _overlap_records(outcome, None, draft)
        decided = _resource_action(outcome, None)
        if outcome.duplicate and draft is not None:
            decided = ("blocked", _duplicate_reason(outcome, records))
        plan = _resource_plan(outcome, draft, decided, records, piece)
        found[key] = (plan, _canonical.compact(plan.model_dump(mode="json")).encode())
    return found


def _resource_action(outcome: _Outcome, order: OrderPlan | None) -> tuple[str, str]:
    if outcome.blocked is not None:
        return "blocked", outcome.blocked
    if order is not None and order.action == "blocked":
        return "blocked", order.reason
    return outcome.decision.action, outcome.decision.reason


def _resource_plan(
    outcome: _Outcome,
    draft: OrderDraft | None,
    decided: tuple[str, str],
    overlaps: list[Overlap],
    part: ResolvedResource | None = None,
) -> ResourcePlan:
    """The plan of one resource, or of one part of a cover split into several orders (its
    own address and scenes; the cover's coverage and alternatives)."""
    resource = outcome.desired
    action, reason = decided
    selection = outcome.selection
    scenes = [] if selection is None else [_scene(c, coverage) for c, coverage in selection.scenes]
    if part is not None and part.address != resource.address:
        ids = {c.id for c in part.scenes}
        scenes = [s for s in scenes if s.id in ids]
    return ResourcePlan(
        address=part.address if part is not None else resource.address,
        action=action,  # type: ignore[arg-type]
        reason=reason,
        spec_file=resource.spec_file,
        config_digest=resource.config_digest,
        aoi_name=resource.aoi_name,
        aoi_geometry=resource.aoi_geometry,
        aoi_area_km2=round(resource.aoi_area_km2, 3),
        scenes=scenes,
        coverage=None if selection is None or not scenes else round(selection.coverage, 4),
        candidates=None
        if selection is None
        else Candidates(
            found=selection.found, eligible=selection.eligible, removed=selection.removed
        ),
        alternatives=_alternatives(outcome),
        near_misses=[]
        if selection is None
        else [_alternative(c, 0.0, why) for c, why in selection.near_misses],
        order_key=draft.key if draft is not None else None,
        previous=outcome.decision.previous,
        digests=dict(resource.digests),
        overlaps=overlaps,
        cover_overlap_km2=outcome.cover_overlap_km2,
    )


def _alternatives(outcome: _Outcome) -> list[Alternative]:
    selection = outcome.selection
    if selection is None or not selection.scenes:
        return []
    policy = outcome.desired.policy
    return [
        _alternative(c, coverage, why_not_chosen(selection, c, coverage, policy))
        for c, coverage in selection.alternatives
    ]


def _alternative(candidate: Candidate, coverage: float, why: str) -> Alternative:
    return Alternative(**dict(_scene(candidate, coverage)), why=why)


def _scene(candidate: Candidate, coverage: float) -> SceneSummary:
    return SceneSummary(
        id=candidate.id,
        archive_identifier=candidate.archive_identifier,
        platform=candidate.platform,
        constellation=candidate.constellation,
        acquisition_date=candidate.acquisition_date,
        cloud_cover=candidate.cloud_cover,
        incidence_angle=candidate.incidence_angle,
        coverage=round(coverage, 4),
        footprint=candidate.footprint,
    )

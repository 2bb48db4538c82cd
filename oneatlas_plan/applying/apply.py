"""Apply a plan: write-ahead, never-retried order submission, every outcome recorded.

For each order, in plan order:

1. re-price it when the plan's price is older than the reprice policy allows (default: one
   hour, see docs/performance.md); refuse it if the price rose beyond the tolerance or breaks
   a budget;
2. persist a ``pending`` record for every resource of the order (completely written,
   fsynced, read back) *before* sending; if that fails, nothing is sent and the run stops;
3. POST the order once (``/api/v1/orders``; ``/api/v1/quotations`` for a product quoted
   first: Pléiades Neo, which never goes to ``/orders``); record ``ordered``/``quoted``,
   ``rejected`` (a 4xx: nothing was created) or ``unknown`` (the request may have reached
   Airbus: reconciled later by its customerReference, never resubmitted blindly); if
   recording fails (a full disk), the run stops at once naming the order's
   customerReference, which the next ``plan`` reconciles; the amount in Airbus's answer is
   compared with the plan's price: a difference is recorded and shown, and one beyond the
   tolerance stops the run before the next order;
4. a quotation is accepted (``accepted``) only when the plan's ``accept_quotations_up_to``
   allows its amount; otherwise it stays ``quoted`` for a person. The threshold is recorded
   with the pending record, so reconcile can finish an acceptance an interruption cut short.

A stop request (``settings.should_stop``: Ctrl-C) is honoured between orders: the order in
flight is finished and recorded first, and the result is marked ``interrupted``.

The caller holds the state lock for the whole run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from oneatlas_plan import _canonical, _testhooks
from oneatlas_plan.applying.quotations import decide, find_quotation
from oneatlas_plan.applying.reprice import RepricePolicy
from oneatlas_plan.errors import (
    ApiError,
    OutcomeUnknownError,
    PlanError,
    RateLimitedError,
    RequestRejectedError,
    StateError,
)
from oneatlas_plan.planning.budget import RunRecheck, within_threshold
from oneatlas_plan.planning.model import (
    ORDERING_ACTIONS,
    OrderPlan,
    Plan,
    ResourcePlan,
)
from oneatlas_plan.state.backends import StateStore
from oneatlas_plan.state.model import (
    OrderRecord,
    ResourceRecord,
    SceneRef,
    State,
    utc_iso,
)

if TYPE_CHECKING:
    from oneatlas_plan.api.client import OneAtlasClient
    from oneatlas_plan.api.models import OrderResponse

Event = Callable[[str, int, int], None]
FORGOTTEN = "no longer in the specs: forgotten by apply"


@dataclass(frozen=True)
class ApplySettings:
    accept_price_changes: bool = False
    price_tolerance: Decimal = Decimal(0)  # accepted increase, in the order's currency
    fail_fast: bool = False
    reprice: RepricePolicy = field(default_factory=RepricePolicy)
    now: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())
    should_stop: Callable[[], bool] = field(default=lambda: False)


@dataclass
class OrderOutcome:
    key: str
    addresses: list[str]
    status: str  # ordered | quoted | accepted | rejected | unknown | skipped
    message: str = ""
    order_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    rate_limited: RateLimitedError | None = None  # stop the run: the key is rate-limited
    price_stop: str | None = None  # Airbus charged beyond the tolerance: stop the run


@dataclass
class ApplyResult:
    outcomes: list[OrderOutcome] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early
    planned: int = 0  # orders the plan asked to place
    interrupted: bool = False  # stopped on request (Ctrl-C)

    @property
    def failed(self) -> bool:
        return self.stopped is not None or any(
            o.status in ("rejected", "unknown", "skipped") for o in self.outcomes
        )

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


def check_fresh(plan: Plan, state: State, endpoint: str) -> None:
    """Refuse a plan made for another endpoint or against another version of the state."""
    if plan.endpoint != endpoint:
        raise PlanError(
            f"the plan was made for endpoint {plan.endpoint!r}, not {endpoint!r}; "
            + _endpoint_hint(plan.endpoint, endpoint)
        )
    expected_lineage = state.lineage if state.serial else None
    if plan.state.lineage is not None and plan.state.lineage != expected_lineage:
        raise PlanError(
            f"the plan was made against another state (lineage {plan.state.lineage}, serial "
            f"{plan.state.serial}), not this one (lineage {expected_lineage or 'none yet'}, "
            f"serial {state.serial}): check --state / ONEATLAS_STATE, or plan again"
        )
    if plan.state.serial != state.serial or plan.state.lineage != expected_lineage:
        raise PlanError(
            "plan is stale: the state changed since it was made "
            f"(plan: serial {plan.state.serial}, state: serial {state.serial}); run plan again"
        )


def _endpoint_hint(planned: str, current: str) -> str:
    if planned == "sandbox":
        return "add --sandbox to apply it to the sandbox, or plan again against this endpoint"
    if current == "sandbox":
        return "drop --sandbox to apply it there, or plan again against the sandbox"
    return f"add --endpoint {planned} to apply it there, or plan again against this endpoint"


def apply_plan(
    plan: Plan,
    store: StateStore,
    client: OneAtlasClient | None,
    settings: ApplySettings,
    on_event: Event | None = None,
) -> ApplyResult:
    emit = on_event or (lambda stage, done, total: None)
    result = ApplyResult()
    resources = {r.address: r for r in plan.resources}
    to_order = [o for o in plan.orders if o.action in ORDERING_ACTIONS]
    result.planned = len(to_order)
    budgets = _BudgetTracker(plan, to_order, store, settings.now)
    for done, order in enumerate(to_order):
        emit("order", done, len(to_order))
        if settings.should_stop():
            result.stopped = "interrupted: the remaining orders were not submitted"
            result.interrupted = True
            break
        if client is None:
            raise PlanError("the plan has orders to place but no OneAtlas client was set up")
        outcome = _apply_order(
            order, resources, store, client, settings, budgets, plan.meta.priced_at.get(order.key)
        )
        _testhooks.pause("after-outcome")
        result.outcomes.append(outcome)
        if outcome.rate_limited is not None:
            result.stopped = _rate_limited_stop(outcome.rate_limited, len(to_order) - done - 1)
            break
        if outcome.price_stop is not None:
            result.stopped = outcome.price_stop
            break
        if outcome.status == "rejected" and settings.fail_fast:
            result.stopped = "stopped at the first rejection (--fail-fast)"
            break
    emit("order", len(to_order), len(to_order))
    if result.stopped is None and settings.should_stop():  # Ctrl-C during the last order
        result.stopped = "interrupted after the last order; resources to forget were kept"
        result.interrupted = True
    if result.stopped is None:
        for resource in plan.resources:
            if resource.action == "forget" and store.get(resource.address) is not None:
                store.remove(resource.address, FORGOTTEN)
                result.forgotten.append(resource.address)
    return result


def _rate_limited_stop(error: RateLimitedError, remaining: int) -> str:
    when = f"{error.retry_at:%Y-%m-%d %H:%M:%S} UTC" if error.retry_at else "the ban is over"
    orders = "order was" if remaining == 1 else "orders were"
    later = f"; the {remaining} later {orders} not submitted" if remaining else ""
    return (
        f"OneAtlas rate-limited this API key (429): stopped so as not to prolong a ban{later}. "
        f"Plan and apply again after {when}: what was ordered is in the state and is not "
        "ordered again."
    )


class _BudgetTracker:
    """Re-checks the plan's budgets with the price obtained just before ordering, against
    everything the state commits at that moment: the spend the plan saw, plus what this run
    (or another process since) already bought."""

    def __init__(
        self,
        plan: Plan,
        to_order: Sequence[OrderPlan],
        store: StateStore,
        now: Callable[[], datetime],
    ) -> None:
        self._checks = plan.budgets
        self._touched = [address for order in to_order for address in order.addresses]
        self._store = store
        self._now = now
        self._recheck: RunRecheck | None = None

    def violation(self, order: OrderPlan, amount: Decimal, currency: str) -> str | None:
        threshold = order.accept_quotations_up_to
        if order.needs_quotation and not within_threshold(amount, currency, threshold):
            return None  # a quotation left for a person spends nothing
        if not self._checks:
            return None  # no budget: no need to add up the state per order
        today = self._now().astimezone(UTC).date()
        state = self._store.view()  # read, not copied: a copy per order made apply quadratic
        if self._recheck is None:  # the state as it is under the lock, before the first order
            self._recheck = RunRecheck(self._checks, state, self._touched)
        return self._recheck.violation(
            order.key, order.addresses, amount, currency, state, today
        )


def _apply_order(
    order: OrderPlan,
    resources: dict[str, ResourcePlan],
    store: StateStore,
    client: OneAtlasClient,
    settings: ApplySettings,
    budgets: _BudgetTracker,
    priced_at: str | None,
) -> OrderOutcome:
    outcome = OrderOutcome(key=order.key, addresses=list(order.addresses), status="skipped")
    if _canonical.digest(order.body) != order.body_digest:
        outcome.message = "order body does not match its digest"
        return outcome
    if order.price is None or settings.reprice.needed(priced_at, settings.now()):
        try:
            amount, currency, problem = _reprice(order, client, settings)
        except RateLimitedError as error:
            outcome.message, outcome.rate_limited = str(error), error
            return outcome
    else:
        amount, currency, problem = order.price.amount, order.price.currency, None
    if problem is None and amount is not None:
        problem = budgets.violation(order, amount, currency)
    if problem is not None:
        outcome.message = problem
        return outcome
    _testhooks.pause("before-pending")
    try:
        _write_ahead(order, resources, store, settings.now())
    except StateError as error:
        raise StateError(
            f"stopped before sending order {order.key}: its pending record could not be "
            f"written durably, so it was NOT sent. {error}"
        ) from error
    _testhooks.pause("after-pending")
    send = client.quotation if order.needs_quotation else client.order
    try:
        response = send(order.body)
    except OutcomeUnknownError as error:
        with _unless_recorded_stop(order):
            _record_outcome(store, order, settings.now(), status="unknown", message=str(error))
        outcome.status, outcome.message = "unknown", str(error)
        return outcome
    except RateLimitedError as error:
        # a 429 proves nothing was created
        with _unless_recorded_stop(order):
            _record_outcome(store, order, settings.now(), status="rejected", message=str(error))
        outcome.status, outcome.message, outcome.rate_limited = "rejected", str(error), error
        return outcome
    except ApiError as error:
        # Every other error of `order()` proves the request created nothing (the client raises
        # OutcomeUnknownError whenever the request may have reached Airbus).
        with _unless_recorded_stop(order):
            _record_outcome(store, order, settings.now(), status="rejected", message=str(error))
        outcome.status, outcome.message = "rejected", str(error)
        return outcome
    charged = _decimal(response.total_amount)
    difference = _charged_difference(order, amount, charged, response.currency)
    with _unless_recorded_stop(order):
        status = _record_success(store, order, response, settings.now(), difference)
    outcome.status = status
    outcome.order_id = response.sales_order_id or response.quotation_id
    outcome.amount = charged
    outcome.currency = response.currency
    if status == "ordered" and difference is not None:
        outcome.message = difference
        if _beyond_tolerance(order, charged, settings):
            outcome.price_stop = (
                f"{difference}, beyond the tolerance: stopped before the next order "
                "(plan again to see today's prices)"
            )
    if status == "quoted":
        _testhooks.pause("before-accept")
        _maybe_accept(order, store, client, outcome, settings.now)
    return outcome


@contextmanager
def _unless_recorded_stop(order: OrderPlan) -> Iterator[None]:
    """Around recording what happened to a sent order: if that fails, stop the run at once."""
    try:
        yield
    except StateError as error:
        raise StateError(
            f"STOPPED: order {order.key} was sent to Airbus but its outcome could not be "
            f"recorded ({error}). Nothing more was sent. Its customerReference is "
            f"{order.customer_reference!r}: fix the problem (free disk space), then run "
            "`oneatlas-plan plan`, which finds the order at Airbus by that reference and "
            "records it; do not order it again by hand"
        ) from error


def _maybe_accept(
    order: OrderPlan,
    store: StateStore,
    client: OneAtlasClient,
    outcome: OrderOutcome,
    now: Callable[[], datetime],
) -> None:
    """Accept a fresh quotation when the spec's threshold allows it; otherwise say why not."""
    threshold = order.accept_quotations_up_to
    accept_hint = f"accept it with `oneatlas-plan quotations accept {outcome.order_id}`"
    if outcome.amount is None:
        outcome.message = (
            "quoted, but Airbus's answer gave no amount: left quoted, never accepted "
            f"automatically; read the amount on the quotation in OneAtlas, then {accept_hint}"
        )
        return
    quoted = f"{outcome.currency} {outcome.amount:,.2f}"
    if threshold is None:
        outcome.message = f"quoted {quoted}; nothing is bought until it is accepted: {accept_hint}"
        return
    limit = f"{threshold:,.2f}"
    if not within_threshold(outcome.amount, outcome.currency, threshold):
        beyond = "above" if outcome.currency == "EUR" else "not in the currency of"
        outcome.message = (
            f"quoted {quoted}, {beyond} the spec's accept_quotations_up_to EUR {limit}: left "
            f"quoted; {accept_hint}"
        )
        return
    reason = f"accepted automatically: {quoted} <= accept_quotations_up_to EUR {limit}"
    try:
        quotation = find_quotation(store.view(), order.addresses[0])
        decided = decide(
            store, client, quotation, "accept", now(), contract_id=order.contract_id, reason=reason
        )
    except StateError as error:
        raise StateError(
            f"STOPPED while accepting quotation {outcome.order_id} (customerReference "
            f"{order.customer_reference!r}): {error}. Nothing more was sent; run "
            "`oneatlas-plan refresh` once the problem is fixed"
        ) from error
    except ApiError as error:
        outcome.message = f"automatic acceptance failed, the quotation stays quoted: {error}"
        return
    outcome.status = "accepted"
    outcome.order_id = decided.sales_order_id or outcome.order_id
    outcome.message = f"{reason} (quotation {decided.quotation_id})"


def _charged_difference(
    order: OrderPlan,
    expected: Decimal | None,
    charged: Decimal | None,
    currency: str | None,
) -> str | None:
    """``charged EUR 260.00, the plan said EUR 250.00 (+10.00)``, or None when they agree."""
    if order.price is None or charged is None or expected is None or charged == expected:
        return None
    planned = order.price.amount
    said = f"the plan said {order.price.currency} {planned:,.2f}"
    if expected != planned:
        said += f", re-priced {expected:,.2f}"
    return (
        f"charged {currency or order.price.currency} {charged:,.2f}, {said} "
        f"({charged - planned:+,.2f})"
    )


def _beyond_tolerance(order: OrderPlan, charged: Decimal | None, settings: ApplySettings) -> bool:
    """Charged more than the reviewed plan's price plus the tolerance (the promise)."""
    if order.price is None or charged is None or settings.accept_price_changes:
        return False
    return charged > order.price.amount + settings.price_tolerance


def _decimal(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))


def _reprice(
    order: OrderPlan, client: OneAtlasClient, settings: ApplySettings
) -> tuple[Decimal | None, str, str | None]:
    """(price now, its currency, why not to order): a rise beyond the tolerance skips."""
    try:
        price = client.price(order.body)
    except RequestRejectedError as error:
        return None, "", f"re-pricing refused by Airbus: {error}"
    amount = _decimal(price.total_amount)
    if amount is None:
        return None, "", "Airbus returned no price for this order; not ordered"
    currency = price.currency or (order.price.currency if order.price else "EUR")
    planned = order.price
    if planned is None or settings.accept_price_changes:
        return amount, currency, None
    if currency != planned.currency or amount > planned.amount + settings.price_tolerance:
        return (
            amount,
            currency,
            (
                f"price changed since the plan: {planned.currency} {planned.amount:,.2f} -> "
                f"{currency} {amount:,.2f}; not ordered (plan again, or apply with "
                "--accept-price-changes)"
            ),
        )
    return amount, currency, None


def _scenes(resource: ResourcePlan) -> list[SceneRef]:
    return [
        SceneRef(
            id=s.id,
            archive_identifier=s.archive_identifier,
            platform=s.platform,
            acquisition_date=s.acquisition_date,
        )
        for s in resource.scenes
    ]


def _write_ahead(
    order: OrderPlan, resources: dict[str, ResourcePlan], store: StateStore, now: datetime
) -> None:
    """Persist `pending` for every resource of the order, durably and all at once (one
    journal line: a failure leaves none of them), before the request."""
    records = []
    for address in order.addresses:
        resource = resources[address]
        existing = store.get(address)
        history = list(existing.orders) if existing is not None else []
        pending = OrderRecord(
            order_key=order.key,
            customer_reference=order.customer_reference,
            contract_id=order.contract_id,
            body_digest=order.body_digest,
            status="pending",
            submitted_at=utc_iso(now),
            amount=order.price.amount if order.price else None,
            currency=order.price.currency if order.price else None,
            scenes=_scenes(resource),
            addresses=list(order.addresses),
            delivery_workspace=_delivery_workspace(order.body),
            accept_up_to=order.accept_quotations_up_to if order.needs_quotation else None,
            digests=dict(resource.digests),
            aoi_geometry=resource.aoi_geometry,
        )
        records.append(
            ResourceRecord(
                address=address,
                config_digest=resource.config_digest,
                spec_file=resource.spec_file,
                orders=[*history, pending],
            )
        )
    store.record_all(records)


def _delivery_workspace(body: dict[str, object]) -> str | None:
    delivery = body.get("delivery")
    workspace = delivery.get("workspace") if isinstance(delivery, dict) else None
    return str(workspace) if workspace else None


def _update_current(
    store: StateStore, addresses: Sequence[str], key: str, change: Callable[[OrderRecord], None]
) -> None:
    for address in addresses:

        def apply(record: ResourceRecord) -> ResourceRecord:
            current = record.orders[-1]
            if current.order_key == key:
                change(current)
            return record

        store.update(address, apply)


def _record_outcome(
    store: StateStore, order: OrderPlan, now: datetime, *, status: str, message: str
) -> None:
    def change(current: OrderRecord) -> None:
        current.status = status  # type: ignore[assignment]
        current.message = message
        current.outcome_at = utc_iso(now)

    _update_current(store, order.addresses, order.key, change)


def _record_success(
    store: StateStore,
    order: OrderPlan,
    response: OrderResponse,
    now: datetime,
    difference: str | None = None,
) -> str:
    status = "ordered" if response.sales_order_id else "quoted"

    def change(current: OrderRecord) -> None:
        current.status = status  # type: ignore[assignment]
        current.sales_order_id = response.sales_order_id
        current.quotation_id = response.quotation_id
        current.amount = _decimal(response.total_amount)
        current.currency = response.currency
        current.outcome_at = utc_iso(now)
        current.production_status = "ordered" if status == "ordered" else None
        if difference is not None and status == "ordered":
            current.message = difference

    _update_current(store, order.addresses, order.key, change)
    return status

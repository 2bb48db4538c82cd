"""Reconcile what an interrupted run left open, against Airbus (the caller holds the lock).

* An order whose outcome is unknown (``pending`` after a crash, ``unknown`` after a lost
  answer) is looked up by its customerReference, which carries the idempotency key: first in
  Airbus's order search (``/api/v2/orders/search``, where it answers), then in the delivery
  workspaces (the one its body named, the contract's, the account's). Airbus may return the
  reference truncated: a reference that is a prefix of ours and still holds the key matches.
  A match settles the record (``ordered``, ``quoted``, ``accepted`` or ``refused``), with
  its delivered files when Airbus already delivered it (download needs no refresh first).
* No match: the record stays blocked, unless absence is provable (see
  ``docs/reconcile.md``): the order search is authoritative for the contract and found
  nothing on two checks at least :data:`NOT_FOUND_GRACE` apart (and that long after the
  request); it is then settled ``not_ordered`` and planned again, saying so.
* A quotation is settled both ways: an acceptance sent by an interrupted run is read back
  (``ACCEPTED`` at Airbus: recorded as spend), and a quotation within the reviewed
  ``accept_quotations_up_to`` is accepted when ``accept`` is set (``apply``; ``plan`` only
  reports it). An acceptance in flight (sent, not read back) counts as spend; while Airbus
  still shows the quotation ``SENT``, it stays in flight for :data:`ACCEPT_GRACE` after it
  was sent (never sent again meanwhile), then it is settled as not accepted: left quoted.
* A retired order (its resource left the state) of unknown outcome is looked up and settled
  the same way, in its retired entry: found, it is what Airbus has (an order stays counted as
  spend); provably absent, it is ``not_ordered`` and stops counting (nothing is planned again
  for it: its resource is gone). A retired quotation whose acceptance was in flight is read
  back the same way (accepted: spend; refused, or still not accepted after
  :data:`ACCEPT_GRACE`: not counted), and never accepted automatically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from oneatlas_plan.api.orders import orders_search_q
from oneatlas_plan.applying.quotations import (
    Quotation,
    auto_acceptable,
    decide,
    decision_change,
    find_quotation,
    quotation_lines,
    record_decision,
    valid_until,
)
from oneatlas_plan.errors import ApiError, RateLimitedError, RequestRejectedError
from oneatlas_plan.state.backends import StateStore
from oneatlas_plan.state.model import (
    Delivery,
    OrderRecord,
    OrderStatus,
    ResourceRecord,
    RetiredOrder,
    State,
    order_identity,
    utc_iso,
)

if TYPE_CHECKING:
    from oneatlas_plan.api.client import OneAtlasClient
    from oneatlas_plan.api.models import Feature, Link, OrderLine

UNSETTLED = frozenset({"pending", "unknown"})
QUOTED = frozenset({"quoted"})
PLACED = frozenset({"ordered", "accepted", "quoted", "refused"})
# Between two "not found" answers of an authoritative order search (and after the request)
# before an unknown outcome is settled as not ordered: far longer than Airbus takes to answer
# an order request (seconds), so an order created late by a request still in progress shows.
NOT_FOUND_GRACE = timedelta(minutes=30)
# After an acceptance was sent, how long a quotation Airbus still shows SENT (or does not
# show) is taken as an acceptance still being processed: it counts as spend and is not
# accepted again. Airbus answers an acceptance in seconds.
ACCEPT_GRACE = timedelta(minutes=10)
# How long archive orders usually take to be delivered (for the hint only).
DELIVERY_HINT = "archive products are usually delivered within hours to a few days"

Now = Callable[[], datetime]
Change = Callable[[OrderRecord], None]


@dataclass
class ReconcileResult:
    resolved: dict[str, str] = field(default_factory=dict)  # address -> order id found
    unresolved: list[str] = field(default_factory=list)
    not_ordered: list[str] = field(default_factory=list)  # settled automatically
    accepted: dict[str, str] = field(default_factory=dict)  # address -> quotation accepted
    awaiting_accept: list[str] = field(default_factory=list)  # `apply` will accept these
    accept_in_flight: list[str] = field(default_factory=list)  # acceptance sent, not read back
    left_quoted: list[str] = field(default_factory=list)  # an automatic acceptance gave up
    hints: dict[str, str] = field(default_factory=dict)  # address -> how it will be settled


def needs_reconcile(order: OrderRecord) -> bool:
    if order.status in UNSETTLED:
        return True
    return order.status == "quoted" and (order.accept_sent_at is not None or auto_acceptable(order))


def unsettled(state: State) -> list[ResourceRecord | RetiredOrder]:
    """What reconcile may settle: records, then retired orders (none: it costs no request)."""
    return [*unsettled_records(state), *retired_unsettled(state)]


def unsettled_records(state: State) -> list[ResourceRecord]:
    """Records whose current order reconcile may settle."""
    return [
        r for r in state.resources.values() if r.current is not None and needs_reconcile(r.current)
    ]


def retired_unsettled(state: State) -> list[RetiredOrder]:
    """Retired orders of unknown outcome (or a quotation's acceptance in flight) that no live
    record holds, each once."""
    return [
        e for e in state.retired_orders()
        if e.order.status in UNSETTLED or _accept_sent(e.order)
    ]


def _accept_sent(order: OrderRecord) -> bool:
    return (
        order.status == "quoted" and bool(order.quotation_id) and order.accept_sent_at is not None
    )


@dataclass(frozen=True)
class Finding:
    sales_order_id: str | None
    quotation_id: str | None
    deliveries: tuple[Delivery, ...] = ()
    quotation_status: str | None = None


def same_reference(found: str | None, ours: str, key: str) -> bool:
    """Whether Airbus's customerReference is ours: equal, or cut short but holding the key."""
    if not found:
        return False
    return found == ours or (key in found and ours.startswith(found))


class DeliveryWorkspaces:
    """What reconcile and refresh learn once per run: contracts (backend, delivery workspace)
    and the account's workspace (``/api/v1/me``), fetched only when needed."""

    def __init__(self, client: OneAtlasClient) -> None:
        self._client = client
        self._by_contract: dict[str, str | None] | None = None
        self._backends: dict[str, str | None] = {}
        self._account: str | None = None

    def _contracts(self) -> dict[str, str | None]:
        if self._by_contract is None:
            contracts = self._client.contracts()
            self._by_contract = {c.contract_id: c.delivery_workspace for c in contracts}
            self._backends = {c.contract_id: c.backend_source for c in contracts}
        return self._by_contract

    def backend(self, contract_id: str | None) -> str | None:
        self._contracts()
        return self._backends.get(contract_id or "")

    def of(self, contract_id: str | None) -> str | None:
        """The contract's delivery workspace, else the account's."""
        workspace = self._contracts().get(contract_id or "")
        if workspace is None and self._account is None:
            me = self._client.me()
            self._account = me.contract.workspace_id if me.contract else ""
        return workspace or self._account or None

    def candidates(self, order: OrderRecord, contract_id: str | None) -> Iterator[str]:
        """The workspace the order's body named first, then the defaults (each once)."""
        seen: set[str] = set()
        for workspace in (order.delivery_workspace, None):
            found = workspace if workspace is not None else self.of(contract_id)
            if found and found not in seen:
                seen.add(found)
                yield found


@dataclass(frozen=True)
class Lookup:
    finding: Finding | None
    search_answered: bool  # /api/v2/orders/search answered (it may not, for legacy contracts)


def search_lines(
    client: OneAtlasClient, order: OrderRecord, contract_id: str | None
) -> list[OrderLine] | None:
    """Order lines of ``order`` by its key (None when the order search does not answer)."""
    query = orders_search_q(contract_id=contract_id, customer_reference=order.order_key)
    try:
        lines = client.search_orders(query)
    except RateLimitedError:
        raise
    except ApiError:
        return None
    return [
        line
        for line in lines
        if same_reference(line.customer_reference, order.customer_reference, order.order_key)
    ]


def find_order(
    client: OneAtlasClient,
    order: OrderRecord,
    workspaces: DeliveryWorkspaces,
    contract_id: str | None,
) -> Lookup:
    lines = search_lines(client, order, contract_id)
    for line in lines or []:
        if line.sales_order_id or line.quotation_id:
            finding = Finding(
                line.sales_order_id,
                line.quotation_id,
                deliveries=delivered_files(client, line, lines or [], order),
                quotation_status=(line.quotation_status or "").upper() or None,
            )
            return Lookup(finding, True)
    for workspace in workspaces.candidates(order, contract_id):
        items = client.find_delivered(workspace, customer_reference=order.customer_reference)
        exact = [
            f
            for f in items
            if same_reference(f.properties.customer_reference, order.customer_reference,
                              order.order_key)
        ]
        sales_ids = sorted(
            {ref for f in exact if (ref := f.properties.internal_reference) is not None}
        )
        if sales_ids:
            found = tuple(d for f in exact for d in deliveries(f))
            return Lookup(Finding(sales_ids[0], None, found), lines is not None)
    return Lookup(None, lines is not None)


def delivered_files(
    client: OneAtlasClient, line: OrderLine, lines: list[OrderLine], order: OrderRecord
) -> tuple[Delivery, ...]:
    """The files of a found sales order whose lines all say it is delivered, from the delivery
    workspace the line (or the order's body) names; none when it is not wholly delivered yet
    (no request) or that workspace does not answer (refresh finds them later)."""
    workspace = line.delivery_workspace or order.delivery_workspace
    sales_order_id = line.sales_order_id
    statuses = {(o.status or "").upper() for o in lines if o.sales_order_id == sales_order_id}
    if not sales_order_id or not workspace or statuses != {"DELIVERED"}:
        return ()
    try:
        items = client.find_delivered(workspace, internal_reference=sales_order_id)
    except RateLimitedError:
        raise
    except ApiError:
        return ()
    ours = [f for f in items if f.properties.internal_reference == sales_order_id]
    return tuple(d for f in ours for d in deliveries(f))


def portable_href(href: str | None) -> str | None:
    """A download href without its scheme and host when it is one of Airbus's item paths:
    the state then never depends on the host (the sandbox's random port); the client resolves
    the path against its endpoint's access service."""
    if not href:
        return href
    from urllib.parse import urlsplit

    parts = urlsplit(href)
    if parts.path.startswith("/api/v1/items/") and (parts.scheme, parts.netloc) != ("", ""):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return href


def deliveries(feature: Feature) -> list[Delivery]:
    """One entry per file of a delivered item (its ``_links.download`` may list several, all
    with the item's id), or one without a link when it offers none."""
    extra = feature.properties.model_extra
    published = extra.get("publicationDate") if extra else None
    links: list[Link | None] = [*feature.download_links] or [None]
    return [
        Delivery(
            item_id=feature.id,
            download_href=portable_href(link.href) if link else None,
            resource_id=link.resource_id if link else None,
            publication_date=published,
        )
        for link in links
    ]


@dataclass(frozen=True)
class _Target:
    """Where the outcome of one Airbus order is recorded: the live records of its addresses,
    or the retired entries holding it (its resources left the state)."""

    labels: list[str]  # how the result names them
    write: Callable[[Change], None]  # applies a change to each of them still unsettled
    retired: bool = False

    @property
    def then(self) -> str:
        """What settling it as not ordered does."""
        return "no longer counted as spend" if self.retired else "planned again"


def _live(store: StateStore, key: str, addresses: list[str]) -> _Target:
    return _Target(addresses, lambda change: _change(store, addresses, key, UNSETTLED, change))


def _retired(
    store: StateStore, entry: RetiredOrder, statuses: frozenset[str] = UNSETTLED
) -> _Target:
    """Every retired entry of the order (one per address of a shared order that left)."""
    identity = order_identity(entry.order)
    held = {
        index: f"{found.address} (retired order {index})"
        for index, found in enumerate(store.view().retired)
        if order_identity(found.order) == identity and found.order.status in statuses
    }

    def write(change: Change) -> None:
        for index in held:
            current = store.view().retired[index]
            if current.order.status in statuses:
                order = current.order.model_copy(deep=True)
                change(order)
                store.record_retired(index, current.model_copy(update={"order": order}))

    return _Target(list(held.values()), write, retired=True)


class _Reconciler:
    def __init__(
        self,
        store: StateStore,
        client: OneAtlasClient,
        contracts: dict[str, str],
        now: Now,
        accept: bool,
    ) -> None:
        self.store = store
        self.client = client
        self.contracts = contracts
        self.now = now
        self.accept = accept
        self.workspaces = DeliveryWorkspaces(client)
        self.authority: dict[str, bool] = {}
        self.result = ReconcileResult()

    def run(self) -> ReconcileResult:
        done: set[str] = set()
        for record in unsettled_records(self.store.state()):
            order = record.current
            if order is None or order.order_key in done:
                continue
            done.add(order.order_key)
            contract_id = order.contract_id or self.contracts.get(record.address)
            if order.status in UNSETTLED:
                target = _live(self.store, order.order_key, order.addresses or [record.address])
                self._unknown(order, target, contract_id)
            else:
                self._quotation(record.address, order)
        for entry in retired_unsettled(self.store.state()):
            if entry.order.order_key not in done:
                done.add(entry.order.order_key)
                if entry.order.status == "quoted":
                    self._retired_quotation(entry.order, _retired(self.store, entry, QUOTED))
                    continue
                contract_id = entry.order.contract_id or self.contracts.get(entry.address)
                self._unknown(entry.order, _retired(self.store, entry), contract_id)
        return self.result

    # --- unknown outcomes -----------------------------------------------------------------

    def _unknown(self, order: OrderRecord, target: _Target, contract_id: str | None) -> None:
        lookup = find_order(self.client, order, self.workspaces, contract_id)
        if lookup.finding is not None:
            self._found(target, lookup.finding)
            return
        authoritative = lookup.search_answered and self._authoritative(order, contract_id)
        self._not_found(order, target, contract_id, authoritative)

    def _found(self, target: _Target, finding: Finding) -> None:
        now = self.now()
        status = _status(finding)
        message = "reconciled with Airbus by customerReference"
        if status == "accepted":
            message += " (its quotation was already accepted: recorded as spend)"
        elif status == "quoted" and target.retired:
            message += " (a quotation, not accepted: not counted as spend)"

        def change(current: OrderRecord) -> None:
            current.status = status
            current.sales_order_id = finding.sales_order_id
            current.quotation_id = finding.quotation_id
            current.outcome_at = utc_iso(now)
            current.message = message
            current.not_found_checks = []
            if status in ("ordered", "accepted"):
                current.production_status = "ordered"
            if finding.deliveries:
                current.deliveries = list(finding.deliveries)
                current.production_status = "delivered"

        target.write(change)
        for label in target.labels:
            self.result.resolved[label] = finding.sales_order_id or finding.quotation_id or "?"
        if status == "quoted" and not target.retired:
            self._quotation(target.labels[0], _current(self.store, target.labels[0]))

    def _authoritative(self, order: OrderRecord, contract_id: str | None) -> bool:
        """Whether the order search proves absence for this contract: a known order of the
        contract is found by the same search (a positive control), or, with none known, the
        contract is a Pléiades Neo one (the search is Airbus's tracking endpoint for them)."""
        cid = contract_id or ""
        if cid not in self.authority:
            control = _control_order(self.store.view(), order, contract_id, self.contracts)
            if control is not None:
                lines = search_lines(self.client, control, contract_id) or []
                ids = {control.sales_order_id, control.quotation_id} - {None}
                self.authority[cid] = any(
                    {line.sales_order_id, line.quotation_id} & ids for line in lines
                )
            else:
                self.authority[cid] = self.workspaces.backend(contract_id) == "neo"
        return self.authority[cid]

    def _not_found(
        self,
        order: OrderRecord,
        target: _Target,
        contract_id: str | None,
        authoritative: bool,
    ) -> None:
        now = self.now()
        if not authoritative:
            workspace = next(self.workspaces.candidates(order, contract_id), None) or "?"
            self._unresolved(
                target,
                "Airbus's order search cannot prove this order absent for contract "
                f"{contract_id or '?'}: it is looked for in delivery workspace {workspace} at "
                f"every plan/apply ({DELIVERY_HINT}); if it never arrives, settle it with "
                "`oneatlas-plan state resolve`",
            )
            return
        checks = [*order.not_found_checks[:1], utc_iso(now)]
        first = _parse(checks[0])
        submitted = _parse(order.submitted_at) if order.submitted_at else first
        if now - first >= NOT_FOUND_GRACE and now - submitted >= NOT_FOUND_GRACE:
            self._settle_not_ordered(order, target, checks, now)
            return

        settles_at = utc_iso(max(first, submitted) + NOT_FOUND_GRACE)
        self._unresolved(
            target,
            f"Airbus's order search found no order {order.order_key} (checked {checks[0]}); "
            f"if it still finds none at a plan/apply from {settles_at} on, it is settled as "
            f"not ordered and {target.then}",
            checks[0],
        )

    def _settle_not_ordered(
        self, order: OrderRecord, target: _Target, checks: list[str], now: datetime
    ) -> None:
        message = (
            "settled automatically as not ordered: Airbus's order search found no order with "
            f"customerReference {order.customer_reference!r} at {checks[0]} and {checks[-1]}; "
            f"{target.then}"
        )

        def change(current: OrderRecord) -> None:
            current.status = "not_ordered"
            current.outcome_at = utc_iso(now)
            current.message = message
            current.not_found_checks = checks

        target.write(change)
        self.result.not_ordered.extend(target.labels)
        for label in target.labels:
            self.result.hints[label] = message

    def _unresolved(self, target: _Target, hint: str, first_check: str | None = None) -> None:
        """Still blocked; the record says how and when it will be settled (the plan shows it).
        Only the first "not found" is kept, so a check that learns nothing new writes nothing."""

        def change(current: OrderRecord) -> None:
            current.not_found_checks = [first_check] if first_check else []
            current.message = hint

        target.write(change)
        self.result.unresolved.extend(target.labels)
        for label in target.labels:
            self.result.hints[label] = hint

    # --- quotations -----------------------------------------------------------------------

    def _quotation(self, address: str, order: OrderRecord | None) -> None:
        if order is None or order.status != "quoted" or not order.quotation_id:
            return
        if order.accept_sent_at is None and not auto_acceptable(order):
            return
        quotation = find_quotation(self.store.view(), address)
        lines = quotation_lines(self.client, quotation.quotation_id)
        status = _quotation_status(lines)
        now = self.now()
        if status in ("ACCEPTED", "REFUSED"):
            self._decided_at_airbus(quotation, status, lines, now)
        elif order.accept_sent_at is not None and now - _parse(order.accept_sent_at) < ACCEPT_GRACE:
            self._accept_in_flight(quotation, order.accept_sent_at, status or "not found")
        elif status == "SENT" and auto_acceptable(order):
            if self.accept:
                self._accept(quotation, order, now)
            else:
                self.result.awaiting_accept.extend(quotation.addresses)
        elif order.accept_sent_at is not None:
            self._acceptance_lost(quotation, status or "not found")

    def _retired_quotation(self, order: OrderRecord, target: _Target) -> None:
        """A retired quotation whose acceptance was sent: read back, never accepted again."""
        quotation_id = str(order.quotation_id)
        lines = quotation_lines(self.client, quotation_id)
        status = _quotation_status(lines)
        now = self.now()
        sent_at = str(order.accept_sent_at)
        if status in ("ACCEPTED", "REFUSED"):
            accepted = status == "ACCEPTED"
            sales_order_id = next((x.sales_order_id for x in lines if x.sales_order_id), None)
            message = f"quotation found {status.lower()} at Airbus after an interrupted run" + (
                ": recorded as spend" if accepted else ": not counted"
            )
            target.write(decision_change(
                "accept" if accepted else "refuse", now, sales_order_id=sales_order_id,
                valid_until=valid_until(lines), message=message))
            if accepted:
                for label in target.labels:
                    self.result.accepted[label] = sales_order_id or quotation_id
            return
        if now - _parse(sent_at) < ACCEPT_GRACE:
            self.result.accept_in_flight.extend(target.labels)
            hint = _in_flight_hint(quotation_id, sent_at, status or "not found",
                                   "it is taken as never made")
            for label in target.labels:
                self.result.hints[label] = hint
            return
        message = (
            f"an acceptance was sent but Airbus shows the quotation {status or 'not found'}: not "
            "accepted, not counted (its resource left the state: it is not accepted again)"
        )
        target.write(_acceptance_forgotten(message))
        self.result.left_quoted.extend(target.labels)
        for label in target.labels:
            self.result.hints[label] = message

    def _decided_at_airbus(
        self, quotation: Quotation, status: str, lines: list[OrderLine], now: datetime
    ) -> None:
        accepted = status == "ACCEPTED"
        sales_order_id = next((x.sales_order_id for x in lines if x.sales_order_id), None)
        record_decision(
            self.store,
            quotation,
            "accept" if accepted else "refuse",
            now,
            sales_order_id=sales_order_id,
            valid_until=valid_until(lines),
            message=f"quotation found {status.lower()} at Airbus after an interrupted run"
            + (": recorded as spend" if accepted else ""),
        )
        if accepted:
            for address in quotation.addresses:
                self.result.accepted[address] = sales_order_id or quotation.quotation_id

    def _accept(self, quotation: Quotation, order: OrderRecord, now: datetime) -> None:
        limit = f"{order.accept_up_to:,.2f}" if order.accept_up_to is not None else "?"
        reason = (
            f"accepted automatically: {order.currency} {order.amount:,.2f} <= "
            f"accept_quotations_up_to EUR {limit} (finishing an interrupted run)"
        )
        try:
            decided = decide(
                self.store, self.client, quotation, "accept", now,
                contract_id=order.contract_id, reason=reason,
            )
        except RateLimitedError:
            raise
        except RequestRejectedError as error:  # expired, or decided by a person meanwhile
            self._give_up_accepting(quotation, f"automatic acceptance refused by Airbus: {error}")
            return
        except ApiError as error:
            for address in quotation.addresses:
                self.result.hints[address] = f"automatic acceptance failed (retried): {error}"
            return
        for address in quotation.addresses:
            self.result.accepted[address] = decided.sales_order_id or quotation.quotation_id

    def _accept_in_flight(self, quotation: Quotation, sent_at: str, status: str) -> None:
        self.result.accept_in_flight.extend(quotation.addresses)
        hint = _in_flight_hint(quotation.quotation_id, sent_at, status, "it is left quoted")
        for address in quotation.addresses:
            self.result.hints[address] = hint

    def _acceptance_lost(self, quotation: Quotation, status: str) -> None:
        self._give_up_accepting(
            quotation,
            f"an acceptance was sent but Airbus shows the quotation {status}: still quoted; "
            f"accept it with `oneatlas-plan quotations accept {quotation.quotation_id}`",
        )

    def _give_up_accepting(self, quotation: Quotation, message: str) -> None:
        _change(self.store, list(quotation.addresses), quotation.order_key, {"quoted"},
                _acceptance_forgotten(message))
        self.result.left_quoted.extend(quotation.addresses)
        for address in quotation.addresses:
            self.result.hints[address] = message


def _quotation_status(lines: list[OrderLine]) -> str:
    """The quotation's status as Airbus shows it (``ACCEPTED``, ``SENT``…; "": not found)."""
    return (lines[0].quotation_status or "").upper() if lines else ""


def _in_flight_hint(quotation_id: str, sent_at: str, status: str, unless_seen: str) -> str:
    settles_at = utc_iso(_parse(sent_at) + ACCEPT_GRACE)
    return (
        f"an acceptance of quotation {quotation_id} was sent at {sent_at} and Airbus still "
        f"shows it {status}: counted as spend until it is read back; if Airbus shows no "
        f"acceptance at a plan/apply from {settles_at} on, {unless_seen}"
    )


def _acceptance_forgotten(message: str) -> Change:
    """The record's change when an acceptance sent is found never made: not sent again."""

    def change(current: OrderRecord) -> None:
        current.accept_sent_at = None
        current.accept_up_to = None
        current.message = message

    return change


def reconcile(
    store: StateStore,
    client: OneAtlasClient,
    contracts: dict[str, str],
    now: Now,
    *,
    accept: bool = False,
) -> ReconcileResult:
    """Settle what Airbus can tell about every record :func:`unsettled` returns.

    ``contracts`` maps an address to the contract id of its order (from the plan or spec);
    ``accept`` lets quotations within their recorded threshold be accepted (apply only).
    """
    return _Reconciler(store, client, contracts, now, accept).run()


def _status(finding: Finding) -> OrderStatus:
    if finding.quotation_id:
        if finding.quotation_status == "ACCEPTED" and finding.sales_order_id:
            return "accepted"
        if finding.quotation_status == "REFUSED":
            return "refused"
        return "quoted"
    return "ordered"


def _control_order(
    state: State, order: OrderRecord, contract_id: str | None, contracts: dict[str, str]
) -> OrderRecord | None:
    """An order of the same contract that Airbus is known to hold, live or retired (newest
    first)."""
    held = [(r.address, other) for r in state.resources.values() for other in r.orders]
    held += [(entry.address, entry.order) for entry in state.retired]
    candidates = []
    for address, other in held:
        cid = other.contract_id or contracts.get(address)
        if (
            other.order_key != order.order_key
            and cid == contract_id
            and other.status in PLACED
            and (other.sales_order_id or other.quotation_id)
        ):
            candidates.append(other)
    candidates.sort(key=lambda o: o.submitted_at or "", reverse=True)
    return candidates[0] if candidates else None


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _current(store: StateStore, address: str) -> OrderRecord | None:
    record = store.get(address)
    return record.current if record is not None else None


def _change(
    store: StateStore,
    addresses: list[str],
    key: str,
    statuses: frozenset[str] | set[str],
    change: Callable[[OrderRecord], None],
) -> None:
    for address in addresses:

        def update(record: ResourceRecord) -> ResourceRecord:
            current = record.orders[-1]
            if current.order_key == key and current.status in statuses:
                change(current)
            return record

        if store.get(address) is not None:
            store.update(address, update)

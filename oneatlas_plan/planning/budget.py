"""Budget checks (pure), against committed spend: what the state records plus this plan.

Scopes: any single Airbus order (``airbus_order``), one spec order with all its AOIs
(``order``, named ``spec.order``), one spec (``spec``) and everything in the state
(``total``). A limit may carry a calendar window (month, quarter, year, UTC): then only
orders submitted in the current window count, and this plan's orders count as submitted now.

Committed spend is every distinct order of the state whose money is, or may be, gone:
ordered, accepted, pending and unknown (an unknown outcome counts until it is reconciled),
and a quotation whose acceptance was sent but not yet read back. Quotations count once
accepted (or being accepted). The orders of resources that left the state (``retired``: a
spec, an AOI or a cover part removed, ``state rm``) count exactly like live ones, in every
scope their address belongs to: deleting and re-adding a spec never resets its spend.
Currencies are never added together: an order in another
currency than a limit is blocked by that limit, and prior spend in another currency does
not count against it.

Orders are taken in plan order; an order that would exceed a limit is blocked (with the
reason) and the ones after it are still considered, so a cheap order later can still fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from oneatlas_plan.planning.model import BudgetCheck
from oneatlas_plan.state.model import (
    OrderRecord,
    ResourceRecord,
    State,
    may_be_spent,
    order_identity,
)

TOTAL = "all orders"


@dataclass(frozen=True)
class Limit:
    amount: Decimal
    currency: str
    per: str | None = None  # month | quarter | year


@dataclass(frozen=True)
class Limits:
    """Every limit of the specs planned together."""

    airbus_order: Mapping[str, Limit] = field(default_factory=dict)  # spec -> limit
    order: Mapping[str, Limit] = field(default_factory=dict)  # "spec.order" -> limit
    spec: Mapping[str, Limit] = field(default_factory=dict)  # spec -> limit
    total: Limit | None = None


@dataclass(frozen=True)
class Spend:
    """One order's amount: recorded in the state (with its submission day) or planned."""

    key: str
    addresses: tuple[str, ...]
    amount: Decimal
    currency: str
    submitted: date | None = None  # None: planned now


@dataclass(frozen=True)
class PricedOrder:
    key: str
    addresses: tuple[str, ...]
    amount: Decimal
    currency: str
    spends: bool = True  # False: a quotation the plan will not auto-accept


@dataclass(frozen=True)
class BudgetResult:
    blocked: dict[str, str]  # order key -> reason
    checks: list[BudgetCheck]


def money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.2f}"


def spec_of(address: str) -> str:
    return address.split(".", 1)[0]


def spec_order_of(address: str) -> str:
    return ".".join(address.split(".", 2)[:2])


def window_start(per: str | None, today: date) -> date | None:
    """First day of the calendar window holding ``today`` (None: no window)."""
    if per == "month":
        return today.replace(day=1)
    if per == "quarter":
        return today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    if per == "year":
        return today.replace(month=1, day=1)
    return None


def committed(state: State) -> list[Spend]:
    """Every distinct order of the state, live or retired, whose amount is, or may be, spent."""
    live = _live_spends(state, state.resources.values())
    return [s for s in live.values() if s is not None] + _retired_spends(state)


Identity = tuple[str, str | None]


def _live_spends(
    state: State, records: Iterable[ResourceRecord], holders: _Holders | None = None
) -> dict[Identity, Spend | None]:
    """The orders of ``records``, each identity once (as first seen), with its spend (None:
    nothing is, or may be, spent)."""
    found: dict[Identity, Spend | None] = {}
    holders = _Holders(state) if holders is None else holders
    for record in records:
        for order in record.orders:
            identity = order_identity(order)
            if identity in found:
                continue
            # an order written before orders named their addresses (state v1): its holders
            addresses = tuple(order.addresses) or holders.of(order.order_key)
            found[identity] = _spend(order, addresses)
    return found


def _retired_spends(state: State) -> list[Spend]:
    spends = (
        _spend(entry.order, tuple(dict.fromkeys([entry.address, *entry.order.addresses])))
        for entry in state.retired_orders()
    )
    return [s for s in spends if s is not None]


def _spend(order: OrderRecord, addresses: tuple[str, ...]) -> Spend | None:
    if not may_be_spent(order) or order.amount is None or not order.currency:
        return None
    return Spend(order.order_key, addresses, order.amount, order.currency, _day(order.submitted_at))


class _Holders:
    """Order key -> the addresses of the live records holding an order with that key, indexed
    on first use (only orders without addresses need it)."""

    def __init__(self, state: State) -> None:
        self._state = state
        self._index: dict[str, tuple[str, ...]] | None = None

    def of(self, key: str) -> tuple[str, ...]:
        if self._index is None:
            index: dict[str, dict[str, None]] = {}
            for address, record in self._state.resources.items():
                for order in record.orders:
                    index.setdefault(order.order_key, {})[address] = None
            self._index = {k: tuple(addresses) for k, addresses in index.items()}
        return self._index[key]


def _day(timestamp: str | None) -> date | None:
    if not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).date()
    except ValueError:
        return None


@dataclass(frozen=True)
class _Scope:
    kind: str  # airbus_order | order | spec | total
    name: str
    limit: Limit

    def covers(self, spend: Spend | PricedOrder) -> bool:
        if self.kind == "total":
            return True
        if self.kind == "airbus_order":
            return spend.key == self.name
        if self.kind == "spec":
            return any(spec_of(a) == self.name for a in spend.addresses)
        return any(spec_order_of(a) == self.name for a in spend.addresses)

    @property
    def label(self) -> str:
        label = {
            "airbus_order": "per-Airbus-order budget",
            "order": f"order {self.name} budget",
            "spec": f"spec {self.name} budget",
            "total": "total budget",
        }[self.kind]
        return label + (f" (per {self.limit.per})" if self.limit.per else "")


def spent_before(scope: _Scope, prior: Iterable[Spend], today: date) -> Decimal:
    if scope.kind == "airbus_order":
        return Decimal(0)  # an order about to be placed spent nothing yet (a re-buy may
        # carry the key of an earlier order)
    start = window_start(scope.limit.per, today)
    return sum(
        (
            spend.amount
            for spend in prior
            if spend.currency == scope.limit.currency
            and scope.covers(spend)
            and (start is None or (spend.submitted is not None and spend.submitted >= start))
        ),
        Decimal(0),
    )


def _scopes(orders: Sequence[PricedOrder], limits: Limits) -> list[_Scope]:
    scopes = []
    for order in orders:
        limit = limits.airbus_order.get(spec_of(order.addresses[0]))
        if limit is not None and order.spends:
            scopes.append(_Scope("airbus_order", order.key, limit))
    scopes += [_Scope("order", name, lim) for name, lim in sorted(limits.order.items())]
    scopes += [_Scope("spec", name, lim) for name, lim in sorted(limits.spec.items())]
    if limits.total is not None:
        scopes.append(_Scope("total", TOTAL, limits.total))
    return scopes


def check_budgets(
    orders: Sequence[PricedOrder], limits: Limits, prior: Sequence[Spend], today: date
) -> BudgetResult:
    scopes = _scopes(orders, limits)
    before = {id(s): spent_before(s, prior, today) for s in scopes}
    planned = {id(s): Decimal(0) for s in scopes}
    failed: set[int] = set()
    blocked: dict[str, str] = {}
    for order in orders:
        if not order.spends:
            continue
        mine = [s for s in scopes if s.covers(order)]
        reason = None
        for scope in mine:
            reason = _over(scope, order, before[id(scope)] + planned[id(scope)])
            if reason is not None:
                failed.add(id(scope))
                break
        if reason is not None:
            blocked[order.key] = reason
            continue
        for scope in mine:
            planned[id(scope)] += order.amount
    for scope in scopes:
        if scope.kind == "airbus_order":  # its price, bought or not
            planned[id(scope)] = next(o.amount for o in orders if o.key == scope.name)
    checks = [
        _check(s, before[id(s)], planned[id(s)], today, ok=id(s) not in failed) for s in scopes
    ]
    return BudgetResult(blocked=blocked, checks=checks)


def _check(
    scope: _Scope, before: Decimal, planned: Decimal, today: date, *, ok: bool
) -> BudgetCheck:
    start = window_start(scope.limit.per, today)
    return BudgetCheck(
        scope=scope.kind,  # type: ignore[arg-type]
        name=scope.name,
        currency=scope.limit.currency,
        limit=scope.limit.amount,
        per=scope.limit.per,  # type: ignore[arg-type]
        window_start=start.isoformat() if start else None,
        spent_before=before,
        planned=planned,
        left=scope.limit.amount - before - planned,
        ok=ok,
    )


def _over(scope: _Scope, order: PricedOrder, spent: Decimal) -> str | None:
    limit = scope.limit
    if limit.currency != order.currency:
        return f"order priced in {order.currency} but the {scope.label} is in {limit.currency}"
    if spent + order.amount > limit.amount:
        already = (
            ""
            if scope.kind == "airbus_order"
            else (
                f" ({money(spent, limit.currency)} already committed + "
                f"{money(order.amount, order.currency)})"
            )
        )
        if scope.kind == "airbus_order":
            return (
                f"order price {money(order.amount, order.currency)} exceeds the "
                f"{scope.label} {money(limit.amount, limit.currency)}"
            )
        return f"{scope.label} {money(limit.amount, limit.currency)} would be exceeded{already}"
    return None


def scopes_from_checks(checks: Iterable[BudgetCheck]) -> list[_Scope]:
    """The limits a plan carries, for the re-check made just before ordering."""
    return [_Scope(c.scope, c.name, Limit(c.limit, c.currency, c.per)) for c in checks]


class RunRecheck:
    """Whether ordering now at a given amount breaks a limit of the plan, counting everything
    the state records (including what this run already bought) and nothing else: for each
    order of one apply run, in time proportional to the run's own records rather than to the
    whole state's.

    Apply holds the state lock, so during the run only its own writes change the state, and
    only the records of its orders' addresses (``touched``), by appending or updating their
    newest order. The spend of every order not held by those records alone is added up once
    per limit and window; the touched records are read again at each check."""

    def __init__(self, checks: Sequence[BudgetCheck], state: State, touched: Iterable[str]):
        self._scopes = scopes_from_checks(checks)
        self._touched = tuple(dict.fromkeys(touched))
        mine = set(self._touched)
        others = (r for address, r in state.resources.items() if address not in mine)
        # an address-less order is never written during a run, so its holders stay the same
        self._holders = _Holders(state)
        held_elsewhere = _live_spends(state, others, self._holders)
        self._settled_ids = set(held_elsewhere)
        self._settled = [s for s in held_elsewhere.values() if s is not None]
        self._settled += _retired_spends(state)
        self._settled_sums: dict[tuple[int, date | None], Decimal] = {}

    def violation(
        self,
        key: str,
        addresses: Sequence[str],
        amount: Decimal,
        currency: str,
        state: State,
        today: date,
    ) -> str | None:
        order = PricedOrder(key, tuple(addresses), amount, currency)
        touched: list[Spend] | None = None
        for index, scope in enumerate(self._scopes):
            if not scope.covers(order):
                continue
            if touched is None:
                touched = self._touched_spends(state)
            spent = self._settled_sum(index, scope, today) + spent_before(scope, touched, today)
            reason = _over(scope, order, spent)
            if reason is not None:
                return reason
        return None

    def _settled_sum(self, index: int, scope: _Scope, today: date) -> Decimal:
        window = (index, window_start(scope.limit.per, today))
        if window not in self._settled_sums:
            self._settled_sums[window] = spent_before(scope, self._settled, today)
        return self._settled_sums[window]

    def _touched_spends(self, state: State) -> list[Spend]:
        records = (state.resources.get(address) for address in self._touched)
        live = _live_spends(state, (r for r in records if r is not None), self._holders)
        return [
            spend
            for identity, spend in live.items()
            if spend is not None and identity not in self._settled_ids
        ]


# accept_quotations_up_to is written in EUR (docs/SPEC.md): a quote in another currency is
# never accepted without a person.
THRESHOLD_CURRENCY = "EUR"


def within_threshold(
    amount: Decimal | None, currency: str | None, threshold: Decimal | None
) -> bool:
    """Whether a quoted amount may be accepted without asking (same currency, not above)."""
    if threshold is None or amount is None or currency != THRESHOLD_CURRENCY:
        return False
    return amount <= threshold

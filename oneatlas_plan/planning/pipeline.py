"""The planning pipeline: orders are priced while the rest of the plan is still being made.

Pricing is the slow, rate-limited phase (one ordering request at a time, an interval apart);
searching, selecting and checking are local or on other budgets. So resources flow through
in address order (:class:`AddressFrontier`): once every resource sorting before one is
resolved, its overlap check is final and its order can be formed exactly as
:func:`~oneatlas_plan.planning.orders.build_orders` would form it over the whole set
(:class:`OrderStream`); that order then goes to a single pricing thread (:class:`Pricer`) fed
by a queue, so the ordering API is busy as soon as there is anything to price. The plan made
this way is the plan made in sequence: same orders, same prices, same order of everything.
"""

from __future__ import annotations

import heapq
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

from oneatlas_plan.planning.orders import (
    OrderDraft,
    ResolvedResource,
    draft_order,
    fits,
    pair_limit,
    share_class,
    split_cover,
)

T = TypeVar("T")


class AddressFrontier(Generic[T]):
    """Items keyed by address, handed out in address order once each is ready and every item
    sorting before it is out; ``horizon`` is the smallest address not handed out yet."""

    def __init__(self, items: Iterable[tuple[str, T]]) -> None:
        self._order = sorted(items, key=lambda pair: pair[0])
        self._ready: set[str] = set()
        self._next = 0

    def ready(self, address: str) -> list[T]:
        """Mark ``address`` ready; the items now released, in address order."""
        self._ready.add(address)
        released = []
        while self._next < len(self._order) and self._order[self._next][0] in self._ready:
            released.append(self._order[self._next][1])
            self._next += 1
        return released

    @property
    def horizon(self) -> str | None:
        return self._order[self._next][0] if self._next < len(self._order) else None


class OrderStream:
    """:func:`~oneatlas_plan.planning.orders.build_orders` fed one resource at a time.

    ``group`` walks the parts of every cover in address order, each joining the open order of
    its class (:func:`~oneatlas_plan.planning.orders.share_class`) or closing it when it does
    not fit. Resources arrive in address order, but a part's address (``a[part1]``) may sort
    after another resource's (``a2``), so parts wait in a heap until no part sorting before
    them can still come: every part of a resource not yet added sorts at or after that
    resource's address (the ``horizon``). Orders come out as they close, not in
    ``build_orders``' order (by first address): :func:`in_build_order` sorts them back.
    """

    def __init__(self, *, closes_when_full: bool = False) -> None:
        # Whether every part has a scene: then nothing joins a full order, which is complete.
        self._closes_when_full = closes_when_full
        self._waiting: list[tuple[str, int, ResolvedResource]] = []
        self._count = 0
        self._open: dict[tuple[Any, ...], list[ResolvedResource]] = {}

    def add(self, resource: ResolvedResource) -> None:
        for part in split_cover(resource):
            heapq.heappush(self._waiting, (part.address, self._count, part))
            self._count += 1

    def release(self, horizon: str | None) -> list[OrderDraft]:
        """The orders now complete; with ``horizon`` None (nothing more will come), all."""
        drafts = []
        while self._waiting and (horizon is None or self._waiting[0][0] < horizon):
            part = heapq.heappop(self._waiting)[2]
            kind = share_class(part)
            chunk = self._open.get(kind)
            if chunk is not None and fits(chunk, part):
                chunk.append(part)
            else:
                if chunk is not None:
                    drafts.append(draft_order(chunk))
                chunk = self._open[kind] = [part]
            if self._closes_when_full and _full(chunk):
                drafts.append(draft_order(chunk))
                del self._open[kind]
        if horizon is None:
            drafts += [draft_order(chunk) for chunk in self._open.values()]
            self._open.clear()
        return drafts


def in_build_order(drafts: Iterable[OrderDraft]) -> list[OrderDraft]:
    """Drafts of one :class:`OrderStream` in the order ``build_orders`` gives them."""
    return sorted(drafts, key=lambda draft: draft.resources[0].address)


def _full(chunk: Sequence[ResolvedResource]) -> bool:
    return sum(len(r.scenes) for r in chunk) >= pair_limit(chunk[0].template)


class Pricer:
    """One thread pricing the drafts put to it, in the order they come.

    ``price_one`` is called in the thread and must be safe to call there (the client is).
    The first error it raises stops the thread; :meth:`put` and :meth:`close` then raise it
    in the caller's thread, so it reaches the one error boundary as if raised there. Leaving
    the ``with`` block on an error (or Ctrl-C) stops the thread after the call in flight, so
    the ordering gate records the end of every request this process sent.
    """

    def __init__(
        self,
        price_one: Callable[[OrderDraft], None],
        on_progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> None:
        self._price_one = price_one
        self._on_progress = on_progress
        self._queue: queue.SimpleQueue[OrderDraft | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._queued = 0
        self._done = 0
        self._thread = threading.Thread(target=self._run, name="oneatlas-pricing", daemon=True)

    def __enter__(self) -> Pricer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is not None:
            self._stop.set()
        self._queue.put(None)
        self._thread.join()
        if error is None:
            self._raise_failure()

    def put(self, drafts: Sequence[OrderDraft]) -> None:
        self._raise_failure()
        for draft in drafts:
            with self._lock:
                self._queued += 1
            self._queue.put(draft)

    @property
    def queued(self) -> int:
        with self._lock:
            return self._queued

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            draft = self._queue.get()
            if draft is None or self._stop.is_set():
                return
            with self._lock:
                done, total = self._done, self._queued
            self._on_progress(done, total)
            try:
                self._price_one(draft)
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                self._error = error
                self._stop.set()
                return
            with self._lock:
                self._done += 1

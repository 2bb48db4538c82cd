"""The plan and apply use cases around the state: lock, reconcile, plan, apply.

Both start by reconciling records whose outcome is unknown (only when there are some: an
unchanged, fully applied state costs no request).
"""

from __future__ import annotations

import hashlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oneatlas_plan import _files
from oneatlas_plan.applying.reconcile import ReconcileResult, reconcile, unsettled
from oneatlas_plan.errors import StateLockedError
from oneatlas_plan.planning.model import Plan
from oneatlas_plan.planning.planfile import write_plan
from oneatlas_plan.planning.planner import Event
from oneatlas_plan.planning.run import plan_specs, previous_plan
from oneatlas_plan.spec.loader import MAX_FILE_BYTES
from oneatlas_plan.state.backends import StateBackend, StateStore
from oneatlas_plan.state.lock import LockInfo
from oneatlas_plan.state.model import State

if TYPE_CHECKING:
    from oneatlas_plan.api.client import OneAtlasClient
    from oneatlas_plan.applying.apply import ApplyResult, ApplySettings

ClientFactory = Callable[[], "OneAtlasClient"]
Warn = Callable[[str], None]


@dataclass(frozen=True)
class Workspace:
    """Where the tool runs: the endpoint, the state (a backend), how to get a client."""

    endpoint: str
    state: StateBackend
    client: ClientFactory
    warn: Warn
    lock_timeout: float = 30.0
    spec_cache: Path | None = None  # where spec loading keeps its cache (None: no cache)


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def locked_store(workspace: Workspace, timeout: float | None = None) -> Iterator[StateStore]:
    def stale(info: LockInfo) -> None:
        workspace.warn(f"took over a stale lock: {info.describe()}")

    lock = workspace.state.lock()
    lock.acquire(workspace.lock_timeout if timeout is None else timeout, on_stale=stale)
    try:
        with workspace.state.store() as store:
            store.view()  # read it now, under the lock (no copy: nobody holds it yet)
            yield store
    finally:
        lock.release()


def _reconcile_if_needed(
    workspace: Workspace, state: State, contracts: dict[str, str], *, reader: bool = False
) -> ReconcileResult | None:
    """Settle unsettled records with Airbus under the state lock. A reader (``plan``) never
    waits for a running apply: if the lock is held, the records stay as they are (the plan
    shows them blocked) and the plan, made against this serial, is refused as stale later."""
    if not unsettled(state):
        return None
    try:
        with locked_store(workspace, timeout=0.0 if reader else None) as store:
            result = reconcile(store, workspace.client(), contracts, _now)
    except StateLockedError as locked:
        if not reader:
            raise
        workspace.warn(
            "not reconciled now: another run holds the state "
            f"({locked.args[0] if locked.args else locked}); its orders in progress are "
            "shown as blocked"
        )
        return None
    report_reconcile(result, workspace.warn)
    return result


def report_reconcile(result: ReconcileResult, warn: Warn) -> None:
    for address, order_id in sorted(result.resolved.items()):
        warn(f"reconciled {address}: Airbus has order {order_id}")
    for address, order_id in sorted(result.accepted.items()):
        warn(f"{address}: quotation accepted (sales order {order_id}), recorded as spend")
    for address in result.not_ordered:
        warn(f"{address}: {result.hints[address]}")
    for address in result.unresolved:
        warn(
            f"{address}: the outcome of its order is still unknown (not found at Airbus yet); "
            f"it stays blocked. {result.hints.get(address, '')}".rstrip()
        )
    for address in result.accept_in_flight + result.left_quoted:
        warn(f"{address}: {result.hints[address]}")
    for address in result.awaiting_accept:
        warn(
            f"{address}: its quotation is within the reviewed accept_quotations_up_to but was "
            "not accepted (an interrupted run): the next `oneatlas-plan apply` accepts it"
        )


def plan_with_state(
    workspace: Workspace,
    paths: Sequence[Path],
    *,
    out: Path | None,
    targets: Sequence[str] = (),
    on_event: Event | None = None,
    refresh: bool = False,
    replace: Sequence[str] = (),
    allow_overlap: bool = False,
) -> Plan:
    if refresh:
        from oneatlas_plan.applying.refresh import refresh_with_state

        refresh_with_state(workspace, targets=targets, on_event=on_event)
    state = workspace.state.store().load()
    if unsettled(state):
        from oneatlas_plan.planning.from_spec import desired_set
        from oneatlas_plan.spec.loader import load_specs

        desired = desired_set(load_specs(list(paths), cache_dir=workspace.spec_cache))
        contracts = {r.address: r.template.contract_id for r in desired.resources}
        if _reconcile_if_needed(workspace, state, contracts, reader=True) is not None:
            state = workspace.state.store().load()
    plan = plan_specs(
        paths,
        state,
        workspace.client,
        endpoint=workspace.endpoint,
        targets=targets,
        previous=lambda: previous_plan(out),
        on_event=on_event,
        replace=replace,
        allow_overlap=allow_overlap,
        spec_cache=workspace.spec_cache,
    )
    if out is not None:
        write_plan(plan, out)
    return plan


class StopFlag:
    """Ctrl-C during apply: let the in-flight order finish and be recorded, then stop."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._previous: Any = None

    def __call__(self) -> bool:
        return self._event.is_set()

    def _handler(self, signum: int, frame: object) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt
        self._event.set()

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def changed_spec_files(plan: Plan) -> list[str]:
    """Spec files edited (or gone) since the plan was made: the plan still applies as reviewed."""
    messages = []
    for name, digest in sorted(plan.spec_files.items()):
        path = Path(name)
        try:
            current = hashlib.sha256(_files.read_regular(path, MAX_FILE_BYTES)).hexdigest()
        except OSError:
            messages.append(f"{name} is gone since the plan was made (applying the plan as made)")
            continue
        if current != digest:
            messages.append(
                f"{name} changed since the plan was made: applying the plan as reviewed; "
                "plan again to include the change"
            )
    return messages


def apply_with_state(
    workspace: Workspace,
    plan: Plan,
    settings: ApplySettings,
    on_event: Event | None = None,
    on_accepted: Callable[[], None] | None = None,
) -> ApplyResult:
    """Apply exactly ``plan``: checked fresh under the lock (then ``on_accepted``, e.g. to
    show it: a refused plan is never shown as if it would apply), then submitted write-ahead."""
    from oneatlas_plan.applying.apply import apply_plan, check_fresh  # a plan needs neither

    for message in changed_spec_files(plan):
        workspace.warn(message)
    with locked_store(workspace) as store:
        check_fresh(plan, store.view(), workspace.endpoint)
        if on_accepted is not None:
            on_accepted()
        to_settle = bool(unsettled(store.view()))
        needs_client = to_settle or any(o.action in ("create", "reorder") for o in plan.orders)
        client = workspace.client() if needs_client else None
        contracts = {a: o.contract_id for o in plan.orders for a in o.addresses}
        if to_settle and client is not None:
            report_reconcile(reconcile(store, client, contracts, _now, accept=True), workspace.warn)
        return apply_plan(plan, store, client, settings, on_event)

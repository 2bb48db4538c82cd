"""`oneatlas-plan state`: inspect, repair, migrate and move the state (no OneAtlas access)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from oneatlas_plan.cli.options import lock_timeout_option, state_option
from oneatlas_plan.errors import ExitCode, StateError
from oneatlas_plan.render.state_table import (
    render_resource,
    render_retired,
    render_state_table,
    state_list_json,
)
from oneatlas_plan.state.backends import (
    StateBackend,
    StateStore,
    is_database_url,
    open_backend,
)
from oneatlas_plan.state.lock import LockInfo, current_user
from oneatlas_plan.state.model import ResourceRecord, dumps, utc_now
from oneatlas_plan.state.operations import remove_resource, resolve_order
from oneatlas_plan.state.transfer import copy_state

FORMAT = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
LOCK_TIMEOUT = lock_timeout_option(default="0s")


def _warn_stale(info: LockInfo) -> None:
    click.echo(f"Warning: took over the stale lock of {info.describe()}", err=True)


def _load_existing(backend: StateBackend) -> StateStore:
    store = backend.store()
    if not store.exists():
        raise StateError(f"state {backend.location} does not exist")
    store.view()  # read (and checked) now; load() would hand its copy away and read again
    return store


def _no_state(backend: StateBackend) -> str:
    what = "state" if is_database_url(backend.location) else "state file"
    return f"No {what} {backend.location}: nothing was ordered with it yet."


@contextmanager
def _locked(backend: StateBackend, lock_timeout: float) -> Iterator[StateStore]:
    lock = backend.lock()
    lock.acquire(lock_timeout, on_stale=_warn_stale)
    try:
        with _load_existing(backend) as store:
            yield store
    finally:
        lock.release()


@click.group()
def state() -> None:
    """Inspect, repair and move the state (never calls OneAtlas, never cancels an order)."""


@state.command("list")
@state_option
@FORMAT
def list_(state_backend: StateBackend, output_format: str) -> int:
    """Every order of every resource, with the total spent per currency."""
    store = state_backend.store()
    current = store.load()
    if output_format == "json":
        click.echo(dumps(state_list_json(current)), nl=False)
    elif not store.exists():
        click.echo(_no_state(state_backend))
    else:
        click.echo(render_state_table(current), nl=False)
    return ExitCode.OK


@state.command("show")
@click.argument("address")
@state_option
@FORMAT
def show(address: str, state_backend: StateBackend, output_format: str) -> int:
    """Everything recorded about one resource (or the retired orders of one that left)."""
    store = _load_existing(state_backend)
    record = store.get(address)
    if record is None:
        retired = [entry for entry in store.view().retired if entry.address == address]
        if not retired:
            raise StateError(f"no resource {address!r} in state {state_backend.location}")
        if output_format == "json":
            click.echo(dumps([entry.model_dump(mode="json") for entry in retired]), nl=False)
        else:
            click.echo(render_retired(address, retired), nl=False)
        return ExitCode.OK
    if output_format == "json":
        click.echo(dumps(record.model_dump(mode="json")), nl=False)
    else:
        click.echo(render_resource(record), nl=False)
    return ExitCode.OK


@state.command("rm")
@click.argument("address")
@state_option
@LOCK_TIMEOUT
def rm(address: str, state_backend: StateBackend, lock_timeout: float) -> int:
    """Forget ADDRESS. Nothing is cancelled at Airbus: a later plan may order it again.

    Its orders that spent (or may have) are kept as retired orders: they still count in
    every budget and in the double-purchase check (`state list` shows them)."""
    with _locked(state_backend, lock_timeout) as store:
        removed = remove_resource(store, address, f"{current_user()}@{socket.gethostname()}")
    click.echo(f"Removed {address} from {state_backend.location}.")
    if removed.status in ("ordered", "unknown", "pending", "quoted"):
        click.echo(_forgotten_warning(removed), err=True)
    return ExitCode.OK


def _forgotten_warning(record: ResourceRecord) -> str:
    order = record.current
    reference = "?" if order is None else (
        order.sales_order_id or order.quotation_id or order.customer_reference
    )
    warning = (
        f"Warning: its {record.status} order ({reference}) was NOT cancelled at Airbus, "
        "and the next plan will propose to order this resource again"
    )
    if record.status == "quoted":
        return warning + "."
    warning += (
        " (the same scene over the same ground is blocked as a double purchase)."
        " Its spend still counts in every budget (a retired order in `state list`)"
    )
    if record.status in ("unknown", "pending"):
        warning += (
            "; if Airbus never had that order, stop counting it with "
            f"`oneatlas-plan state resolve {record.address} --not-ordered`"
        )
    return warning + "."


@state.command("unlock")
@click.argument("lock_id")
@state_option
def unlock(lock_id: str, state_backend: StateBackend) -> int:
    """Break the lock LOCK_ID of a dead run (refused for a live process on this host)."""
    holder = state_backend.break_lock(lock_id)
    click.echo(f"Unlocked state {state_backend.location} (was held by {holder.describe()}).")
    return ExitCode.OK


@state.command("resolve")
@click.argument("address")
@click.option(
    "--ordered",
    "sales_order_id",
    metavar="SALES_ORDER_ID",
    default=None,
    help="Airbus has this order (its salesOrderId).",
)
@click.option("--not-ordered", is_flag=True, help="Airbus has no such order.")
@state_option
@LOCK_TIMEOUT
def resolve(
    address: str,
    sales_order_id: str | None,
    not_ordered: bool,
    state_backend: StateBackend,
    lock_timeout: float,
) -> int:
    """Settle an unknown or pending order of ADDRESS after checking with Airbus."""
    if (sales_order_id is None) == (not not_ordered):
        raise click.UsageError("give exactly one of --ordered SALES_ORDER_ID or --not-ordered")
    with _locked(state_backend, lock_timeout) as store:
        settled = resolve_order(
            store,
            address,
            sales_order_id=sales_order_id,
            resolved_by=f"{current_user()}@{socket.gethostname()}",
            now=utc_now(),
        )
    for settled_address, status in settled:
        click.echo(f"{settled_address}: {status}")
    return ExitCode.OK


@state.command("migrate")
@state_option
def migrate(state_backend: StateBackend) -> int:
    """Create or upgrade the state's tables (PostgreSQL; a file needs nothing)."""
    for line in state_backend.migrate():
        click.echo(line)
    return ExitCode.OK


def _file_backend(path: Path) -> StateBackend:
    if path.is_dir():
        raise click.BadParameter(f"{path} is a directory, not a state file")
    return open_backend(path)


@state.command("push")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@state_option
@LOCK_TIMEOUT
def push(source: Path, state_backend: StateBackend, lock_timeout: float) -> int:
    """Copy the state file SOURCE into --state (e.g. a database), unless --state is newer."""
    copied = copy_state(_file_backend(source), state_backend, lock_timeout=lock_timeout)
    click.echo(_copied(copied.unchanged, source, state_backend.location, copied.serial))
    return ExitCode.OK


@state.command("pull")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@state_option
@LOCK_TIMEOUT
def pull(target: Path, state_backend: StateBackend, lock_timeout: float) -> int:
    """Copy the state of --state into the file TARGET, unless TARGET is newer."""
    copied = copy_state(state_backend, _file_backend(target), lock_timeout=lock_timeout)
    click.echo(_copied(copied.unchanged, state_backend.location, target, copied.serial))
    return ExitCode.OK


def _copied(unchanged: bool, source: object, target: object, serial: int) -> str:
    if unchanged:
        return f"{target} already holds serial {serial} of {source}: nothing to copy."
    return f"Copied {source} (serial {serial}) to {target}."


@state.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (atomically) instead of stdout.",
)
@state_option
def export(out: Path | None, state_backend: StateBackend) -> int:
    """A backup: the whole state as a state file (canonical JSON), from any backend."""
    current = _load_existing(state_backend).state()
    if out is None:
        click.echo(current.to_json(), nl=False)
        return ExitCode.OK
    if out.exists():
        raise StateError(f"{out} exists: refusing to overwrite a backup (choose another name)")
    with open_backend(out).store() as store:
        store.replace(current)
    click.echo(f"Exported {state_backend.location} (serial {current.serial}) to {out}.")
    return ExitCode.OK

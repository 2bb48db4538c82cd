"""`oneatlas-plan state`: inspect and repair the state file (no OneAtlas access)."""

from __future__ import annotations

import socket
from pathlib import Path

import click

from oneatlas_plan.cli.options import lock_timeout_option, state_option
from oneatlas_plan.errors import ExitCode, StateError
from oneatlas_plan.render.state_table import (
    render_resource,
    render_state_table,
    state_list_json,
)
from oneatlas_plan.state.lock import LockInfo, StateLock, break_lock, current_user
from oneatlas_plan.state.model import ResourceRecord, dumps, utc_now
from oneatlas_plan.state.operations import remove_resource, resolve_order
from oneatlas_plan.state.store import StateStore

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


def _load_existing(state_path: Path) -> StateStore:
    store = StateStore(state_path)
    if not store.exists():
        raise StateError(f"state file {state_path} does not exist")
    store.load()
    return store


@click.group()
def state() -> None:
    """Inspect and repair the state file (never calls OneAtlas, never cancels an order)."""


@state.command("list")
@state_option
@FORMAT
def list_(state_path: Path, output_format: str) -> int:
    """Every order of every resource, with the total spent per currency."""
    store = StateStore(state_path)
    current = store.load()
    if output_format == "json":
        click.echo(dumps(state_list_json(current)), nl=False)
    elif not store.exists():
        click.echo(f"No state file {state_path}: nothing was ordered with it yet.")
    else:
        click.echo(render_state_table(current), nl=False)
    return ExitCode.OK


@state.command("show")
@click.argument("address")
@state_option
@FORMAT
def show(address: str, state_path: Path, output_format: str) -> int:
    """Everything recorded about one resource."""
    record = _load_existing(state_path).get(address)
    if record is None:
        raise StateError(f"no resource {address!r} in state {state_path}")
    if output_format == "json":
        click.echo(dumps(record.model_dump(mode="json")), nl=False)
    else:
        click.echo(render_resource(record), nl=False)
    return ExitCode.OK


@state.command("rm")
@click.argument("address")
@state_option
@LOCK_TIMEOUT
def rm(address: str, state_path: Path, lock_timeout: float) -> int:
    """Forget ADDRESS. Nothing is cancelled at Airbus: a later plan may order it again."""
    with (
        StateLock(state_path, timeout=lock_timeout, on_stale=_warn_stale),
        _load_existing(state_path) as store,
    ):
        removed = remove_resource(store, address)
    click.echo(f"Removed {address} from {state_path}.")
    if removed.status in ("ordered", "unknown", "pending", "quoted"):
        click.echo(_forgotten_warning(removed), err=True)
    return ExitCode.OK


def _forgotten_warning(record: ResourceRecord) -> str:
    order = record.current
    assert order is not None
    reference = order.sales_order_id or order.quotation_id or order.customer_reference
    return (
        f"Warning: its {record.status} order ({reference}) was NOT cancelled at Airbus, "
        "and the next plan will order this resource again."
    )


@state.command("unlock")
@click.argument("lock_id")
@state_option
def unlock(lock_id: str, state_path: Path) -> int:
    """Break the lock LOCK_ID of a dead run (refused for a live process on this host)."""
    holder = break_lock(state_path, lock_id)
    click.echo(f"Unlocked state {state_path} (was held by {holder.describe()}).")
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
    state_path: Path,
    lock_timeout: float,
) -> int:
    """Settle an unknown or pending order of ADDRESS after checking with Airbus."""
    if (sales_order_id is None) == (not not_ordered):
        raise click.UsageError("give exactly one of --ordered SALES_ORDER_ID or --not-ordered")
    with (
        StateLock(state_path, timeout=lock_timeout, on_stale=_warn_stale),
        _load_existing(state_path) as store,
    ):
        settled = resolve_order(
            store,
            address,
            sales_order_id=sales_order_id,
            resolved_by=f"{current_user()}@{socket.gethostname()}",
            now=utc_now(),
        )
    for record in settled:
        click.echo(f"{record.address}: {record.status}")
    return ExitCode.OK

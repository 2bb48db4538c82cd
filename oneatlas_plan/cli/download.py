"""`oneatlas-plan download`: fetch delivered products, verified, resumable, recorded."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from oneatlas_plan.cli.context import AppContext
from oneatlas_plan.cli.options import common_options, json_format_option, lock_timeout_option
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.render.download_text import render_download


def byte_bar(name: str, total: int | None, initial: int) -> Any:
    """A tqdm bar on stderr with sizes and rates."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=name if len(name) <= 40 else "…" + name[-39:],
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        leave=False,
        delay=0.5,
        dynamic_ncols=True,
    )


@click.command()
@click.argument("addresses", nargs=-1)
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("downloads"),
    show_default=True,
    help="Directory receiving the products.",
)
@click.option("--extract", is_flag=True, help="Unpack each product ZIP (safely) into --dest.")
@lock_timeout_option(help="How long to wait for the state lock when recording a file.")
@json_format_option
@common_options
def download(
    app: AppContext,
    addresses: tuple[str, ...],
    dest: Path,
    extract: bool,
    lock_timeout: float,
    output_format: str,
) -> int:
    """Download the delivered products of ADDRESSES (all when none), as recorded by refresh."""
    from oneatlas_plan.applying.download import download_with_state

    result = download_with_state(
        app.workspace(lock_timeout),
        addresses,
        dest,
        extract=extract,
        progress=byte_bar,
        now=lambda: datetime.now(UTC),
    )
    if output_format == "json":
        from oneatlas_plan.render.machine import download_output

        click.echo(download_output(result).to_json(), nl=False)
    else:
        click.echo(render_download(result), nl=False)
    return ExitCode.ERROR if result.failed else ExitCode.OK

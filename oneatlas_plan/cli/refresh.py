"""`oneatlas-plan refresh`: learn from Airbus what became of every order (orders nothing)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from oneatlas_plan.cli.context import AppContext
from oneatlas_plan.cli.options import common_options, json_format_option, lock_timeout_option
from oneatlas_plan.cli.progress import StageProgress
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.render.refresh_text import render_refresh


@click.command()
@click.argument("targets", nargs=-1)
@lock_timeout_option()
@json_format_option
@common_options
def refresh(
    app: AppContext, targets: tuple[str, ...], lock_timeout: float, output_format: str
) -> int:
    """Record production status and delivered items of every order (or of TARGETS)."""
    from oneatlas_plan.applying.refresh import refresh_with_state

    with StageProgress() as progress:
        result = refresh_with_state(app.workspace(lock_timeout), targets=targets, on_event=progress)
    if output_format == "json":
        from oneatlas_plan.render.machine import refresh_output

        click.echo(refresh_output(result).to_json(), nl=False)
    else:
        click.echo(render_refresh(result, datetime.now(UTC)), nl=False)
    return ExitCode.OK

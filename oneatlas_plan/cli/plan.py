"""`oneatlas-plan plan`: specs -> a priced, reviewable plan (shown, or written with --out)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from oneatlas_plan.cli.context import AppContext
from oneatlas_plan.cli.options import common_options, purchase_override_options
from oneatlas_plan.cli.progress import StageProgress
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.model import Plan
from oneatlas_plan.render.plan_text import render_plan_text
from oneatlas_plan.render.style import use_colour

DEFAULT_SPECS = Path("specs")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the plan file.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown", "geojson"]),
    default="text",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when applying would buy, quote or change the state; 0 otherwise; 1: error.",
)
@click.option("--refresh", is_flag=True, help="Check deliveries of ordered resources first.")
@click.option("--target", "targets", multiple=True, help="Plan only this address (or prefix).")
@click.option("--fail-on-unsatisfied", is_flag=True, help="Exit 1 when a resource is unsatisfied.")
@click.option("--no-color", is_flag=True, help="No colour (also: NO_COLOR set, or not a TTY).")
@click.option("--fail-on-blocked", is_flag=True, help="Exit 1 when a resource is blocked.")
@purchase_override_options
@common_options
def plan(
    app: AppContext,
    paths: tuple[Path, ...],
    out: Path | None,
    output_format: str,
    detailed_exitcode: bool,
    refresh: bool,
    targets: tuple[str, ...],
    fail_on_unsatisfied: bool,
    no_color: bool,
    fail_on_blocked: bool,
    replace: tuple[str, ...],
    allow_overlap: bool,
) -> int:
    """Resolve the specs (search, select, price) into a plan. Shows it; --out writes it."""
    from oneatlas_plan.applying.session import plan_with_state

    with StageProgress() as progress:
        result = plan_with_state(
            app.workspace(),
            list(paths) or [DEFAULT_SPECS],
            out=out,
            targets=targets,
            on_event=progress,
            refresh=refresh,
            replace=replace,
            allow_overlap=allow_overlap,
        )
    if output_format == "text":
        colour = use_colour(isatty=sys.stdout.isatty(), environ=app.environ, no_color=no_color)
        click.echo(render_plan_text(result, colour=colour), nl=False, color=colour)
    else:
        from oneatlas_plan.render.plans import render_plan

        click.echo(render_plan(result, output_format), nl=False)
    if out is not None and result.has_changes:
        click.echo(
            f"\nPlan written to {out}. Apply it with: oneatlas-plan apply {out}{app.flags}",
            err=True,
        )
    elif out is not None:
        click.echo(f"\nPlan written to {out}: no changes, nothing to apply.", err=True)
    return exit_code(
        result,
        detailed_exitcode=detailed_exitcode,
        fail_on_unsatisfied=fail_on_unsatisfied,
        fail_on_blocked=fail_on_blocked,
    )


def exit_code(
    result: Plan, *, detailed_exitcode: bool, fail_on_unsatisfied: bool, fail_on_blocked: bool
) -> int:
    if fail_on_unsatisfied and any(r.reason.startswith("unsatisfied") for r in result.resources):
        return ExitCode.ERROR
    if fail_on_blocked and any(r.action == "blocked" for r in result.resources):
        return ExitCode.ERROR
    if detailed_exitcode and result.will_change:
        return ExitCode.CHANGES
    return ExitCode.OK

"""`oneatlas-plan diff OLD NEW`: what changed between two plans (for PR reviewers)."""

from __future__ import annotations

from pathlib import Path

import click

from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.planfile import read_plan
from oneatlas_plan.render.plan_diff import diff_plans, render_diff


@click.command()
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
def diff(old: Path, new: Path, output_format: str) -> int:
    """Compare two plan files: orders added/removed, scene, option and price changes."""
    click.echo(render_diff(diff_plans(read_plan(old), read_plan(new)), output_format), nl=False)
    return ExitCode.OK

"""`oneatlas-plan show PLANFILE`: render a plan file for people, scripts or maps."""

from __future__ import annotations

from pathlib import Path

import click

from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.planfile import read_plan
from oneatlas_plan.render.plans import render_plan


@click.command()
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown", "geojson"]),
    default="text",
    show_default=True,
)
def show(plan_file: Path, output_format: str) -> int:
    """Show PLAN_FILE (checksum verified) as text, json, markdown or geojson."""
    click.echo(render_plan(read_plan(plan_file), output_format), nl=False)
    return ExitCode.OK

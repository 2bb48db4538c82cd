"""``oneatlas-plan validate [PATHS...]``: check spec files offline (no endpoint, no API key)."""

from __future__ import annotations

from pathlib import Path

import click

from oneatlas_plan.cli.options import json_format_option
from oneatlas_plan.errors import ExitCode

DEFAULT_PATHS = (Path("specs"),)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@json_format_option
def validate(paths: tuple[Path, ...], output_format: str) -> int:
    """Check spec files or directories (recursively, *.yaml/*.yml; default: specs/).

    Reports every problem at once as path:line:col: location: message. Exit 0 when all
    specs are valid (warnings and notes do not fail), 1 otherwise.
    """
    from oneatlas_plan.spec.validate import validate_paths

    report = validate_paths(paths or DEFAULT_PATHS)
    if output_format == "json":
        from oneatlas_plan.render.machine import validate_output

        click.echo(validate_output(report).to_json(), nl=False)
        return ExitCode.OK if report.ok else ExitCode.ERROR
    for line in report.problems + report.warnings:
        click.echo(line, err=True)
    for line in report.notes:
        click.echo(line)
    click.echo(report.summary(), err=not report.ok)
    return ExitCode.OK if report.ok else ExitCode.ERROR

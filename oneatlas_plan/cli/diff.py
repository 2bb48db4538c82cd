"""`oneatlas-plan diff OLD NEW`: what changed between two plans, or the state and a plan."""

from __future__ import annotations

import json
from pathlib import Path

import click

from oneatlas_plan import _files
from oneatlas_plan.errors import ExitCode, InputError
from oneatlas_plan.planning.planfile import MAX_PLAN_BYTES, read_plan
from oneatlas_plan.render.plan_diff import PlanDiff, diff_plans, diff_state_plan, render_diff


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
    """Compare plan OLD (or a state file) with plan NEW: orders added/removed, scene,
    option and price changes, and the spend delta per currency."""
    click.echo(render_diff(_compare(old, new), output_format), nl=False)
    return ExitCode.OK


def _compare(old: Path, new: Path) -> PlanDiff:
    if _is_state(new):
        raise InputError(f"{new}: is a state file; NEW must be a plan file (a state can be OLD)")
    plan = read_plan(new)
    if _is_state(old):
        from oneatlas_plan.state.store import StateStore

        with StateStore(old) as store:
            return diff_state_plan(store.load(), plan)
    return diff_plans(read_plan(old), plan)


def _is_state(path: Path) -> bool:
    """A state file has `lineage` and `resources` but no `format_version` (that of plans).

    Anything unreadable is not a state: read_plan then reports what is wrong with it.
    """
    try:
        data = json.loads(_files.read_regular(path, MAX_PLAN_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return (
        isinstance(data, dict)
        and "format_version" not in data
        and "lineage" in data
        and "resources" in data
    )

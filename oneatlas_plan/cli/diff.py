"""`oneatlas-plan diff OLD NEW`: what changed between two plans, or the state and a plan."""

from __future__ import annotations

import json
from pathlib import Path

import click

from oneatlas_plan import _files
from oneatlas_plan._bulk import bulk
from oneatlas_plan.errors import ExitCode, InputError
from oneatlas_plan.planning.planfile import MAX_PLAN_BYTES, View, iter_plan_pair, read_plan
from oneatlas_plan.render.plan_diff import (
    PlanDiff,
    diff_plan_streams,
    diff_state_plan,
    render_diff,
)


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
    if _is_state(old):
        from oneatlas_plan.state.store import StateStore

        plan = read_plan(new)
        with StateStore(old) as store:
            return diff_state_plan(store.load(), plan)
    # Both read as streams, side by side: the diff holds the changes, not the plans; of
    # each element, what it compares (checked whole: the checksum covers every byte); what
    # both files hold alike, byte for byte, is made once.
    view = View(geometry=False, alternatives=False)
    with bulk():
        return diff_plan_streams(*iter_plan_pair(old, new, view=view))


def _is_state(path: Path) -> bool:
    """A state file has `lineage` and `resources` but no `format_version` (that of plans).

    Files in the indented layout both are written in are judged by their top-level keys (a
    line each, 2-space indent) without being parsed; others are parsed whole. Anything
    unreadable is not a state: reading it as a plan then reports what is wrong with it.
    """
    try:
        with _files.open_regular(path, MAX_PLAN_BYTES) as handle:
            if handle.readline(8) != b"{\n":
                handle.seek(0)
                data = json.loads(handle.read(MAX_PLAN_BYTES + 1).decode("utf-8"))
                keys = set(data) if isinstance(data, dict) else set()
            else:
                keys = set()
                for line in handle:
                    if line.startswith(b'  "'):
                        key = line[3 : line.find(b'"', 3)].decode("utf-8", "replace")
                        if key == "format_version":  # a plan: no need to read further
                            return False
                        keys.add(key)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return "format_version" not in keys and {"lineage", "resources"} <= keys

"""`oneatlas-plan apply`: submit a reviewed plan (or plan specs and confirm) idempotently."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import click

from oneatlas_plan.applying.apply import ApplyResult, ApplySettings
from oneatlas_plan.applying.reprice import RepricePolicy
from oneatlas_plan.cli.context import AppContext
from oneatlas_plan.cli.options import (
    Reprice,
    common_options,
    json_format_option,
    lock_timeout_option,
    purchase_override_options,
)
from oneatlas_plan.cli.plan import DEFAULT_SPECS
from oneatlas_plan.cli.progress import StageProgress
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.model import Plan
from oneatlas_plan.render.apply_text import confirmation_prompt, render_apply_result
from oneatlas_plan.render.plan_text import render_plan_text


def _is_plan_file(paths: tuple[Path, ...]) -> bool:
    return len(paths) == 1 and paths[0].suffix == ".json" and not paths[0].is_dir()


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (spec paths).")
@lock_timeout_option()
@click.option("--fail-fast", is_flag=True, help="Stop at the first rejected order.")
@click.option("--accept-price-changes", is_flag=True, help="Order even if a price rose.")
@json_format_option
@click.option(
    "--reprice",
    type=Reprice(),
    default="older-than 1h",
    show_default=True,
    help="Ask Airbus for a price again before ordering: always, never, or when the plan's "
    "price is older than DURATION (each re-price is one more ordering call).",
)
@purchase_override_options
@common_options
def apply(
    app: AppContext,
    paths: tuple[Path, ...],
    auto_approve: bool,
    lock_timeout: float,
    fail_fast: bool,
    accept_price_changes: bool,
    output_format: str,
    reprice: RepricePolicy,
    replace: tuple[str, ...],
    allow_overlap: bool,
) -> int:
    """Apply PLANFILE exactly, or plan SPEC PATHS and apply after confirmation.

    With --format json the plan shown for confirmation goes to stderr, the result to stdout.
    """
    from oneatlas_plan.applying.session import StopFlag, apply_with_state, plan_with_state
    from oneatlas_plan.planning.planfile import read_plan

    workspace = app.workspace(lock_timeout)
    to_stderr = output_format == "json"  # stdout holds the JSON document only
    reviewed = _is_plan_file(paths)
    if reviewed:
        if replace or allow_overlap:
            raise click.UsageError(
                "--replace and --allow-overlap change what is planned: give them to `plan` "
                "(a plan file is applied exactly as reviewed) or apply spec paths"
            )
        plan = read_plan(paths[0])
    else:
        with StageProgress() as progress:
            plan = plan_with_state(
                workspace,
                list(paths) or [DEFAULT_SPECS],
                out=None,
                on_event=progress,
                replace=replace,
                allow_overlap=allow_overlap,
            )
        click.echo(render_plan_text(plan), err=to_stderr)
        if not _confirmed(plan, auto_approve, workspace.endpoint):
            click.echo("Apply cancelled.", err=True)
            return ExitCode.ERROR
    with StopFlag() as stop, StageProgress() as progress:
        settings = ApplySettings(
            accept_price_changes=accept_price_changes,
            fail_fast=fail_fast,
            price_tolerance=Decimal(0),
            reprice=reprice,
            should_stop=stop,
        )
        result = apply_with_state(
            workspace,
            plan,
            settings,
            on_event=progress,
            # a reviewed plan is shown once accepted (fresh, same endpoint), never before
            on_accepted=(lambda: click.echo(render_plan_text(plan), err=to_stderr))
            if reviewed
            else None,
        )
    if output_format == "json":
        from oneatlas_plan.render.machine import apply_output

        output = apply_output(result, endpoint=workspace.endpoint, flags=app.flags)
        click.echo(output.to_json(), nl=False)
    else:
        click.echo(render_apply_result(result, flags=app.flags))
    return _exit_code(result)


def _confirmed(plan: Plan, auto_approve: bool, endpoint: str) -> bool:
    if not plan.has_changes or auto_approve:
        return True
    placing = sum(1 for o in plan.orders if o.action in ("create", "reorder"))
    try:
        answer = click.prompt(
            confirmation_prompt(placing, plan.totals, endpoint),
            default="",
            show_default=False,
            err=True,
        )
    except click.exceptions.Abort:  # no terminal to answer (CI): never order unconfirmed
        return False
    return str(answer).strip() == "yes"


def _exit_code(result: ApplyResult) -> int:
    if result.interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.ERROR if result.failed else ExitCode.OK

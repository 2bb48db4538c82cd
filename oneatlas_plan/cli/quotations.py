"""`oneatlas-plan quotations`: list, accept or refuse Pléiades Neo quotations."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from oneatlas_plan.applying.quotations import Decision
from oneatlas_plan.cli.context import AppContext
from oneatlas_plan.cli.options import common_options, lock_timeout_option, state_option
from oneatlas_plan.errors import ExitCode, InputError
from oneatlas_plan.render.quotations_text import (
    quotations_json,
    render_acceptance_question,
    render_decision,
    render_quotations,
)
from oneatlas_plan.state.backends import StateBackend
from oneatlas_plan.state.model import dumps

LOCK_TIMEOUT = lock_timeout_option()


@click.group()
def quotations() -> None:
    """Pléiades Neo quotations: nothing is bought until one is accepted."""


@quotations.command("list")
@click.option("--all", "include_decided", is_flag=True, help="Also accepted and refused ones.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
@state_option
def list_(include_decided: bool, output_format: str, state_backend: StateBackend) -> int:
    """Quotations awaiting a decision (from the state; run `refresh` for their validity)."""
    from oneatlas_plan.applying.quotations import quotations as recorded

    found = recorded(state_backend.store().load(), include_decided=include_decided)
    if output_format == "json":
        click.echo(dumps(quotations_json(found)), nl=False)
    else:
        click.echo(render_quotations(found), nl=False)
    return ExitCode.OK


def _decide(app: AppContext, reference: str, decision: Decision, lock_timeout: float) -> int:
    from oneatlas_plan.applying.quotations import decide, find_quotation
    from oneatlas_plan.applying.session import locked_store

    with locked_store(app.workspace(lock_timeout)) as store:
        quotation = find_quotation(store.state(), reference)
        decided = decide(store, app.client(), quotation, decision, datetime.now(UTC))
    click.echo(render_decision(decided), nl=False)
    return ExitCode.OK


def _confirmed(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise InputError(
            "refusing to accept a quotation without confirmation: no terminal to ask; "
            "pass --yes to accept it"
        )
    answer = click.prompt(f"{question} Only 'yes' will be accepted", default="",
                          show_default=False, err=True)
    return str(answer).strip() == "yes"


@quotations.command()
@click.argument("reference", metavar="ADDRESS|QUOTATION_ID")
@click.option("--yes", is_flag=True, help="Accept without asking (the amount is still shown).")
@LOCK_TIMEOUT
@common_options
def accept(app: AppContext, reference: str, yes: bool, lock_timeout: float) -> int:
    """Accept a quotation: Airbus starts production and bills it."""
    from oneatlas_plan.applying.quotations import find_quotation

    quotation = find_quotation(app.workspace(lock_timeout).state.store().load(), reference)
    if quotation.status == "quoted":  # otherwise the decision below says why it cannot be
        click.echo(render_acceptance_question(quotation), err=True)
    if quotation.status == "quoted" and not _confirmed("Accept it and pay?", yes):
        click.echo("Acceptance cancelled: the quotation stays quoted.", err=True)
        return ExitCode.ERROR
    return _decide(app, reference, "accept", lock_timeout)


@quotations.command()
@click.argument("reference", metavar="ADDRESS|QUOTATION_ID")
@LOCK_TIMEOUT
@common_options
def refuse(app: AppContext, reference: str, lock_timeout: float) -> int:
    """Refuse a quotation: nothing is bought (the next plan may order the resource again)."""
    return _decide(app, reference, "refuse", lock_timeout)

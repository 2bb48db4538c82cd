"""Options shared by the commands that talk to OneAtlas or read the state.

They are accepted after the command name (``oneatlas-plan plan specs/ --state s.json``) and
converted once into an :class:`~oneatlas_plan.cli.context.AppContext`, passed to the command
function as ``app``.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from oneatlas_plan.cli.context import AppContext, configure_logging
from oneatlas_plan.errors import StateError

if TYPE_CHECKING:  # imported on use: `validate` (json_format_option) needs neither
    from oneatlas_plan.applying.reprice import RepricePolicy
    from oneatlas_plan.state.backends import StateBackend

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_STATE = "oneatlas-state.json"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class Duration(click.ParamType):
    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        match = _DURATION.match(str(value))
        if match is None:
            self.fail(f"{value!r} is not a duration such as 30s, 2m or 500ms", param, ctx)
        return float(match.group(1)) * _UNITS[match.group(2)]


class Reprice(click.ParamType):
    """``always``, ``never`` or ``older-than DURATION`` (also ``older-than=DURATION``)."""

    name = "always|never|older-than DURATION"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> RepricePolicy:
        from oneatlas_plan.applying.reprice import RepricePolicy

        if isinstance(value, RepricePolicy):
            return value
        text = str(value).strip()
        if text in ("always", "never"):
            return RepricePolicy(mode=text)  # type: ignore[arg-type]
        word, _, age = text.replace("=", " ", 1).partition(" ")
        if word != "older-than" or not age.strip():
            self.fail(
                f"{value!r}: use always, never or 'older-than DURATION' (e.g. older-than 1h)",
                param,
                ctx,
            )
        return RepricePolicy(max_age_s=Duration().convert(age, param, ctx))


def lock_timeout_option(
    default: str = "30s", help: str = "How long to wait for the state lock."
) -> Callable[[F], F]:
    """--lock-timeout DURATION (30s, 2m, 500ms or plain seconds)."""
    return click.option(
        "--lock-timeout", type=Duration(), default=default, show_default=True, help=help
    )


class StateLocation(click.ParamType):
    """A state file path or a ``postgresql://`` URL, opened as its backend (closed at exit)."""

    name = "path|url"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> StateBackend:
        from oneatlas_plan.state.backends import is_database_url, open_backend

        if not isinstance(value, str | Path):
            return value  # type: ignore[return-value]  # already a backend
        text = str(value)
        if not is_database_url(text) and (not text.strip() or Path(text).is_dir()):
            self.fail(f"{text!r} is a directory or empty, not a state file", param, ctx)
        try:
            backend = open_backend(value)
        except StateError as error:
            self.fail(str(error), param, ctx)
        if ctx is not None:
            ctx.call_on_close(backend.close)
        return backend


def purchase_override_options(function: F) -> F:
    """--replace ADDRESS (repeatable) and --allow-overlap: the user asks for a purchase the
    plan would otherwise not make (plan, and apply of spec paths)."""
    function = click.option(
        "--allow-overlap",
        is_flag=True,
        help="Let purchases through that buy a scene already owned or planned over the same "
        "ground.",
    )(function)
    return click.option(
        "--replace",
        "replace",
        multiple=True,
        metavar="ADDRESS",
        help="Buy this resource (address or prefix) again, whatever the state says.",
    )(function)


def json_format_option(function: F) -> F:
    """--format text|json: json is one document on stdout (schemas/*-output.schema.json)."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: one JSON document on stdout for scripts (see schemas/); messages and "
        "progress stay on stderr.",
    )(function)


def state_option(function: F) -> F:
    return click.option(
        "--state",
        "state_backend",
        type=StateLocation(),
        envvar="ONEATLAS_STATE",
        default=DEFAULT_STATE,
        show_default=True,
        help="State file, or postgresql://user@host/db?schema=NAME (env ONEATLAS_STATE).",
    )(function)


def common_options(function: F) -> F:
    """Add --endpoint/--sandbox/--state/--api-key-file/-v and pass ``app: AppContext``."""

    @click.option(
        "--endpoint",
        envvar="ONEATLAS_ENDPOINT",
        default=None,
        help="'production' (default) or a base URL (env ONEATLAS_ENDPOINT).",
    )
    @click.option(
        "--sandbox",
        is_flag=True,
        help="Use the embedded local sandbox (no API key needed; data in .oneatlas-sandbox/).",
    )
    @state_option
    @click.option(
        "--api-key-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="File holding the API key (otherwise env ONEATLAS_API_KEY).",
    )
    @click.option("-v", "--verbose", count=True, help="More output (-vv: HTTP request log).")
    @functools.wraps(function)
    def wrapper(
        *args: Any,
        endpoint: str | None,
        sandbox: bool,
        state_backend: StateBackend,
        api_key_file: Path | None,
        verbose: int,
        **kwargs: Any,
    ) -> Any:
        configure_logging(verbose)
        app = AppContext(
            endpoint=endpoint,
            use_sandbox=sandbox,
            state=state_backend,
            api_key_file=api_key_file,
            verbose=verbose,
            environ=dict(os.environ),
        )
        with app:
            return function(*args, app=app, **kwargs)

    return wrapper  # type: ignore[return-value]

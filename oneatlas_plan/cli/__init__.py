"""The click root: lazy command loading and the one error boundary.

Commands live in one module each and are imported only when invoked, so that
``oneatlas-plan --version`` does not pay for shapely, pyproj, matplotlib or the sandbox.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from oneatlas_plan import __version__
from oneatlas_plan._bulk import freeze_kept
from oneatlas_plan._secrets import redact
from oneatlas_plan.errors import ExitCode, ToolError

# command name -> "module:attribute"; the order is the order shown in --help.
COMMANDS: dict[str, str] = {
    "validate": "oneatlas_plan.cli.validate:validate",
    "plan": "oneatlas_plan.cli.plan:plan",
    "apply": "oneatlas_plan.cli.apply:apply",
    "show": "oneatlas_plan.cli.show:show",
    "diff": "oneatlas_plan.cli.diff:diff",
    "state": "oneatlas_plan.cli.state:state",
    "refresh": "oneatlas_plan.cli.refresh:refresh",
    "download": "oneatlas_plan.cli.download:download",
    "quotations": "oneatlas_plan.cli.quotations:quotations",
    "sandbox": "oneatlas_plan.sandbox.cli:sandbox",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._target_exists(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        module = importlib.import_module(module_name)
        command: click.Command = getattr(module, attribute)
        return command

    @staticmethod
    def _target_exists(name: str) -> bool:
        module_name = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oneatlas-plan")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Plan and apply Airbus OneAtlas archive imagery orders as code.

    Specs (YAML) -> `plan` (a priced, reviewable plan file) -> `apply` (idempotent orders,
    recorded in a state file) -> `refresh` / `download`.

    Defaults come from the nearest oneatlas-plan.toml (see the README), below the
    environment and the command line.
    """
    from oneatlas_plan.config import project_defaults

    ctx.default_map = project_defaults(Path.cwd(), dict(os.environ))


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI inside the one error boundary and exit."""
    freeze_kept()  # one command, then exit: the state read stays until the end
    sys.exit(run(argv))


# pydantic looks for plugins (entry points of every installed distribution, ≈ 50 ms) when
# it builds the first model; a plugin would also see every value validated (state records,
# API answers). The tool uses none: unless the user says otherwise, none are looked for.
PYDANTIC_PLUGINS_ENV = "PYDANTIC_DISABLE_PLUGINS"


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code (see ``ExitCode`` and the README's table)."""
    os.environ.setdefault(PYDANTIC_PLUGINS_ENV, "__all__")
    try:
        result: Any = cli.main(args=argv, prog_name="oneatlas-plan", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        return int(exit_.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return ExitCode.INTERRUPTED
    except click.UsageError as error:
        error.show()
        return ExitCode.USAGE
    except click.ClickException as error:
        error.show()
        return ExitCode.ERROR
    except ToolError as error:
        click.echo(redact(f"Error: {error}"), err=True)
        return int(error.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return ExitCode.INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the boundary: anything else is a bug
        return _internal_error(error)
    return int(result) if isinstance(result, int) else ExitCode.OK


def _internal_error(error: Exception) -> int:
    logger = logging.getLogger("oneatlas_plan")
    if logger.isEnabledFor(logging.DEBUG):
        logger.exception("internal error")
    click.echo(
        redact(f"Internal error ({type(error).__name__}): {error}\n")
        + "This is a bug in oneatlas-plan; run again with -v for details and report it.",
        err=True,
    )
    return ExitCode.INTERNAL

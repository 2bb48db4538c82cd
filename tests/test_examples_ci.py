"""The CI example: a valid GitHub Actions workflow naming only real commands and options."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml

from oneatlas_plan.cli import cli, run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.spec.loader import discover

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "ci" / ".github" / "workflows" / "oneatlas-plan.yml"
OPERATOR = re.compile(r"^([;&|()<>]+|[{}]|\d>+)$")


def load_workflow() -> dict[object, object]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def run_scripts(workflow: dict[object, object]) -> Iterator[str]:
    jobs = workflow["jobs"]
    assert isinstance(jobs, dict)
    for job in jobs.values():
        for step in job["steps"]:
            if "run" in step:
                yield step["run"]


def invocations(script: str) -> Iterator[list[str]]:
    """The argument lists following each `oneatlas-plan` in a shell script."""
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.commenters = "#"
        lexer.whitespace_split = True
        words = list(lexer)
        for index, word in enumerate(words):
            previous = words[index - 1] if index else ";"
            command_position = OPERATOR.match(previous) or previous in ("then", "do", "else")
            if word == "oneatlas-plan" and command_position:
                args = []
                for arg in words[index + 1 :]:
                    if OPERATOR.match(arg):  # ; && || | > >> ( ) { }
                        break
                    args.append(arg)
                yield args


def check_invocation(args: list[str]) -> str:
    """Resolve the (sub)command and check every option; returns the command path."""
    command: click.Command = cli
    path = ["oneatlas-plan"]
    ctx = click.Context(cli)
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        sub = command.get_command(ctx, args[0])
        assert sub is not None, f"unknown command {' '.join([*path, args[0]])}"
        command, path, args = sub, [*path, args[0]], args[1:]
    options = {
        opt: p
        for p in command.params
        if isinstance(p, click.Option)
        for opt in (*p.opts, *p.secondary_opts)
    }
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg.startswith("-") and arg != "-":
            name = arg.split("=", 1)[0]
            assert name in options or name in ("-h", "--help"), (
                f"{' '.join(path)}: no option {name}"
            )
            parameter = options.get(name)
            skip = parameter is not None and not parameter.is_flag and "=" not in arg
    return " ".join(path)


def test_workflow_is_valid_yaml_with_both_triggers() -> None:
    workflow = load_workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as True
    assert isinstance(triggers, dict)
    assert set(triggers) == {"pull_request", "push"}
    assert triggers["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert isinstance(jobs, dict)
    apply_job = jobs["apply"]
    assert apply_job["concurrency"]["cancel-in-progress"] is False
    assert apply_job["permissions"]["contents"] == "write"


def test_workflow_uses_only_existing_commands_and_options() -> None:
    used = set()
    for script in run_scripts(load_workflow()):
        for args in invocations(script):
            used.add(check_invocation(args))
    assert {
        "oneatlas-plan validate",
        "oneatlas-plan plan",
        "oneatlas-plan show",
        "oneatlas-plan diff",
        "oneatlas-plan apply",
        "oneatlas-plan state list",
    } <= used


def test_plan_step_uses_detailed_exitcode() -> None:
    scripts = "\n".join(run_scripts(load_workflow()))
    assert "oneatlas-plan plan specs/ --out plan.json --detailed-exitcode" in scripts
    assert "--format markdown" in scripts and "--format png --out plan.png" in scripts


@pytest.mark.parametrize(
    "args",
    [["no-such-command"], ["show", "--no-such-flag"], ["state", "nope"], ["plan", "--fmt", "x"]],
)
def test_the_checker_catches_mistakes(args: list[str]) -> None:
    with pytest.raises(AssertionError):
        check_invocation(args)


def test_validate_does_not_read_the_workflow_as_a_spec() -> None:
    found, problems = discover([ROOT / "examples"])
    assert not problems
    assert WORKFLOW not in [path for path, _ in found]
    assert all(".github" not in path.parts for path, _ in found)


def test_validate_specs_and_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert run(["validate", "specs/", "examples/"]) == ExitCode.OK

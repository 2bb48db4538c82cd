"""Progress: one plain line per stage where stderr is not a terminal (CI logs)."""

from __future__ import annotations

import copy
import io
import json
import threading
from pathlib import Path

import pytest
import yaml

from oneatlas_plan.cli.progress import StageProgress
from oneatlas_plan.errors import ExitCode
from tests.conftest import World


def test_one_plain_line_per_stage_off_a_terminal() -> None:
    stream = io.StringIO()
    with StageProgress(stream=stream) as progress:
        for done in range(4):
            progress("search", done, 3)
        progress("price", 0, 1)
        progress("price", 1, 1)
        progress("order", 0, 0)  # nothing to do: nothing said
    assert stream.getvalue() == "searching: 3 requests\npricing: 1 request\n"
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_disabled_says_nothing() -> None:
    stream = io.StringIO()
    StageProgress(enabled=False, stream=stream)("search", 0, 3)
    assert stream.getvalue() == ""


def test_plan_announces_the_contract_and_option_look_ups(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("plan", "specs") == ExitCode.OK
    stages = [line for line in capsys.readouterr().err.splitlines() if ": " in line]
    # the look-ups run beside the searches: either line may come first
    assert sorted(stages[:2]) == [
        "checking contracts and options: 3 requests",
        "searching: 3 requests",
    ]
    assert stages[2:] == ["pricing: 3 requests"]


def test_events_from_two_threads_each_get_their_line() -> None:
    stream = io.StringIO()
    progress = StageProgress(stream=stream)

    def report(stage: str) -> None:
        for done in range(51):
            progress(stage, done, 50)

    threads = [
        threading.Thread(target=report, args=(stage,)) for stage in ("search", "contracts")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(stream.getvalue().splitlines()) == [
        "checking contracts and options: 50 requests",
        "searching: 50 requests",
    ]


def test_pricing_counts_only_the_orders_it_will_price(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Four double purchases of a scene already bought sort before the one new order: none of
    them is priced, so none is counted in the pricing line (nor in the bar's total)."""
    spec = Path("specs/toulouse-pleiades.yaml")
    for other in Path("specs").glob("*.yaml"):
        if other != spec:
            other.unlink()
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", "plan.json") == ExitCode.OK
    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    bought = document["orders"][0]
    again = [{**copy.deepcopy(bought), "name": f"again-{n}"} for n in range(4)]
    other = copy.deepcopy(bought)
    other["name"] = "zz-multispectral"  # last in address order; another product: no double
    other["product"]["options"]["spectral_processing"] = "multispectral"
    document["orders"] += [*again, other]
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    capsys.readouterr()
    world.reset_stats()

    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK

    plan = json.loads(Path("plan.json").read_text(encoding="utf-8"))
    doubles = [o for o in plan["orders"] if "blocked as a double purchase" in o["reason"]]
    assert len(doubles) == 4
    assert world.requests_made()["prices"] == 1
    assert [line for line in capsys.readouterr().err.splitlines() if "pricing" in line] == [
        "pricing: 1 request"
    ]

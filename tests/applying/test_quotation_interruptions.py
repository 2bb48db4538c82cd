"""A Pléiades Neo run killed between quotation and acceptance, or during the acceptance:
reconcile finishes what the reviewed plan allowed, and records what Airbus already did.

The kills use the test-only crash points of ``oneatlas_plan/_testhooks.py`` (a handshake on
the child's stderr, then SIGKILL), against the sandbox over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan._testhooks import ENV as PAUSE_ENV
from oneatlas_plan._testhooks import MARKER
from tests.reliability.conftest import Project, StderrWatcher, kill, make_project, start_sandbox

ADDRESS = "xinjiang-pneo.hejing-west.hejing-west"


@pytest.fixture
def neo(tmp_path: Path) -> Iterator[Project]:
    with start_sandbox(tmp_path / "sandbox-data") as sandbox:
        project = make_project(tmp_path, sandbox.base_url)
        for spec in project.specs.glob("*.yaml"):
            if not spec.name.startswith("xinjiang"):
                spec.unlink()
        yield project


def _kill_at(project: Project, point: str) -> None:
    proc = project.spawn("apply", str(project.specs), "--auto-approve", **{PAUSE_ENV: point})
    watcher = StderrWatcher(proc)
    try:
        assert watcher.wait_for(f"{MARKER} {point}", 60), watcher.text
    finally:
        kill(proc)


def _order(project: Project) -> dict[str, Any]:
    return dict(project.load_state()["resources"][ADDRESS]["orders"][-1])


def _requests(project: Project) -> dict[str, int]:
    return dict(project.stats()["requests"])


def test_killed_between_quotation_and_acceptance_apply_accepts_it(neo: Project) -> None:
    _kill_at(neo, "before-accept")
    assert _order(neo)["status"] == "quoted"
    [entry] = neo.ledger()
    assert entry["quotationStatus"] == "SENT"

    planned = neo.cli("plan", str(neo.specs))
    assert planned.code == 0, planned.text
    assert f"{ADDRESS}: its quotation is within the reviewed accept_quotations_up_to" in planned.err
    assert _requests(neo).get("accept", 0) == 0, "plan never spends"

    applied = neo.cli("apply", str(neo.specs), "--auto-approve")
    assert applied.code == 0, applied.text
    [entry] = neo.ledger()
    assert entry["quotationStatus"] == "ACCEPTED"
    order = _order(neo)
    assert (order["status"], order["sales_order_id"]) == ("accepted", entry["salesOrderId"])
    assert _requests(neo)["quotations"] == 1
    assert _requests(neo)["accept"] == 1
    assert _requests(neo).get("orders", 0) == 0


def test_killed_during_acceptance_the_acceptance_is_recorded_as_spend(neo: Project) -> None:
    _kill_at(neo, "after-accept")
    [entry] = neo.ledger()
    assert entry["quotationStatus"] == "ACCEPTED"
    order = _order(neo)
    assert order["status"] == "quoted"
    assert order["accept_sent_at"], "the acceptance was written ahead"

    planned = neo.cli("plan", str(neo.specs))
    assert planned.code == 0, planned.text
    assert f"{ADDRESS}: quotation accepted (sales order {entry['salesOrderId']})" in planned.err
    order = _order(neo)
    assert (order["status"], order["sales_order_id"]) == ("accepted", entry["salesOrderId"])
    assert "recorded as spend" in order["message"]
    listed = neo.cli("state", "list")
    assert "Spent: EUR 979.72" in listed.out
    quoted = neo.cli("quotations", "list", "--state", str(neo.state_path))
    assert "No quotation awaits a decision" in quoted.out
    assert _requests(neo)["accept"] == 1, "never accepted twice"
    assert _requests(neo)["quotations"] == 1

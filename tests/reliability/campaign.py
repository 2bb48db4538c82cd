"""Counting what a campaign of faults did, instead of stopping at the first problem."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from oneatlas_plan.errors import ExitCode, StateError
from oneatlas_plan.state.store import StateStore
from tests.reliability.conftest import Project, Result, check_done, converge


@dataclass
class Tally:
    """What a campaign measured, over all its trials."""

    trials: int = 0
    faulted: int = 0  # trials where the fault hit the run (full disk, killed before the end)
    duplicates: int = 0  # orders placed at Airbus more than once
    lost: int = 0  # orders at Airbus that the state does not know
    unparsable: int = 0  # states that did not load right after the failure
    needing_a_person: int = 0  # records settled with `state resolve` (checked at Airbus)
    not_converged: list[str] = field(default_factory=list)

    def report(self, name: str) -> str:
        text = (
            f"{name}: {self.trials} trials ({self.faulted} hit by the fault): "
            f"duplicates {self.duplicates}, lost {self.lost}, unparsable {self.unparsable}, "
            f"needing a person {self.needing_a_person}, not converged {len(self.not_converged)}"
        )
        print(f"\n{text}")
        return text

    def check(self, name: str) -> None:
        text = self.report(name)
        assert self.duplicates == 0 and self.lost == 0, text
        assert self.unparsable == 0 and not self.not_converged, (text, self.not_converged)


def _ledger_counts(project: Project) -> tuple[int, int]:
    """(duplicates, lost) of the sandbox ledger against the state."""
    references = Counter(o.get("customerReference") for o in project.ledger())
    duplicates = sum(n - 1 for n in references.values() if n > 1)
    state = project.load_state()
    known = {
        order["customer_reference"]
        for record in state["resources"].values()
        for order in record["orders"]
    }
    return duplicates, sum(1 for reference in references if reference not in known)


def loads(project: Project) -> bool:
    try:
        StateStore(project.state_path).load()
    except StateError:
        return False
    return True


def recover(project: Project, tally: Tally, stop: Result) -> None:
    """Space is free again: do what the error said, then plan/apply until done; count what
    it took and what went wrong."""
    if "oneatlas-plan refresh" in stop.err:
        refreshed = project.cli(
            "refresh", "--endpoint", project.base_url, "--state", str(project.state_path)
        )
        assert refreshed.code in (ExitCode.OK, ExitCode.ERROR), refreshed.text
    try:
        tally.needing_a_person += len(converge(project))
        check_done(project)
    except AssertionError as error:
        tally.not_converged.append(str(error)[:500])
    duplicates, lost = _ledger_counts(project)
    tally.duplicates += duplicates
    tally.lost += lost

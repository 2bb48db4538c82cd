"""The broken-spec corpus: every file in data/broken/ with its exact expected report.

Each ``<case>.yaml`` has a sidecar ``<case>.expected`` holding the exact lines ``validate``
prints for it (errors, then warnings, then notes). Regenerate after a deliberate message change
with ``UPDATE_GOLDENS=1 pytest tests/spec/test_broken_corpus.py`` and review the diff.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from oneatlas_plan.spec.validate import validate_paths

BROKEN = Path(__file__).parent / "data" / "broken"
TODAY = date(2026, 11, 23)
CASES = sorted(path.stem for path in BROKEN.glob("*.yaml"))


def report_lines(case: str) -> list[str]:
    report = validate_paths([Path(f"{case}.yaml")], today=TODAY)
    return [*report.problems, *report.warnings, *report.notes]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES)
def test_broken_spec_reports_exact_messages(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)
    lines = report_lines(case)
    sidecar = BROKEN / f"{case}.expected"
    if os.environ.get("UPDATE_GOLDENS"):
        sidecar.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = sidecar.read_text(encoding="utf-8").splitlines()
    assert lines == expected
    report = validate_paths([Path(f"{case}.yaml")], today=TODAY)
    assert not report.ok, "a broken spec must fail validation"


def test_every_case_has_a_sidecar() -> None:
    sidecars = {path.stem for path in BROKEN.glob("*.expected")}
    assert sidecars == set(CASES)

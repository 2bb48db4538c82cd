"""``validate``: every problem, warning and note of a set of spec files, rendered and located."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from oneatlas_plan.spec.loader import load
from oneatlas_plan.spec.problems import Problem, Severity


@dataclass(frozen=True)
class ValidationReport:
    problems: list[str]  # errors, "path:line:col: dotted.path: message"
    warnings: list[str]
    notes: list[str]
    files: list[Path]
    findings: list[Problem] = field(default_factory=list)  # the same, unrendered, in order

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        files = _plural(len(self.files), "spec file")
        extras = f"{_plural(len(self.warnings), 'warning')}, {_plural(len(self.notes), 'note')}"
        if self.ok:
            return f"{files} valid ({extras})"
        return f"{_plural(len(self.problems), 'problem')} in {files} ({extras})"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def validate_paths(paths: Sequence[Path], *, today: date | None = None) -> ValidationReport:
    """Load every spec under ``paths`` and report all findings (never raises for bad input)."""
    result = load(paths, today=today)
    ordered = sorted(result.problems, key=_order)
    return ValidationReport(
        problems=_render(ordered, Severity.ERROR),
        warnings=_render(ordered, Severity.WARNING),
        notes=_render(ordered, Severity.NOTE),
        files=result.files,
        findings=ordered,
    )


def _order(problem: Problem) -> tuple[str, int, int]:
    return str(problem.file), problem.line, problem.column


def _render(problems: list[Problem], severity: Severity) -> list[str]:
    return [p.render() for p in problems if p.severity is severity]

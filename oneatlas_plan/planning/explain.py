"""Why a scene was chosen: the runners-up of a selection and, when nothing qualified, the
scenes that came closest (kept in the plan so that reviewers can judge the choice)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from oneatlas_plan.planning.selection import _EPSILON as EPSILON
from oneatlas_plan.planning.selection import (
    Candidate,
    Criteria,
    Policy,
    Selection,
)
from oneatlas_plan.planning.selection import _coverage as coverage_of
from oneatlas_plan.planning.selection import _failed_check as failed_check
from oneatlas_plan.planning.selection import _shape as footprint_of

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

ALTERNATIVES = 3
# How far down the ranking alternatives are sought (each costs an intersection).
_ALTERNATIVES_SCAN = 20


def alternatives(
    aoi: BaseGeometry,
    aoi_area: float,
    ranked: Sequence[Candidate],
    chosen: Sequence[Candidate],
    policy: Policy,
    coverages: dict[str, float],
    *,
    first: Sequence[Candidate] = (),
) -> tuple[tuple[Candidate, float], ...]:
    """The best-ranked eligible scenes that were not chosen: ``first`` (the greedy cover's
    scenes a cover paying less overlap left out), then those that would also meet the
    coverage (a bounded scan of the ranking)."""
    replaced = [(c, coverages[c.id]) for c in first][:ALTERNATIVES]
    others = [c for c in ranked if c not in chosen and c not in first][:_ALTERNATIVES_SCAN]
    for candidate in others:
        if candidate.id not in coverages:
            coverages[candidate.id] = coverage_of(aoi, aoi_area, footprint_of(candidate))
    others = [c for c in others if coverages[c.id] > EPSILON]
    covering = [c for c in others if coverages[c.id] + EPSILON >= policy.min_coverage]
    # A scene covering part of the AOI is an alternative only where scenes are combined.
    rest = [c for c in others if c not in covering] if policy.max_scenes > 1 else []
    ranked_out = [(c, coverages[c.id]) for c in covering + rest]
    return tuple((replaced + ranked_out)[:ALTERNATIVES])


_SHORT_NAMES = {"cloud_cover": "cloud", "incidence_angle": "incidence", "snow_cover": "snow"}
_UNITS = {"cloud_cover": " %", "snow_cover": " %", "incidence_angle": "°", "resolution": " m"}


def near_misses(
    touching: Sequence[Candidate],
    criteria: Criteria,
    ranked: Sequence[Candidate],
    policy: Policy,
    coverages: dict[str, float],
) -> tuple[tuple[Candidate, str], ...]:
    """The scenes closest to qualifying: by relative excess over the failed criterion, or
    by the coverage they miss."""
    misses: list[tuple[float, str, Candidate, str]] = []
    for candidate in touching:
        miss = _criterion_miss(candidate, criteria)
        if miss is not None:
            misses.append((miss[0], candidate.id, candidate, miss[1]))
    for candidate in ranked:
        coverage = coverages.get(candidate.id)
        if coverage is not None and coverage + EPSILON < policy.min_coverage:
            shortfall = (policy.min_coverage - coverage) / policy.min_coverage
            text = f"coverage {coverage:.1%} < min {policy.min_coverage:.0%}"
            misses.append((shortfall, candidate.id, candidate, text))
    misses.sort(key=lambda m: (m[0], m[1]))
    return tuple((m[2], m[3]) for m in misses[:ALTERNATIVES])


def _criterion_miss(candidate: Candidate, criteria: Criteria) -> tuple[float, str] | None:
    miss = failed_check(candidate, criteria)
    if miss is None:
        return None
    if miss.name == "platform":
        return math.inf, f"platform {candidate.platform} not in {', '.join(criteria.platforms)}"
    if miss.name == "processing_level":
        levels = ", ".join(criteria.processing_levels)
        return math.inf, f"processing level {candidate.processing_level} not in {levels}"
    value, bound = miss.value, miss.bound
    if value is None or bound is None:  # no numeric bound to be near: after every numeric miss
        return math.inf, f"{miss.name} not accepted"
    unit = _UNITS.get(miss.name, "")
    if not miss.is_max:
        gap = (bound - value) / bound if bound else 1.0
        return gap, f"{miss.name} {value:g}{unit} < min {bound:g}{unit}"
    label = _SHORT_NAMES.get(miss.name, miss.name)
    gap = (value - bound) / bound if bound else float(value)
    return gap, f"{label} {value:g}{unit} > max {bound:g}{unit}"


def deciding_difference(
    chosen: Candidate, alternative: Candidate, coverage: float, policy: Policy
) -> str:
    """Why ``chosen`` ranks before ``alternative``: the first ranking key telling them apart
    (``ranked by cloud_cover: 0.4 % vs 2.1 %``), or the coverage it lacks."""
    if coverage + EPSILON < policy.min_coverage:
        return f"covers {coverage:.1%} < min {policy.min_coverage:.0%}"
    for criterion in policy.rank_by:
        name = criterion.lstrip("-")
        ours, theirs = getattr(chosen, name), getattr(alternative, name)
        if ours != theirs:
            return f"ranked by {criterion}: {_shown(name, ours)} vs {_shown(name, theirs)}"
    return f"tie on {', '.join(policy.rank_by)}: broken by scene id"


def _shown(name: str, value: Any) -> str:
    if value is None:
        return "unknown"
    if name == "acquisition_date":
        return str(value)[:10]
    if isinstance(value, float):
        return f"{value:g}{_UNITS.get(name, '')}"
    return str(value)



def why_not_chosen(
    selection: Selection, alternative: Candidate, coverage: float, policy: Policy
) -> str:
    """Why a runner-up of ``selection`` was left out: the paid overlap when a cover paying
    less replaced the greedy one holding it, otherwise ``deciding_difference``."""
    choice = selection.overlap_choice
    if choice is not None and alternative in choice.replaced:
        first, chosen = choice.first, choice.chosen
        return (
            f"less paid overlap: the first cover found ({len(first.scenes)} scenes, with this "
            f"one) bills {first.paid_overlap_km2:,.2f} km² beyond the ground it covers once, "
            f"the chosen cover ({len(chosen.scenes)} scenes) {chosen.paid_overlap_km2:,.2f} km²"
        )
    return deciding_difference(selection.scenes[0][0], alternative, coverage, policy)

"""Scene selection: filter candidates (recording why each was removed), rank, then cover.

Coverage is AOI ∩ footprint, measured geodesically on the WGS84 ellipsoid. When one scene
is not enough, a greedy set cover adds the scene that covers the most still-uncovered area,
up to the policy's ``max_scenes``; a cover paying less overlap replaces it (``covers``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from oneatlas_plan.geodesy import geodesic_area_km2

if TYPE_CHECKING:  # shapely is imported when a selection is made, not by every plan
    from shapely.geometry.base import BaseGeometry

    from oneatlas_plan.planning.covers import OverlapChoice

_EPSILON = 1e-9


@dataclass(frozen=True)
class Candidate:
    id: str
    archive_identifier: str
    platform: str
    constellation: str
    acquisition_date: str
    cloud_cover: float | None
    incidence_angle: float | None
    snow_cover: float | None
    resolution: float | None
    footprint: dict[str, Any] = field(hash=False, compare=False)
    processing_level: str | None = "ALBUM"  # the catalogue's processingLevel (None: not given)

    @property
    def footprint_shape(self) -> BaseGeometry:
        return _shape(self)


_SHAPES: dict[str, BaseGeometry] = {}
MAX_CACHED_SHAPES = 200_000  # then the cache starts again (shapes are made again on demand)


def _shape(candidate: Candidate) -> BaseGeometry:
    cached = _SHAPES.get(candidate.id)
    if cached is None:
        from shapely.geometry import shape

        cached = shape(candidate.footprint).buffer(0)
        if len(_SHAPES) > MAX_CACHED_SHAPES:
            _SHAPES.clear()
        _SHAPES[candidate.id] = cached
    return cached


def make_shapes(candidates: Sequence[Candidate]) -> list[BaseGeometry]:
    """The candidates' footprint shapes, those not cached made in two vectorised calls (the
    same shapes as :func:`_shape`'s, which GEOS makes outside the GIL, so the searches'
    threads share the cores instead of taking turns), and cached."""
    todo = [c for c in candidates if c.id not in _SHAPES]
    if todo:
        import numpy as np
        import shapely

        made = shapely.buffer(np.array([_raw_shape(c.footprint) for c in todo], dtype=object), 0)
        if len(_SHAPES) + len(todo) > MAX_CACHED_SHAPES:
            _SHAPES.clear()
        _SHAPES.update(zip((c.id for c in todo), made, strict=True))
    return [_shape(c) for c in candidates]


def _raw_shape(footprint: Mapping[str, Any]) -> BaseGeometry:
    """A GeoJSON footprint as a shape, before repair; a one-ring polygon without going
    through ``shape``'s generic path."""
    rings = footprint.get("coordinates") if footprint.get("type") == "Polygon" else None
    if rings is not None and len(rings) == 1 and all(len(point) == 2 for point in rings[0]):
        import shapely

        return shapely.polygons(rings[0])
    from shapely.geometry import shape

    return shape(footprint)


def forget_shapes(ids: Iterable[str]) -> None:
    """Drop cached footprint shapes no longer needed (made again if asked for)."""
    for scene_id in ids:
        _SHAPES.pop(scene_id, None)


@dataclass(frozen=True)
class Criteria:
    """Criteria re-applied locally so that every removal can be explained."""

    cloud_cover_max: float | None = None
    incidence_angle_max: float | None = None
    snow_cover_max: float | None = None
    resolution_min: float | None = None
    resolution_max: float | None = None
    platforms: tuple[str, ...] = ()
    # What a Pay-Per-Order archive body may carry: Airbus's search can answer other levels
    # (its captured answers mix SENSOR items among ALBUM ones) whatever was asked for.
    processing_levels: tuple[str, ...] = ("ALBUM",)


@dataclass(frozen=True)
class Policy:
    rank_by: tuple[str, ...] = ("cloud_cover", "-acquisition_date")
    min_coverage: float = 0.95
    max_scenes: int = 1


@dataclass(frozen=True)
class Unseen:
    """Candidates that touched the AOI and were counted as they arrived, then dropped: none
    of them could be chosen, listed as an alternative or shown as a near miss
    (:mod:`~oneatlas_plan.planning.candidates`). They still count in ``found``, ``eligible``
    and ``removed``."""

    found: int = 0
    eligible: int = 0
    removed: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Selection:
    scenes: tuple[tuple[Candidate, float], ...]  # (scene, its own coverage of the AOI)
    coverage: float  # union coverage
    found: int
    eligible: int
    removed: dict[str, int]
    unsatisfied: str | None
    # The best-ranked eligible scenes not chosen, with their own coverage of the AOI.
    alternatives: tuple[tuple[Candidate, float], ...] = ()
    # When nothing qualified: the scenes closest to qualifying, each with what it missed by.
    near_misses: tuple[tuple[Candidate, str], ...] = ()
    # Set when a cover paying less overlap replaced the greedy one.
    overlap_choice: OverlapChoice | None = None

    @property
    def satisfied(self) -> bool:
        return self.unsatisfied is None


@dataclass(frozen=True)
class Miss:
    """The first criterion a candidate fails; for a numeric one, its value and the bound."""

    name: str
    value: float | None = None
    bound: float | None = None
    is_max: bool = True


def _failed_check(candidate: Candidate, criteria: Criteria) -> Miss | None:
    if criteria.processing_levels and candidate.processing_level not in criteria.processing_levels:
        return Miss("processing_level")
    checks: list[tuple[str, float | None, float | None, bool]] = [
        ("cloud_cover", candidate.cloud_cover, criteria.cloud_cover_max, True),
        ("incidence_angle", candidate.incidence_angle, criteria.incidence_angle_max, True),
        ("snow_cover", candidate.snow_cover, criteria.snow_cover_max, True),
        ("resolution", candidate.resolution, criteria.resolution_max, True),
        ("resolution", candidate.resolution, criteria.resolution_min, False),
    ]
    for name, value, bound, is_max in checks:
        if bound is None or value is None:
            continue
        if (is_max and value > bound) or (not is_max and value < bound):
            return Miss(name, value, bound, is_max)
    if criteria.platforms and candidate.platform not in criteria.platforms:
        return Miss("platform")
    return None


def _failed_criterion(candidate: Candidate, criteria: Criteria) -> str | None:
    miss = _failed_check(candidate, criteria)
    return None if miss is None else miss.name


def filter_candidates(
    candidates: Iterable[Candidate], criteria: Criteria
) -> tuple[list[Candidate], dict[str, int]]:
    """Keep the candidates meeting every criterion; count removals per first failed one."""
    eligible: list[Candidate] = []
    removed: dict[str, int] = {}
    for candidate in candidates:
        failed = _failed_criterion(candidate, criteria)
        if failed is None:
            eligible.append(candidate)
        else:
            removed[failed] = removed.get(failed, 0) + 1
    return eligible, removed


def _rank_key(candidate: Candidate, rank_by: Sequence[str]) -> tuple[Any, ...]:
    key: list[Any] = []
    for criterion in rank_by:
        descending = criterion.startswith("-")
        name = criterion.lstrip("-")
        value: Any = getattr(candidate, name)
        if value is None:
            key.append((1, 0))
            continue
        if isinstance(value, str):
            # ISO dates sort lexicographically; invert character codes for descending order
            key.append((0, tuple(-ord(c) for c in value) if descending else value))
        else:
            key.append((0, -value if descending else value))
    key.append((0, candidate.id))  # total order: ties broken by id
    return tuple(key)


@lru_cache(maxsize=65536)
def _cached_rank_key(candidate: Candidate, rank_by: tuple[str, ...]) -> tuple[Any, ...]:
    return _rank_key(candidate, rank_by)


def rank(candidates: Iterable[Candidate], rank_by: Sequence[str]) -> list[Candidate]:
    """Best first; a scene's key is computed once per run (AOIs of one search share scenes)."""
    order = tuple(rank_by)
    return sorted(candidates, key=lambda c: _cached_rank_key(c, order))


def select(
    aoi: BaseGeometry,
    candidates: Sequence[Candidate],
    criteria: Criteria,
    policy: Policy,
    *,
    exclude: frozenset[str] = frozenset(),
    unseen: Unseen | None = None,
) -> Selection:
    """Choose the scene(s) for one AOI according to the policy (``unseen``: those of its
    candidates dropped before, counted only)."""
    from oneatlas_plan.planning import covers, explain

    touching = [c for c in candidates if c.id not in exclude and _shape(c).intersects(aoi)]
    eligible, removed = filter_candidates(touching, criteria)
    unseen = unseen or Unseen()
    found, eligible_count = len(touching) + unseen.found, len(eligible) + unseen.eligible
    if unseen.removed:
        removed = {k: removed.get(k, 0) + unseen.removed.get(k, 0)
                   for k in sorted({*removed, *unseen.removed})}
    aoi_area = geodesic_area_km2(aoi)
    ranked = rank(eligible, policy.rank_by)
    coverages: dict[str, float] = {}
    first = _first_covering(aoi, aoi_area, ranked, policy.min_coverage, coverages)
    if first is not None:
        return Selection(
            scenes=((first, coverages[first.id]),),
            coverage=coverages[first.id],
            found=found,
            eligible=eligible_count,
            removed=removed,
            unsatisfied=None,
            alternatives=explain.alternatives(aoi, aoi_area, ranked, (first,), policy, coverages),
        )
    ranked = [c for c in ranked if coverages[c.id] > _EPSILON]

    def result(
        scenes: Sequence[Candidate],
        union: float,
        why: str | None,
        choice: covers.OverlapChoice | None = None,
    ) -> Selection:
        alternatives: tuple[tuple[Candidate, float], ...] = ()
        misses: tuple[tuple[Candidate, str], ...] = ()
        if why is None:
            first = choice.replaced if choice is not None else ()
            alternatives = explain.alternatives(
                aoi, aoi_area, ranked, scenes, policy, coverages, first=first
            )
        else:
            misses = explain.near_misses(touching, criteria, ranked, policy, coverages)
        return Selection(
            scenes=tuple((c, coverages[c.id]) for c in scenes),
            coverage=union,
            found=found,
            eligible=eligible_count,
            removed=removed,
            unsatisfied=why,
            alternatives=alternatives,
            near_misses=misses,
            overlap_choice=choice,
        )

    if not ranked:  # every eligible scene only touches the AOI (no ground in common)
        return result([], 0.0, _nothing_eligible(found, removed, eligible_count))
    if policy.max_scenes <= 1:
        best = max(coverages[c.id] for c in ranked)
        return result(
            [],
            0.0,
            f"no single scene covers {policy.min_coverage:.0%} of the AOI "
            f"(best: {best:.1%}); allow more scenes with selection.coverage.max_scenes",
        )
    chosen, union = _greedy_cover(aoi, aoi_area, ranked, policy)
    if union + _EPSILON >= policy.min_coverage:
        cover, choice = covers.least_overlap(aoi, aoi_area, ranked, policy, chosen, coverages)
        if choice is None:
            return result(chosen, union, None)
        return result(cover.scenes, min(1.0, cover.covered_km2 / aoi_area), None, choice)
    return result(
        [],
        0.0,
        f"{len(chosen)} scene(s) reach only {union:.1%} coverage of the AOI "
        f"(required {policy.min_coverage:.0%}, max_scenes {policy.max_scenes})",
    )


def _first_covering(
    aoi: BaseGeometry,
    aoi_area: float,
    ranked: Sequence[Candidate],
    min_coverage: float,
    coverages: dict[str, float],
) -> Candidate | None:
    """The best-ranked scene covering ``min_coverage`` of the AOI, or None (then ``coverages``
    holds every candidate's). Coverage (an intersection and a geodesic area) is computed in
    rank order and only as far as needed."""
    for candidate in ranked:
        coverage = coverages[candidate.id] = _coverage(aoi, aoi_area, _shape(candidate))
        if coverage > _EPSILON and coverage + _EPSILON >= min_coverage:
            return candidate
    return None


def _coverage(aoi: BaseGeometry, aoi_area: float, footprint: BaseGeometry) -> float:
    if aoi_area <= 0:
        return 0.0
    return min(1.0, geodesic_area_km2(aoi.intersection(footprint)) / aoi_area)


def _greedy_cover(
    aoi: BaseGeometry, aoi_area: float, ranked: Sequence[Candidate], policy: Policy
) -> tuple[list[Candidate], float]:
    chosen: list[Candidate] = []
    uncovered = aoi
    covered_fraction = 0.0
    while len(chosen) < policy.max_scenes and covered_fraction + _EPSILON < policy.min_coverage:
        best: Candidate | None = None
        best_gain = 0.0
        for candidate in ranked:
            if candidate in chosen:
                continue
            gain = geodesic_area_km2(uncovered.intersection(_shape(candidate)))
            if gain > best_gain * (1 + 1e-9) + _EPSILON:
                best, best_gain = candidate, gain
        if best is None:
            break
        chosen.append(best)
        uncovered = uncovered.difference(_shape(best))
        covered_fraction = 1.0 - geodesic_area_km2(uncovered) / aoi_area
    return chosen, max(0.0, min(1.0, covered_fraction))


def _nothing_eligible(found: int, removed: dict[str, int], edge_only: int) -> str:
    if found == 0:
        return "no scene in the archive intersects the AOI within the search window"
    reasons = []
    if removed:
        counts = ", ".join(f"{name}: {count}" for name, count in sorted(removed.items()))
        reasons.append(f"removed by {counts}")
    if edge_only:
        reasons.append(f"touching only its boundary (no ground in common): {edge_only}")
    return f"{found} scene(s) intersect the AOI but none qualifies ({'; '.join(reasons)})"

"""Multi-scene covers that pay for less overlap (pure).

Airbus bills every AOI/item pair for its AOI ∩ footprint, at least the archive minimum
(25 km²): ground two chosen scenes share is paid twice. A cover's *paid overlap* is what it
bills beyond the ground it covers once (Σ billed − area covered). Among the covers satisfying
the policy (eligible scenes, at most ``max_scenes``, ``coverage.min`` reached), the greedy
cover is kept unless a local search finds one paying strictly less (to the hundredth of a
km²): from the greedy cover and from cheapest-new-km²-first greedy covers (one started from
each of the best-ranked scenes), drop a scene or swap one for another while the result pays
less. Ties go to fewer scenes, then to the
better-ranked scenes, then to scene ids. The work is bounded per AOI: each move computes one
union per chosen scene, and a swap is measured only when its area bound could pay less.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shapely.geometry.base import BaseGeometry

from oneatlas_plan.geodesy import geodesic_area_km2
from oneatlas_plan.planning.selection import _EPSILON as EPSILON
from oneatlas_plan.planning.selection import Candidate, Policy
from oneatlas_plan.planning.selection import _cached_rank_key as rank_key
from oneatlas_plan.planning.selection import _shape as footprint_of
from oneatlas_plan.spec.geometry import BILLING_MIN_AREA_KM2

_SEEDS = 4  # cheapest-first covers also start from each of the best-ranked scenes
_MAX_MOVES = 32  # each move lowers the cover's key; a safety bound, never reached in practice


@dataclass(frozen=True)
class Cover:
    scenes: tuple[Candidate, ...]
    covered_km2: float  # AOI ∩ union of the footprints
    paid_overlap_km2: float  # billed beyond the ground covered once


@dataclass(frozen=True)
class OverlapChoice:
    """The greedy cover was replaced by one paying less overlap."""

    replaced: tuple[Candidate, ...]  # the greedy cover's scenes the chosen cover does not hold
    first: Cover  # the greedy cover
    chosen: Cover


class _Costs:
    """One AOI's scenes: each one's part of the AOI, its area and what Airbus bills for it."""

    def __init__(
        self, aoi: BaseGeometry, aoi_area: float, coverages: dict[str, float], policy: Policy
    ) -> None:
        self.aoi, self.aoi_area, self.policy = aoi, aoi_area, policy
        self._coverages = coverages
        self._parts: dict[str, BaseGeometry] = {}
        self._shared: dict[tuple[str, str], float] = {}

    def part(self, scene: Candidate) -> BaseGeometry:
        found = self._parts.get(scene.id)
        if found is None:
            found = self._parts[scene.id] = self.aoi.intersection(footprint_of(scene))
        return found

    def area(self, scene: Candidate) -> float:
        return self._coverages[scene.id] * self.aoi_area

    def billed(self, scene: Candidate) -> float:
        return max(BILLING_MIN_AREA_KM2, self.area(scene))

    def shared(self, one: Candidate, other: Candidate) -> float:
        """The AOI ground two scenes share (cached: covers keep most of their scenes)."""
        pair = (one.id, other.id) if one.id < other.id else (other.id, one.id)
        found = self._shared.get(pair)
        if found is None:
            a, b = self.part(one), self.part(other)
            meet = _boxes_meet(a.bounds, b.bounds)
            found = self._shared[pair] = geodesic_area_km2(a.intersection(b)) if meet else 0.0
        return found

    def union(self, scenes: Sequence[Candidate]) -> BaseGeometry:
        from shapely.ops import unary_union

        return unary_union([self.part(s) for s in scenes])

    def cover(self, scenes: Sequence[Candidate], covered_km2: float | None = None) -> Cover:
        if covered_km2 is None:
            covered_km2 = geodesic_area_km2(self.union(scenes)) if scenes else 0.0
        billed = sum(self.billed(s) for s in scenes)
        return Cover(tuple(scenes), covered_km2, max(0.0, billed - covered_km2))

    def satisfies(self, covered_km2: float) -> bool:
        return covered_km2 / self.aoi_area + EPSILON >= self.policy.min_coverage

    def key(self, cover: Cover) -> tuple[Any, ...]:
        ranks = sorted(rank_key(s, self.policy.rank_by) for s in cover.scenes)
        return (_paid(cover.paid_overlap_km2), len(cover.scenes), ranks)


def _boxes_meet(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _paid(km2: float) -> float:
    return round(km2, 2)


def least_overlap(
    aoi: BaseGeometry,
    aoi_area: float,
    ranked: Sequence[Candidate],
    policy: Policy,
    greedy: Sequence[Candidate],
    coverages: dict[str, float],
) -> tuple[Cover, OverlapChoice | None]:
    """The cover to buy, starting from the (satisfying) greedy cover ``greedy``; with the
    reason when paying less overlap made it differ from the greedy one."""
    costs = _Costs(aoi, aoi_area, coverages, policy)
    first = costs.cover(greedy)
    cheapest = tuple(_cheapest_first(costs, ranked))
    starts = {first.scenes: first, cheapest: costs.cover(cheapest)}
    for seed in ranked[:_SEEDS]:
        if seed not in cheapest:  # started from a scene it holds, it would mostly repeat it
            scenes = tuple(_cheapest_first(costs, ranked, seed))
            starts.setdefault(scenes, costs.cover(scenes))
    found = [_improve(costs, ranked, c) for c in starts.values() if costs.satisfies(c.covered_km2)]
    if not found:  # the greedy cover measured as a union falls short by a rounding: keep it
        return first, None
    best = min(found, key=costs.key)
    if costs.key(best) >= costs.key(first):
        return first, None
    replaced = tuple(s for s in first.scenes if s not in best.scenes)
    return best, OverlapChoice(replaced, first, best)


def _cheapest_first(
    costs: _Costs, ranked: Sequence[Candidate], seed: Candidate | None = None
) -> list[Candidate]:
    """Greedy by newly covered km² per billed km² (ties: larger gain, then rank), after
    ``seed``. Lazy: a gain only shrinks as the cover grows, so a scene whose last measured
    ratio already trails the best fresh one is not measured again."""
    chosen: list[Candidate] = []
    uncovered, covered = costs.aoi, 0.0
    if seed is not None:
        chosen.append(seed)
        uncovered = uncovered.difference(costs.part(seed))
        covered = costs.aoi_area - geodesic_area_km2(uncovered)
    heap = [_bound(costs, i, costs.area(c), c) for i, c in enumerate(ranked) if c not in chosen]
    heapq.heapify(heap)
    while heap and len(chosen) < costs.policy.max_scenes and not costs.satisfies(covered):
        index = heapq.heappop(heap)[2]
        candidate = ranked[index]
        gain = geodesic_area_km2(uncovered.intersection(costs.part(candidate)))
        if gain <= EPSILON:
            continue
        fresh = _bound(costs, index, gain, candidate)
        if heap and heap[0] < fresh:
            heapq.heappush(heap, fresh)
            continue
        chosen.append(candidate)
        uncovered = uncovered.difference(costs.part(candidate))
        covered = costs.aoi_area - geodesic_area_km2(uncovered)
    return chosen


def _bound(costs: _Costs, index: int, gain: float, scene: Candidate) -> tuple[float, float, int]:
    return (-round(gain / costs.billed(scene), 9), -gain, index)


def _improve(costs: _Costs, ranked: Sequence[Candidate], cover: Cover) -> Cover:
    for _ in range(_MAX_MOVES):
        better = _best_move(costs, ranked, cover)
        if better is None:
            break
        cover = better
    return cover


def _best_move(costs: _Costs, ranked: Sequence[Candidate], cover: Cover) -> Cover | None:
    """The best cover one drop or one swap away, if its key is lower. A swap is measured
    only if bounds on the ground it adds (what the incoming scene adds to the whole cover
    plus what it shares with the outgoing one) let it pay less than the best move so far."""
    best, best_key = None, costs.key(cover)
    whole = costs.union(cover.scenes)
    outside = [c for c in ranked if c not in cover.scenes]
    new_ground: dict[str, float] = {}  # each outside scene's ground the cover lacks
    for scene in cover.scenes:
        others = [s for s in cover.scenes if s != scene]
        union = costs.union(others) if others else None
        covered = 0.0 if union is None else geodesic_area_km2(union)
        drop = costs.cover(others, covered)
        if others and costs.satisfies(covered) and costs.key(drop) < best_key:
            best, best_key = drop, costs.key(drop)
        for candidate in outside:
            bar = best_key[0]
            if not _may_pay_less(costs, drop, candidate, costs.area(candidate), bar):
                continue
            if candidate.id not in new_ground:
                fresh = costs.part(candidate).difference(whole)
                new_ground[candidate.id] = geodesic_area_km2(fresh)
            bound = new_ground[candidate.id] + costs.shared(candidate, scene)
            if not _may_pay_less(costs, drop, candidate, bound, bar):
                continue
            part = costs.part(candidate)
            gain = geodesic_area_km2(part if union is None else part.difference(union))
            move = costs.cover([*others, candidate], covered + gain)
            if costs.satisfies(move.covered_km2) and costs.key(move) < best_key:
                best, best_key = move, costs.key(move)
    return best


def _may_pay_less(
    costs: _Costs, rest: Cover, candidate: Candidate, gain_at_most: float, bar: float
) -> bool:
    """Whether ``rest`` plus ``candidate`` adding at most ``gain_at_most`` could satisfy the
    policy and pay less than ``bar``."""
    covered = min(costs.aoi_area, rest.covered_km2 + gain_at_most)
    paid = rest.paid_overlap_km2 + rest.covered_km2 + costs.billed(candidate) - covered
    return costs.satisfies(covered) and _paid(paid) < bar

"""Search results kept per AOI as pages arrive: only the candidates the plan can still show.

A merged search returns every scene near any of its AOIs; an AOI's plan shows a few of them
(the chosen scenes, up to three alternatives, up to three near misses) and counts the rest.
Each page is read as it arrives (:meth:`OneAtlasClient.scene_pages`), its features given to
the AOIs they touch (:class:`Keeper`), and each AOI keeps only the candidates that
:func:`~oneatlas_plan.planning.selection.select` could still choose, list or quote; the
others are counted (:class:`~oneatlas_plan.planning.selection.Unseen`) and dropped.

What ``select`` makes of an AOI's candidates, with at most ``spare`` of them excluded (those
chosen by the AOI's earlier resources, the owned scenes of a re-check), depends only on:

1. the ``SCAN + 1 + spare`` best-ranked eligible candidates: the first covering scene when it
   is among them, and the runners-up ``explain.alternatives`` scans;
2. the ``spare + 1`` best-ranked eligible candidates covering ``coverage.min``: the first
   covering scene of every resource of the AOI is one of them;
3. while fewer than ``spare + 1`` covering candidates are known (a resource may end with no
   covering scene): the ``NEAR + spare`` partial ones (some ground in common) of largest
   coverage, the near misses by coverage and the best coverage quoted; with a policy
   combining scenes, *every* partial one (the greedy cover and the local search of ``covers``
   may use any of them: no safe bound is proven, so nothing of that kind is dropped);
4. the ``NEAR`` ineligible candidates closest to qualifying (near misses by criterion);
5. the pinned ids (owned scenes a re-check looks up).

Ranking is a total order (ties broken by scene id), coverage a pure function of the AOI and
the footprint, so each of these sets is exact; a candidate left out of them once can never
re-enter them as more arrive (better ones only push it further out), so it is dropped for
good. Any set holding all of them gives ``select`` the same result as every candidate does
(``tests/planning/test_candidates.py`` checks it against ``select`` on everything). An AOI whose
resources differ in criteria or policy, or whose ranking meets a NaN, keeps everything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from oneatlas_plan.geodesy import geodesic_area_km2
from oneatlas_plan.planning.explain import _ALTERNATIVES_SCAN as SCAN
from oneatlas_plan.planning.explain import ALTERNATIVES as NEAR
from oneatlas_plan.planning.explain import _criterion_miss as criterion_miss
from oneatlas_plan.planning.search import MergedSearch, to_candidate
from oneatlas_plan.planning.selection import _EPSILON as EPSILON
from oneatlas_plan.planning.selection import (
    Candidate,
    Criteria,
    Policy,
    Unseen,
    _failed_criterion,
    forget_shapes,
    make_shapes,
)
from oneatlas_plan.planning.selection import _cached_rank_key as rank_key
from oneatlas_plan.planning.selection import _coverage as coverage_of
from oneatlas_plan.planning.selection import _shape as footprint_of

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from oneatlas_plan.api.models import SceneFeature
    from oneatlas_plan.api.query import SearchQuery
    from oneatlas_plan.planning.actions import Decision
    from oneatlas_plan.planning.desired import DesiredResource

PRUNE = True  # False: every candidate is kept (the plan is the same; tests compare both)


@dataclass(frozen=True)
class Need:
    """What one AOI's resources ask of its candidates."""

    criteria: Criteria
    policy: Policy
    spare: int = 0  # how many scenes its resources may exclude at most
    pinned: frozenset[str] = frozenset()  # scene ids looked up by id (a re-check's owned scenes)
    keep_all: bool = False


def need_of(
    criteria: Sequence[Criteria], policies: Sequence[Policy], owned: Iterable[str]
) -> Need:
    """The need of an AOI with one resource per criteria/policy (and their owned scenes)."""
    pinned = frozenset(owned)
    same = len(set(criteria)) == 1 and len(set(policies)) == 1
    scenes = max(1, max(p.max_scenes for p in policies))
    return Need(criteria[0], policies[0], len(policies) * scenes + len(pinned), pinned,
                keep_all=not same)


class Keeper:
    """One AOI's candidates, pruned to what ``select`` can still use after each page."""

    def __init__(self, aoi: BaseGeometry, need: Need, *, prune: bool = True) -> None:
        self.aoi, self.need = aoi, need
        self._area = geodesic_area_km2(aoi)
        self._keep_all = need.keep_all or not prune
        self._held: dict[str, Candidate] = {}
        self._coverages: dict[str, float] = {}
        self._found = 0
        self._eligible = 0
        self._removed: dict[str, int] = {}

    def offer(self, candidate: Candidate) -> None:
        """A candidate touching the AOI, not seen before."""
        self._held[candidate.id] = candidate
        if not self._keep_all and _has_nan(candidate, self.need.policy.rank_by):
            self._keep_all = True  # no total order to rely on

    @property
    def held(self) -> list[Candidate]:
        return list(self._held.values())

    @property
    def unseen(self) -> Unseen:
        return Unseen(self._found, self._eligible, dict(self._removed))

    def prune(self) -> list[Candidate]:
        """Drop (and count) what can no longer matter; the dropped candidates."""
        if self._keep_all:
            return []
        keep = self._needed()
        dropped = [c for c in self._held.values() if c.id not in keep]
        for candidate in dropped:
            del self._held[candidate.id]
            self._coverages.pop(candidate.id, None)
            self._found += 1
            failed = _failed_criterion(candidate, self.need.criteria)
            if failed is None:
                self._eligible += 1
            else:
                self._removed[failed] = self._removed.get(failed, 0) + 1
        return dropped

    def _needed(self) -> set[str]:
        need = self.need
        keep = {c for c in self._held if c in need.pinned}
        eligible: list[Candidate] = []
        misses: list[tuple[float, str]] = []
        for candidate in self._held.values():
            miss = criterion_miss(candidate, need.criteria)
            if miss is None:
                eligible.append(candidate)
            elif candidate.id not in need.pinned:
                misses.append((miss[0], candidate.id))
        keep.update(scene for _, scene in sorted(misses)[:NEAR])
        ranked = sorted(eligible, key=lambda c: rank_key(c, need.policy.rank_by))
        best = SCAN + 1 + need.spare
        keep.update(c.id for c in ranked[:best])
        wanted = need.spare + 1
        covering = 0
        partial: list[Candidate] = []
        for position, candidate in enumerate(ranked):
            if covering >= wanted:
                if position >= best:
                    break
                continue
            coverage = self._coverage(candidate)
            if coverage > EPSILON and coverage + EPSILON >= need.policy.min_coverage:
                covering += 1
                keep.add(candidate.id)
            elif coverage > EPSILON:
                partial.append(candidate)
        if covering < wanted:  # some resource may find no covering scene
            if need.policy.max_scenes > 1:
                keep.update(c.id for c in partial)
            else:
                least = need.policy.min_coverage
                partial.sort(key=lambda c: ((least - self._coverages[c.id]) / least, c.id))
                keep.update(c.id for c in partial[: NEAR + need.spare])
        return keep

    def _coverage(self, candidate: Candidate) -> float:
        found = self._coverages.get(candidate.id)
        if found is None:
            found = self._coverages[candidate.id] = coverage_of(
                self.aoi, self._area, footprint_of(candidate)
            )
        return found


def _has_nan(candidate: Candidate, rank_by: Sequence[str]) -> bool:
    for criterion in rank_by:
        value = getattr(candidate, criterion.lstrip("-"), None)
        if isinstance(value, float) and math.isnan(value):
            return True
    return False


class Gathered:
    """One merged search's candidates, kept per AOI as its pages arrive."""

    def __init__(
        self,
        aois: Mapping[str, BaseGeometry],
        needs: Mapping[str, Need],
        *,
        prune: bool | None = None,
    ) -> None:
        from shapely import STRtree

        prune = PRUNE if prune is None else prune

        self._keys = list(aois)
        self._index = {key: index for index, key in enumerate(self._keys)}
        self._keepers = [Keeper(aois[k], needs[k], prune=prune) for k in self._keys]
        self._tree = STRtree([aois[k] for k in self._keys])
        self._seen: set[str] = set()
        self._holders: dict[str, int] = {}  # scene id -> how many keepers hold it
        self.features = 0  # features read, repeats included
        self.peak_held = 0  # most candidates held at once (after a page)

    def add_page(self, features: Sequence[SceneFeature]) -> None:
        """Give a page's features to the AOIs they touch, then prune those AOIs."""
        import numpy as np

        self.features += len(features)
        touched: set[int] = set()
        read: list[Candidate] = []
        for feature in features:
            if feature.id in self._seen:  # a repeat: the first one read stands
                continue
            self._seen.add(feature.id)
            candidate = to_candidate(feature)
            if candidate is not None:
                read.append(candidate)
        if read:
            footprints = np.array(make_shapes(read), dtype=object)
            which, where = self._tree.query(footprints, predicate="intersects")
            for at in np.lexsort((where, which)):  # by feature, then AOI: the order read
                candidate, index = read[int(which[at])], int(where[at])
                self._keepers[index].offer(candidate)
                self._holders[candidate.id] = self._holders.get(candidate.id, 0) + 1
                touched.add(index)
        gone = [c.id for c in read if c.id not in self._holders]
        for index in sorted(touched):
            for candidate in self._keepers[index].prune():
                left = self._holders[candidate.id] - 1
                if left:
                    self._holders[candidate.id] = left
                else:
                    del self._holders[candidate.id]
                    gone.append(candidate.id)
        forget_shapes(gone)
        self.peak_held = max(self.peak_held, len(self._holders))

    def candidates(self, key: str) -> tuple[list[Candidate], Unseen]:
        """The AOI's kept candidates (touching it) and the count of those dropped."""
        keeper = self._keepers[self._index[key]]
        return keeper.held, keeper.unseen

    def clear(self) -> None:
        """Let go of everything once the AOIs are selected (the search's result stays
        referenced until every search is done)."""
        self._keepers, self._keys, self._index = [], [], {}
        self._seen, self._holders = set(), {}

    @property
    def held(self) -> list[Candidate]:
        """Every candidate some AOI holds."""
        unique: dict[str, Candidate] = {}
        for keeper in self._keepers:
            for candidate in keeper.held:
                unique.setdefault(candidate.id, candidate)
        return list(unique.values())


class _Resolving(Protocol):
    """What :func:`needs_by_aoi` reads of a resource being resolved (the planner's outcome)."""

    @property
    def desired(self) -> DesiredResource: ...

    @property
    def decision(self) -> Decision: ...


def needs_by_aoi(by_key: Mapping[str, Sequence[_Resolving]]) -> dict[str, Need]:
    """Each AOI's need, from the resources searching it."""
    return {
        key: need_of(
            [o.desired.criteria for o in outcomes],
            [o.desired.policy for o in outcomes],
            (scene for o in outcomes if o.decision.action == "recheck" for scene in
             o.decision.owned),
        )
        for key, outcomes in by_key.items()
    }


def gatherer(
    pages: Callable[[SearchQuery], Iterable[Sequence[SceneFeature]]],
    aois: Mapping[str, BaseGeometry],
    needs: Mapping[str, Need],
) -> Callable[[MergedSearch], Gathered]:
    """A merged search made into its AOIs' kept candidates, page by page."""

    def gather(search: MergedSearch) -> Gathered:
        keys = [str(k) for k in search.keys]
        gathered = Gathered({k: aois[k] for k in keys}, {k: needs[k] for k in keys})
        for page in pages(search.query):
            gathered.add_page(page)
        return gathered

    return gather

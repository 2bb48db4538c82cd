"""Merged searches: AOIs close together share a search; clusters far apart never do."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from oneatlas_plan.api.query import SearchQuery
from oneatlas_plan.planning.search import (
    MAX_OVERFETCH,
    SearchNeed,
    footprint_km,
    merge_searches,
    overfetch,
    worth_one_search,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import _common

PHR = SearchQuery(constellations=("PHR",))


def _needs(polygons: list[dict], query: SearchQuery = PHR) -> list[SearchNeed]:
    needs = []
    for i, polygon in enumerate(polygons):
        lons = [p[0] for p in polygon["coordinates"][0]]
        lats = [p[1] for p in polygon["coordinates"][0]]
        needs.append(SearchNeed(key=f"a{i:05d}", query=query,
                                bounds=(min(lons), min(lats), max(lons), max(lats))))
    return needs


def test_neighbouring_tiles_are_one_search() -> None:
    merged = merge_searches(_needs(_common.world_aois("grid", 1000)))
    assert len(merged) == 1
    assert len(merged[0].keys) == 1000


def test_spread_clusters_are_searched_apart_within_the_overfetch_bound() -> None:
    needs = _needs(_common.world_aois("spread", 1000))
    merged = merge_searches(needs)
    bounds = {n.key: n.bounds for n in needs}
    # 8 regions of 5 clusters: never one search per region, never one per AOI
    assert len(_common.SPREAD_REGIONS) < len(merged) < 200
    # each AOI once (keys are Hashable to the type checker, str here: key=str keeps the order)
    assert sorted((k for m in merged for k in m.keys), key=str) == sorted(bounds, key=str)
    for search in merged:
        boxes = [bounds[k] for k in search.keys]
        assert overfetch(boxes, footprint_km(PHR)) <= MAX_OVERFETCH or len(boxes) == 1
        west, south, east, north = search.query.bbox or (0, 0, 0, 0)
        assert all(west <= b[0] and south <= b[1] and b[2] <= east and b[3] <= north
                   for b in boxes)


def test_different_criteria_are_never_merged() -> None:
    polygons = _common.world_aois("grid", 4)
    spot = SearchQuery(constellations=("SPOT",))
    merged = merge_searches(_needs(polygons[:2]) + _needs(polygons[2:], spot)[::-1])
    assert sorted(len(m.keys) for m in merged) == [2, 2]
    assert {m.query.constellations for m in merged} == {("PHR",), ("SPOT",)}


def test_merging_is_deterministic() -> None:
    needs = _needs(_common.world_aois("spread", 300))
    assert merge_searches(needs) == merge_searches(list(reversed(needs)))


@pytest.mark.parametrize(("constellations", "km"), [(("PHR",), 20.0), (("SPOT",), 60.0),
                                                    (("PNEO",), 14.0), ((), 60.0)])
def test_footprint_reach(constellations: tuple[str, ...], km: float) -> None:
    assert footprint_km(SearchQuery(constellations=constellations)) == km


@pytest.mark.parametrize("seed", range(20))
def test_the_shortcut_decides_as_the_exact_overfetch(seed: int) -> None:
    """Groups of boxes from one tight cluster to several far apart: the decision made from the
    boxes' areas alone, when they settle it, is the one the union gives."""
    rng = random.Random(seed)
    centres = [(rng.uniform(-170, 170), rng.uniform(-60, 60)) for _ in range(rng.randint(1, 4))]
    spread = rng.choice([0.01, 0.05, 0.2, 1.0])
    boxes = []
    for _ in range(rng.randint(2, 40)):
        lon, lat = rng.choice(centres)
        west, south = lon + rng.gauss(0, spread), lat + rng.gauss(0, spread)
        size = rng.uniform(0.01, 0.1)
        boxes.append((west, south, west + size, south + size))
    for reach in (14.0, 20.0, 60.0):
        assert worth_one_search(boxes, reach) == (overfetch(boxes, reach) <= MAX_OVERFETCH)


def test_merged_searches_are_those_of_the_exact_overfetch(monkeypatch: pytest.MonkeyPatch) -> None:
    from oneatlas_plan.planning import search

    needs = _needs(_common.world_aois("spread", 300))
    fast = merge_searches(needs)
    monkeypatch.setattr(search, "worth_one_search",
                        lambda boxes, reach: overfetch(boxes, reach) <= MAX_OVERFETCH)
    assert fast == merge_searches(needs)


@pytest.mark.parametrize("seed", range(10))
def test_the_union_area_of_boxes_is_that_of_their_polygon_union(seed: int) -> None:
    import numpy as np
    import shapely

    from oneatlas_plan.planning.search import _union_area

    rng = random.Random(seed)
    boxes = []
    for _ in range(rng.randint(1, 150)):
        x, y = rng.uniform(-50, 50), rng.uniform(-50, 50)
        boxes.append((x, y, x + rng.uniform(0, 40), y + rng.uniform(0, 40)))
    grown = np.array(boxes).T
    assert _union_area(grown) == pytest.approx(shapely.union_all(shapely.box(*grown)).area,
                                               rel=1e-12)

"""Multi-scene covers prefer less paid overlap (issue 14): among covers satisfying the policy,
the one billing the least beyond the ground it covers once, the 25 km² minimum included."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from shapely.geometry import box

from oneatlas_plan.geodesy import geodesic_area_km2
from oneatlas_plan.planning import explain
from oneatlas_plan.planning.overlap import cover_overlap_km2
from oneatlas_plan.planning.selection import Candidate, Criteria, Policy, Selection, select
from tests.planning.test_selection import polygon, scene

# About 16.1 km x 5.6 km (≈ 90 km²); every footprint spans its whole latitude.
AOI = box(1.30, 43.58, 1.50, 43.63)
PREFIX = "covers-"
COVER = Policy(min_coverage=0.99, max_scenes=2)


def strip(name: str, west: float, east: float, *, cloud: float = 0.0) -> Candidate:
    # Footprints are cached by scene id: ids of this module are its own.
    footprint = polygon(1.30 + west, 43.5, 1.30 + east, 43.7)
    return scene(f"{PREFIX}{name}", footprint, cloud=cloud)


def chosen(result: Selection) -> list[str]:
    return sorted(c.id.removeprefix(PREFIX) for c, _ in result.scenes)


def ids(scenes: Iterable[Candidate]) -> list[str]:
    return [c.id.removeprefix(PREFIX) for c in scenes]


def test_equally_ranked_cover_without_overlap_replaces_the_greedy_one() -> None:
    # Greedy takes the widest scene (a: 60 %), then b (40 % new, 20 % shared with a);
    # c and d cover the AOI edge to edge, sharing nothing.
    candidates = [
        strip("a", 0.0, 0.12),
        strip("b", 0.08, 0.20),
        strip("c", 0.0, 0.10),
        strip("d", 0.10, 0.20),
    ]
    greedy_overlap = cover_overlap_km2(AOI, [candidates[0], candidates[1]])
    assert greedy_overlap == pytest.approx(0.2 * geodesic_area_km2(AOI), rel=0.01)
    result = select(AOI, candidates, Criteria(), COVER)
    assert result.satisfied
    assert chosen(result) == ["c", "d"]
    assert result.coverage == pytest.approx(1.0, abs=1e-6)
    assert cover_overlap_km2(AOI, [c for c, _ in result.scenes]) == pytest.approx(0, abs=1e-6)
    choice = result.overlap_choice
    assert choice is not None
    assert sorted(ids(choice.replaced)) == ["a", "b"]
    assert choice.first.paid_overlap_km2 == pytest.approx(greedy_overlap, rel=1e-6)
    assert choice.chosen.paid_overlap_km2 == pytest.approx(0, abs=1e-6)
    # The replaced scenes come first among the runners-up, each saying why it was left out.
    assert ids(c for c, _ in result.alternatives)[:2] == ["a", "b"]
    why = explain.why_not_chosen(result, result.alternatives[0][0], 0.6, COVER)
    assert why == (
        f"less paid overlap: the first cover found (2 scenes, with this one) bills "
        f"{choice.first.paid_overlap_km2:,.2f} km² beyond the ground it covers once, "
        "the chosen cover (2 scenes) 0.00 km²"
    )


def test_the_archive_minimum_counts_as_paid() -> None:
    # Greedy: wide (90 %) then a sliver (10 %, ≈ 9 km² billed as 25 km²): no shared ground,
    # but 16 km² paid for nothing. Two halves bill exactly the AOI.
    candidates = [
        strip("a-wide", 0.0, 0.18),
        strip("b-sliver", 0.18, 0.20),  # the id breaks the greedy's tie with c-east
        strip("c-west", 0.0, 0.10),
        strip("c-east", 0.10, 0.20),
    ]
    result = select(AOI, candidates, Criteria(), COVER)
    assert chosen(result) == ["c-east", "c-west"]
    choice = result.overlap_choice
    assert choice is not None
    assert sorted(ids(choice.first.scenes)) == ["a-wide", "b-sliver"]
    sliver = 0.1 * geodesic_area_km2(AOI)
    assert choice.first.paid_overlap_km2 == pytest.approx(25.0 - sliver, rel=0.01)


def test_a_cheaper_cover_that_misses_the_policy_is_not_taken() -> None:
    # c and d share nothing but are cloudier than allowed: only the overlapping pair qualifies.
    candidates = [
        strip("a", 0.0, 0.12),
        strip("b", 0.08, 0.20),
        strip("c", 0.0, 0.10, cloud=30),
        strip("d", 0.10, 0.20, cloud=30),
    ]
    result = select(AOI, candidates, Criteria(cloud_cover_max=20), COVER)
    assert chosen(result) == ["a", "b"]
    assert result.overlap_choice is None
    # Nor one that needs more scenes than max_scenes allows.
    thirds = [strip("t1", 0.0, 0.07), strip("t2", 0.07, 0.14), strip("t3", 0.14, 0.20)]
    result = select(AOI, candidates[:2] + thirds, Criteria(), COVER)
    assert chosen(result) == ["a", "b"]
    three = Policy(min_coverage=0.99, max_scenes=3)
    result = select(AOI, candidates[:2] + thirds, Criteria(), three)
    assert chosen(result) == ["t1", "t2", "t3"]


def test_a_scene_the_later_ones_make_redundant_is_dropped() -> None:
    # Greedy takes the widest (middle, 70 %), then both halves for the edges it misses:
    # with them, the middle one only pays twice for ground they already cover.
    candidates = [
        strip("middle", 0.03, 0.17),
        strip("p-west", 0.0, 0.10),
        strip("p-east", 0.10, 0.20),
    ]
    result = select(AOI, candidates, Criteria(), Policy(min_coverage=0.99, max_scenes=3))
    assert chosen(result) == ["p-east", "p-west"]
    choice = result.overlap_choice
    assert choice is not None
    assert len(choice.first.scenes) == 3
    assert ids(choice.replaced) == ["middle"]


def test_equal_paid_overlap_keeps_the_greedy_cover() -> None:
    candidates = [strip("west", 0.0, 0.10), strip("east", 0.10, 0.20)]
    result = select(AOI, candidates, Criteria(), COVER)
    assert chosen(result) == ["east", "west"]
    assert result.overlap_choice is None


def test_ties_in_paid_overlap_go_to_the_better_ranked_scenes() -> None:
    # Two overlap-free pairs replace the overlapping greedy pair; the clearer pair wins,
    # whatever the order the scenes come in.
    candidates = [
        strip("a", 0.0, 0.12),
        strip("b", 0.08, 0.20),
        strip("c", 0.0, 0.10, cloud=5),
        strip("d", 0.10, 0.20, cloud=5),
        strip("e", 0.0, 0.10, cloud=1),
        strip("f", 0.10, 0.20, cloud=1),
    ]
    assert chosen(select(AOI, candidates, Criteria(), COVER)) == ["e", "f"]
    assert chosen(select(AOI, candidates[::-1], Criteria(), COVER)) == ["e", "f"]

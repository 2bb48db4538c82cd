from __future__ import annotations

from typing import Any

import pytest
from shapely.geometry import box

from oneatlas_plan.geodesy import geodesic_area_km2
from oneatlas_plan.planning.selection import (
    Candidate,
    Criteria,
    Policy,
    filter_candidates,
    forget_shapes,
    make_shapes,
    rank,
    select,
)

AOI = box(1.40, 43.58, 1.46, 43.62)  # about 4.8 km x 4.4 km near Toulouse


def polygon(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> dict[str, Any]:
    return box(min_lon, min_lat, max_lon, max_lat).__geo_interface__


def scene(
    scene_id: str,
    footprint: dict[str, Any],
    *,
    cloud: float = 0.0,
    date: str = "2022-07-01T10:00:00Z",
    incidence: float = 10.0,
) -> Candidate:
    return Candidate(
        id=scene_id,
        archive_identifier=f"DS_{scene_id}",
        platform="PHR1A",
        constellation="PHR",
        acquisition_date=date,
        cloud_cover=cloud,
        incidence_angle=incidence,
        snow_cover=0.0,
        resolution=0.5,
        footprint=footprint,
    )


WHOLE = polygon(1.3, 43.5, 1.6, 43.7)
WEST_HALF = polygon(1.3, 43.5, 1.43, 43.7)
EAST_HALF = polygon(1.43, 43.5, 1.6, 43.7)
FAR_AWAY = polygon(10.0, 10.0, 10.2, 10.2)


def test_geodesic_area_of_a_known_box() -> None:
    # 0.06 deg of longitude x 0.04 deg of latitude at 43.6N: about 4.84 km x 4.45 km
    assert geodesic_area_km2(AOI) == pytest.approx(21.5, rel=0.02)


def test_one_scene_enough_picks_the_best_ranked() -> None:
    candidates = [scene("b", WHOLE, cloud=5), scene("a", WHOLE, cloud=1)]
    result = select(AOI, candidates, Criteria(), Policy())
    assert result.satisfied
    assert [c.id for c, _ in result.scenes] == ["a"]
    assert result.coverage == pytest.approx(1.0)


def test_ranking_wins_over_coverage_when_coverage_is_met() -> None:
    candidates = [scene("clear", WHOLE, cloud=1), scene("cloudy", WHOLE, cloud=8)]
    result = select(AOI, candidates, Criteria(), Policy(rank_by=("-cloud_cover",)))
    assert [c.id for c, _ in result.scenes] == ["cloudy"]


def test_two_scenes_needed_with_greedy_cover() -> None:
    candidates = [scene("west", WEST_HALF), scene("east", EAST_HALF)]
    result = select(AOI, candidates, Criteria(), Policy(min_coverage=0.99, max_scenes=3))
    assert result.satisfied
    assert sorted(c.id for c, _ in result.scenes) == ["east", "west"]
    assert result.coverage == pytest.approx(1.0, abs=1e-6)


def test_two_scenes_needed_but_only_one_allowed_is_explained() -> None:
    candidates = [scene("west", WEST_HALF), scene("east", EAST_HALF)]
    result = select(AOI, candidates, Criteria(), Policy(min_coverage=0.95, max_scenes=1))
    assert not result.satisfied
    assert result.unsatisfied is not None
    assert "no single scene covers 95% of the AOI (best: 50.0%)" in result.unsatisfied
    assert "max_scenes" in result.unsatisfied


def test_impossible_coverage_is_explained() -> None:
    candidates = [scene("west", WEST_HALF)]
    result = select(AOI, candidates, Criteria(), Policy(min_coverage=0.9, max_scenes=4))
    assert result.unsatisfied == (
        "1 scene(s) reach only 50.0% coverage of the AOI (required 90%, max_scenes 4)"
    )
    assert result.scenes == ()


def test_nothing_intersects() -> None:
    result = select(AOI, [scene("far", FAR_AWAY)], Criteria(), Policy())
    assert result.found == 0
    assert result.unsatisfied == (
        "no scene in the archive intersects the AOI within the search window"
    )


def test_every_removal_is_counted_by_criterion() -> None:
    candidates = [
        scene("cloudy", WHOLE, cloud=50),
        scene("tilted", WHOLE, incidence=45),
        scene("cloudy2", WHOLE, cloud=30),
    ]
    criteria = Criteria(cloud_cover_max=10, incidence_angle_max=30)
    result = select(AOI, candidates, criteria, Policy())
    assert result.found == 3
    assert result.eligible == 0
    assert result.removed == {"cloud_cover": 2, "incidence_angle": 1}
    assert result.unsatisfied == (
        "3 scene(s) intersect the AOI but none qualifies "
        "(removed by cloud_cover: 2, incidence_angle: 1)"
    )


def test_filter_respects_platforms() -> None:
    kept, removed = filter_candidates([scene("a", WHOLE)], Criteria(platforms=("PHR1B",)))
    assert kept == []
    assert removed == {"platform": 1}


def test_rank_most_recent_first_then_id() -> None:
    older = scene("x", WHOLE, date="2022-06-01T00:00:00Z")
    newer = scene("y", WHOLE, date="2022-08-01T00:00:00Z")
    same = scene("a", WHOLE, date="2022-08-01T00:00:00Z")
    assert [c.id for c in rank([older, newer, same], ["-acquisition_date"])] == ["a", "y", "x"]


def test_exclude_skips_scenes_already_used() -> None:
    candidates = [scene("a", WHOLE, cloud=1), scene("b", WHOLE, cloud=2)]
    result = select(AOI, candidates, Criteria(), Policy(), exclude=frozenset({"a"}))
    assert [c.id for c, _ in result.scenes] == ["b"]


@pytest.mark.parametrize("max_scenes", [1, 2, 5])
def test_no_coverage_floor_buys_the_best_ranked_scene_whatever_max_scenes(
    max_scenes: int,
) -> None:
    """`coverage.min: 0` sets no floor (docs/SPEC.md): one scene reaches it, never zero."""
    candidates = [scene("west", WEST_HALF, cloud=1), scene("east", EAST_HALF, cloud=0)]
    result = select(AOI, candidates, Criteria(), Policy(min_coverage=0.0, max_scenes=max_scenes))
    assert result.satisfied
    assert [c.id for c, _ in result.scenes] == ["east"]
    assert result.coverage == pytest.approx(0.5, abs=1e-6)


def test_scenes_that_only_touch_the_aoi_are_not_a_cover_and_the_plan_says_so() -> None:
    touching = scene("edge", polygon(1.46, 43.5, 1.6, 43.7))  # shares the AOI's east edge
    result = select(AOI, [touching], Criteria(), Policy(min_coverage=0.0, max_scenes=3))
    assert result.scenes == ()
    assert result.unsatisfied == (
        "1 scene(s) intersect the AOI but none qualifies "
        "(touching only its boundary (no ground in common): 1)"
    )
    cloudy = scene("cloudy", WHOLE, cloud=50)
    result = select(AOI, [touching, cloudy], Criteria(cloud_cover_max=10), Policy())
    assert result.unsatisfied == (
        "2 scene(s) intersect the AOI but none qualifies "
        "(removed by cloud_cover: 1; touching only its boundary (no ground in common): 1)"
    )


BATCH_FOOTPRINTS = {
    "one ring": polygon(1.40, 43.58, 1.50, 43.70),
    "open ring": {"type": "Polygon", "coordinates": [[[1.4, 43.5], [1.6, 43.5], [1.5, 43.7]]]},
    "bow tie": {"type": "Polygon", "coordinates": [
        [[1.4, 43.5], [1.6, 43.7], [1.6, 43.5], [1.4, 43.7], [1.4, 43.5]]]},
    "hole": {"type": "Polygon", "coordinates": [
        [[1.0, 43.0], [2.0, 43.0], [2.0, 44.0], [1.0, 44.0], [1.0, 43.0]],
        [[1.4, 43.4], [1.6, 43.4], [1.6, 43.6], [1.4, 43.6], [1.4, 43.4]]]},
    "3-D": {"type": "Polygon", "coordinates": [
        [[1.4, 43.5, 0.0], [1.6, 43.5, 0.0], [1.5, 43.7, 0.0], [1.4, 43.5, 0.0]]]},
    "multi": {"type": "MultiPolygon", "coordinates": [
        [[[1.0, 43.0], [1.1, 43.0], [1.1, 43.1], [1.0, 43.0]]],
        [[[1.5, 43.5], [1.6, 43.5], [1.6, 43.6], [1.5, 43.5]]]]},
}


def test_shapes_made_by_the_page_are_those_made_one_at_a_time() -> None:
    from shapely.geometry import shape

    scenes = [scene(f"batch-{name}", footprint) for name, footprint in BATCH_FOOTPRINTS.items()]
    forget_shapes(s.id for s in scenes)
    try:
        made = make_shapes(scenes)
        for one, footprint, got in zip(scenes, BATCH_FOOTPRINTS.values(), made, strict=True):
            expected = shape(footprint).buffer(0)
            assert got.equals_exact(expected, tolerance=0), one.id
            assert got.is_valid, one.id
            assert one.footprint_shape is got  # cached: made once
    finally:
        forget_shapes(s.id for s in scenes)

"""Why a scene was chosen: runners-up with the deciding difference, nearest misses."""

from __future__ import annotations

from oneatlas_plan.planning.explain import deciding_difference
from oneatlas_plan.planning.selection import Criteria, Policy, select
from tests.planning.test_selection import AOI, EAST_HALF, WEST_HALF, WHOLE, scene


def test_alternatives_are_the_next_covering_scenes_in_rank_order() -> None:
    candidates = [
        scene("c", WHOLE, cloud=3),
        scene("a", WHOLE, cloud=1),
        scene("half", WEST_HALF, cloud=0),
        scene("b", WHOLE, cloud=2),
        scene("d", WHOLE, cloud=4),
        scene("e", WHOLE, cloud=5),
    ]
    result = select(AOI, candidates, Criteria(), Policy())
    assert [c.id for c, _ in result.scenes] == ["a"]
    # the half scene ranks first but covers too little to stand in for the chosen one
    assert [(c.id, round(cov, 3)) for c, cov in result.alternatives] == [
        ("b", 1.0),
        ("c", 1.0),
        ("d", 1.0),
    ]
    assert result.near_misses == ()


def test_deciding_difference_names_the_first_ranking_key_that_differs() -> None:
    chosen = scene("a", WHOLE, cloud=0.4, date="2022-07-01T10:00:00Z")
    policy = Policy()
    assert (
        deciding_difference(chosen, scene("b", WHOLE, cloud=2.1), 1.0, policy)
        == "ranked by cloud_cover: 0.4 % vs 2.1 %"
    )
    later = scene("b", WHOLE, cloud=0.4, date="2022-06-01T10:00:00Z")
    assert (
        deciding_difference(chosen, later, 1.0, policy)
        == "ranked by -acquisition_date: 2022-07-01 vs 2022-06-01"
    )
    assert deciding_difference(chosen, scene("b", WHOLE), 0.5, policy) == "covers 50.0% < min 95%"


def test_nearest_misses_say_which_criterion_and_by_how_much() -> None:
    candidates = [
        scene("far-over", WHOLE, cloud=40),
        scene("just-over", WHOLE, cloud=12),
        scene("steep", WHOLE, cloud=1, incidence=31),
    ]
    criteria = Criteria(cloud_cover_max=10, incidence_angle_max=30)
    result = select(AOI, candidates, criteria, Policy())
    assert not result.satisfied and result.alternatives == ()
    assert [(c.id, why) for c, why in result.near_misses] == [
        ("steep", "incidence 31° > max 30°"),
        ("just-over", "cloud 12 % > max 10 %"),
        ("far-over", "cloud 40 % > max 10 %"),
    ]


def test_nearest_misses_include_scenes_covering_too_little() -> None:
    candidates = [scene("west", WEST_HALF), scene("east", EAST_HALF, cloud=50)]
    result = select(AOI, candidates, Criteria(cloud_cover_max=10), Policy(min_coverage=0.95))
    reasons = dict((c.id, why) for c, why in result.near_misses)
    assert reasons["west"].startswith("coverage ") and reasons["west"].endswith("< min 95%")
    assert reasons["east"] == "cloud 50 % > max 10 %"


def test_a_non_archive_item_is_the_farthest_miss() -> None:
    from dataclasses import replace

    delivered = replace(scene("delivered", WHOLE, cloud=0), processing_level="ORTHO")
    cloudy = scene("cloudy", WHOLE, cloud=90)
    result = select(AOI, [delivered, cloudy], Criteria(cloud_cover_max=10), Policy())
    assert [(c.id, why) for c, why in result.near_misses] == [
        ("cloudy", "cloud 90 % > max 10 %"),
        ("delivered", "processing level ORTHO not in ALBUM"),
    ]


def test_resolution_misses_name_the_bound_they_missed() -> None:
    from oneatlas_plan.planning.explain import _criterion_miss

    sharp = scene("res-sharp", WHOLE)  # 0.5 m
    assert _criterion_miss(sharp, Criteria(resolution_min=1.0)) == (
        0.5,
        "resolution 0.5 m < min 1 m",
    )
    gap, text = _criterion_miss(sharp, Criteria(resolution_max=0.25)) or (0.0, "")
    assert (gap, text) == (1.0, "resolution 0.5 m > max 0.25 m")

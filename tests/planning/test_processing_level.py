"""Issue 16.5: only ALBUM archive items go into a Pay-Per-Order body; other levels are
removed with the reason counted in the plan's selection statistics."""

from __future__ import annotations

from shapely.geometry import shape

from oneatlas_plan.api.models import scene_page
from oneatlas_plan.planning.search import to_candidate
from oneatlas_plan.planning.selection import Criteria, Policy, filter_candidates, select
from tests.reference import reference_json


def test_the_captured_search_mixes_sensor_items_and_they_are_removed() -> None:
    features, _ = scene_page(reference_json("search-response-phr-album-captured.json"))
    candidates = [c for c in (to_candidate(f) for f in features) if c is not None]
    levels = [c.processing_level for c in candidates]
    assert levels.count("SENSOR") == 2 and levels.count("ALBUM") == 48
    eligible, removed = filter_candidates(candidates, Criteria())
    assert removed == {"processing_level": 2}
    assert {c.processing_level for c in eligible} == {"ALBUM"}


def test_a_sensor_item_is_never_selected_even_when_it_is_the_best() -> None:
    features, _ = scene_page(reference_json("search-response-phr-album-captured.json"))
    sensor = next(f for f in features if f.processing_level == "SENSOR")
    aoi = shape(sensor.geometry).centroid.buffer(0.01)
    candidates = [c for c in (to_candidate(f) for f in features) if c is not None]
    # rank the SENSOR item first: it would be chosen if nothing checked the level
    best_first = sorted(candidates, key=lambda c: c.id != sensor.id)
    selection = select(aoi, best_first, Criteria(), Policy(rank_by=(), min_coverage=0.0))
    assert sensor.id not in {c.id for c, _ in selection.scenes}
    assert selection.removed.get("processing_level", 0) >= 1


def test_an_item_without_a_processing_level_is_not_ordered() -> None:
    page = reference_json("search-response-phr-album-captured.json")
    page["features"] = page["features"][:1]
    page["features"][0]["properties"].pop("processingLevel")
    candidate = to_candidate(scene_page(page)[0][0])
    assert candidate is not None and candidate.processing_level is None
    assert filter_candidates([candidate], Criteria()) == ([], {"processing_level": 1})

"""Candidates kept per AOI as pages arrive: the selections made from what is kept are those
made from every candidate, and what is kept stays bounded however many pages come."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPoint, box, shape

from oneatlas_plan.api.models import SceneFeature
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning import candidates
from oneatlas_plan.planning.candidates import NEAR, SCAN, Gathered, Keeper, Need, need_of
from oneatlas_plan.planning.search import to_candidate
from oneatlas_plan.planning.selection import Candidate, Criteria, Policy, Selection, select
from tests.conftest import World
from tests.planning.test_pipeline import archive_order, without_meta, write_world

_UNIT = 0.01  # degrees: a grid step, so that footprints share edges and coverages tie
_LON, _LAT = 1.0, 43.0
_RANKINGS = (
    ("cloud_cover", "-acquisition_date"),
    ("incidence_angle",),
    ("acquisition_date", "cloud_cover"),
    ("-acquisition_date",),
)
_ids = itertools.count()


def _polygon(points: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """The convex hull of grid points, as GeoJSON (a box when the points are degenerate)."""
    hull = MultiPoint([(_LON + x * _UNIT, _LAT + y * _UNIT) for x, y in points]).convex_hull
    if hull.geom_type != "Polygon":
        xs, ys = zip(*points, strict=True)
        hull = box(_LON + min(xs) * _UNIT, _LAT + min(ys) * _UNIT,
                   _LON + (max(xs) + 1) * _UNIT, _LAT + (max(ys) + 1) * _UNIT)
    return dict(hull.__geo_interface__)


_corner = st.tuples(st.integers(-2, 12), st.integers(-2, 12))


@st.composite
def _footprint(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):  # a box: shared edges, equal coverages, boundary-only contacts
        (x0, y0), (w, h) = draw(_corner), draw(st.tuples(st.integers(2, 14), st.integers(2, 14)))
        return _polygon([(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)])
    return _polygon(draw(st.lists(_corner, min_size=3, max_size=6)))


@st.composite
def _feature(draw: st.DrawFn, scene_ids: Sequence[str]) -> SceneFeature:
    return SceneFeature(
        id=draw(st.sampled_from(scene_ids)),  # a few ids repeat (the first read stands)
        geometry=draw(_footprint()),
        acquisition_date=draw(st.sampled_from(["2023-06-01T10:00:00Z", "2023-07-01T10:00:00Z",
                                               "2023-08-01T10:00:00Z"])),
        archive_identifier="DS",
        constellation="PHR",
        platform=draw(st.sampled_from(["PHR1A", "PHR1A", "PHR1B"])),
        cloud_cover=draw(st.sampled_from([0.0, 1.0, 1.0, 4.0, 8.0, 12.0, None])),
        incidence_angle=draw(st.sampled_from([5.0, 10.0, 10.0, 25.0, 40.0, None])),
        processing_level=draw(st.sampled_from(["ALBUM"] * 6 + ["SENSOR"])),
    )


@st.composite
def _world(draw: st.DrawFn) -> dict[str, Any]:
    prefix = f"w{next(_ids)}-"  # footprint shapes are cached by scene id
    count = draw(st.integers(1, 90))
    scene_ids = [f"{prefix}{n:03d}" for n in range(count + count // 10)]
    features = draw(st.lists(_feature(scene_ids), min_size=count, max_size=count))
    aois = [[(x + dx, y + dy) for dx, dy in points]
            for x, y, points in draw(st.lists(st.tuples(
                st.integers(0, 8), st.integers(0, 8),
                st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=3,
                         max_size=8)), min_size=1, max_size=3))]
    cuts = sorted(draw(st.lists(st.integers(0, len(features)), max_size=6)))
    policy = Policy(
        rank_by=draw(st.sampled_from(_RANKINGS)),
        min_coverage=draw(st.sampled_from([0.3, 0.8, 0.95, 1.0])),
        max_scenes=draw(st.sampled_from([1, 1, 2, 3])),
    )
    criteria = Criteria(
        cloud_cover_max=draw(st.sampled_from([None, 5.0, 10.0])),
        incidence_angle_max=draw(st.sampled_from([None, 30.0])),
        platforms=draw(st.sampled_from([(), ("PHR1A",)])),
    )
    return {
        "features": features,
        "pages": [features[a:b] for a, b in itertools.pairwise([0, *cuts, len(features)])],
        "aois": {f"aoi{k}": shape(_polygon(points)) for k, points in enumerate(aois)},
        "policy": policy,
        "criteria": criteria,
        "resources": draw(st.integers(1, 3)),
        "owned": draw(st.lists(st.sampled_from(scene_ids), max_size=2, unique=True)),
    }


def _select_all(
    aoi: Any,
    found: Sequence[Candidate],
    world: dict[str, Any],
    unseen: Any = None,
) -> list[Selection]:
    """The AOI's resources selected in turn, as the planner does: each excluding the scenes
    of those before it (and, first, the owned scenes of a re-check found still satisfied)."""
    exclude = frozenset(world["owned"])
    made = []
    for _ in range(world["resources"]):
        selection = select(aoi, found, world["criteria"], world["policy"], exclude=exclude,
                           unseen=unseen)
        made.append(selection)
        exclude |= {c.id for c, _ in selection.scenes}
    return made


def _kept_selects_as_everything_does(world: dict[str, Any]) -> None:
    first: dict[str, Candidate] = {}
    for feature in world["features"]:
        candidate = to_candidate(feature)
        if feature.id not in first and candidate is not None:
            first[feature.id] = candidate
    everything = list(first.values())
    need = need_of([world["criteria"]] * world["resources"], [world["policy"]] * world["resources"],
                   world["owned"])
    gathered = Gathered(world["aois"], dict.fromkeys(world["aois"], need), prune=True)
    for page in world["pages"]:
        gathered.add_page(page)
    for key, aoi in world["aois"].items():
        kept, unseen = gathered.candidates(key)
        assert {c.id for c in kept} <= set(first)
        assert _select_all(aoi, kept, world, unseen) == _select_all(aoi, everything, world)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_world())
def test_what_is_kept_selects_as_everything_does(world: dict[str, Any]) -> None:
    _kept_selects_as_everything_does(world)


@pytest.mark.campaign
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_world())
def test_what_is_kept_selects_as_everything_does_campaign(world: dict[str, Any]) -> None:
    _kept_selects_as_everything_does(world)


def _covering_pages(
    pages: int, per_page: int, *, partial: bool = False
) -> tuple[Any, list[list[SceneFeature]]]:
    """An AOI and pages of scenes over it, ranked in random order: all covering it, or (when
    ``partial``) each covering part of it only."""
    rng = random.Random(7)
    aoi = box(_LON, _LAT, _LON + 0.05, _LAT + 0.05)
    made = []
    for p in range(pages):
        page = []
        for n in range(per_page):
            west = _LON + (0.03 if partial else -0.01) + rng.random() * 0.01
            footprint = box(west, _LAT - 0.01, west + 0.1, _LAT + 0.06)
            page.append(SceneFeature(
                id=f"bounded-{partial}-{p}-{n}", geometry=dict(footprint.__geo_interface__),
                acquisition_date=f"2023-07-{1 + rng.randrange(28):02d}T10:00:00Z",
                constellation="PHR", platform="PHR1A",
                cloud_cover=float(rng.randrange(30)), processing_level="ALBUM"))
        made.append(page)
    return aoi, made


@pytest.mark.parametrize("max_scenes", [1, 3])
def test_the_candidates_held_stay_bounded_as_pages_arrive(max_scenes: int) -> None:
    aoi, pages = _covering_pages(40, 50)
    need = need_of([Criteria(cloud_cover_max=20.0)], [Policy(max_scenes=max_scenes)], [])
    gathered = Gathered({"a": aoi}, {"a": need}, prune=True)
    # the best-ranked, the first covering ones, the near misses (criterion and coverage)
    bound = (SCAN + 1 + need.spare) + (need.spare + 1) + (NEAR + need.spare) + NEAR
    held = []
    for page in pages:
        gathered.add_page(page)
        held.append(len(gathered.candidates("a")[0]))
    assert max(held) <= bound
    kept, unseen = gathered.candidates("a")
    assert gathered.features == 2000 and unseen.found + len(kept) == 2000
    assert gathered.peak_held == max(held)
    everything = [c for page in pages for c in map(to_candidate, page) if c is not None]
    criteria, policy = need.criteria, need.policy
    assert select(aoi, kept, criteria, policy, unseen=unseen) == select(
        aoi, everything, criteria, policy)


def test_partial_scenes_are_all_kept_where_scenes_are_combined_and_none_covers() -> None:
    """No safe bound is proven for multi-scene covers: while no scene covers the AOI, every
    scene with ground in common stays (with one scene per AOI, only the nearest misses)."""
    aoi, pages = _covering_pages(4, 50, partial=True)
    for max_scenes in (1, 2):
        need = need_of([Criteria()], [Policy(max_scenes=max_scenes)], [])
        most = (SCAN + 1 + need.spare) + (NEAR + need.spare) if max_scenes == 1 else 200
        gathered = Gathered({"a": aoi}, {"a": need}, prune=True)
        for page in pages:
            gathered.add_page(page)
        assert len(gathered.candidates("a")[0]) <= most
        assert max_scenes == 1 or len(gathered.candidates("a")[0]) == 200


def test_an_aoi_whose_resources_differ_or_whose_ranking_meets_nan_keeps_everything() -> None:
    aoi, pages = _covering_pages(2, 50)
    mixed = need_of([Criteria(), Criteria(cloud_cover_max=5.0)], [Policy(), Policy()], [])
    assert mixed.keep_all
    keeper = Keeper(aoi, Need(Criteria(), Policy()))
    for feature in pages[0]:
        nan = feature.id.endswith("-7")
        candidate = to_candidate(feature)
        assert candidate is not None
        keeper.offer(replace(candidate, cloud_cover=float("nan")) if nan else candidate)
    assert keeper.prune() == [] and len(keeper.held) == 50


def test_a_pinned_scene_is_kept_however_badly_it_ranks() -> None:
    aoi, pages = _covering_pages(10, 50)
    worst = max((f for page in pages for f in page), key=lambda f: (f.cloud_cover, f.id))
    need = need_of([Criteria()], [Policy()], [worst.id])
    gathered = Gathered({"a": aoi}, {"a": need}, prune=True)
    for page in pages:
        gathered.add_page(page)
    assert worst.id in {c.id for c in gathered.candidates("a")[0]}


# ------------------------------------------------------------------ whole plans, sandbox


def _spread_world(specs: Path, seed: int) -> None:
    """Random polygons in two clusters; orders with ties in ranking (incidence
    angle alone), strict criteria (near misses), AOIs no scene covers (unsatisfied), several
    scenes per AOI (exclusions) and multi-scene covers."""
    rng = random.Random(seed)

    def polygon(lon: float, lat: float, radius: float) -> dict[str, Any]:
        """The convex hull of 8 random points around a centre (4-8 vertices)."""
        points = [(round(lon + rng.uniform(-radius, radius), 6),
                   round(lat + rng.uniform(-radius, radius), 6)) for _ in range(8)]
        return dict(MultiPoint(points).convex_hull.__geo_interface__)

    aois = [
        {"name": f"p{k}-{i}", "geometry": polygon(lon + rng.gauss(0, 0.1), lat + rng.gauss(0, 0.1),
                                                 rng.uniform(0.025, 0.04))}
        for k, (lon, lat) in enumerate([(1.4, 43.6), (4.8, 45.7)])
        for i in range(12)
    ]
    big = [{"name": f"big{k}", "geometry": polygon(lon, lat, 0.3)}
           for k, (lon, lat) in enumerate([(1.0, 43.0), (5.0, 45.0)])]

    def order(name: str, chosen: list[dict[str, Any]], selection: dict[str, Any],
              cloud: int = 30) -> dict[str, Any]:
        return archive_order(name, chosen, 1, acquired=("2023-05-01", "2023-09-30"),
                             cloud=cloud, **selection)

    orders = [
        order("best", aois, {"rank_by": ["cloud_cover", "-acquisition_date"]}),
        order("ties", aois[::2], {"rank_by": ["incidence_angle"], "scenes_per_aoi": 2}),
        order("strict", aois[1::3], {"rank_by": ["-acquisition_date"],
                                     "coverage": {"min": 1.0}}, cloud=2),
        order("one", big, {"rank_by": ["cloud_cover"]}),
        order("cover", big, {"rank_by": ["cloud_cover"],
                             "coverage": {"min": 0.9, "max_scenes": 4}}),
    ]
    specs.mkdir(parents=True, exist_ok=True)
    document = {"version": 1, "name": f"spread{seed}", "orders": orders}
    (specs / "spread.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.mark.parametrize("make", ["pipeline", "spread"])
def test_plans_are_the_same_with_and_without_dropping_candidates(
    world: World, make: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = world.project / "world"
    if make == "pipeline":
        write_world(specs)
    else:
        _spread_world(specs, 3)
    dropped: list[Candidate] = []
    prune_one = Keeper.prune

    def counted(keeper: Keeper) -> list[Candidate]:
        gone = prune_one(keeper)
        dropped.extend(gone)
        return gone

    monkeypatch.setattr(Keeper, "prune", counted)
    plans = []
    for prune in (False, True):
        monkeypatch.setattr(candidates, "PRUNE", prune)
        out = f"plan-{prune}.json"
        assert world.cli("plan", "world", "--out", out) == ExitCode.OK
        plans.append(without_meta(Path(out).read_text(encoding="utf-8")))
    assert plans[0] == plans[1]
    assert dropped  # candidates were dropped, not just all kept
    # the worlds exercise what dropping must keep: alternatives, near misses, covers
    resources = json.loads(plans[1])["resources"]
    assert any(r["alternatives"] for r in resources)
    assert any("[part" in r["address"] for r in resources)  # multi-scene covers
    if make == "spread":
        assert any(r["near_misses"] for r in resources)
        assert any(r["address"].endswith("[1]") for r in resources)  # exclusions

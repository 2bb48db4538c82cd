from __future__ import annotations

from pathlib import Path
from typing import Any

from oneatlas_plan.planning.from_spec import desired_set
from oneatlas_plan.planning.orders import (
    OptionNames,
    ResolvedResource,
    build_orders,
    group,
    order_key,
)
from oneatlas_plan.planning.selection import Candidate
from oneatlas_plan.spec.loader import load_specs
from tests.reference import reference_json

ROOT = Path(__file__).resolve().parents[2]

# Values the spec does not fix as the seed does: the reference carries our idempotency key
# and AOI names are slugs (they are address segments). endUsers is [{}], as in the seed.
NOT_FIXED_BY_SPEC = {".customerReference", ".aoi.name"}


def seed_scene() -> Candidate:
    return Candidate(
        id="bd6ce7ac-403c-4a9c-8833-9a6001bd664d",
        archive_identifier="DS_PHR1A_202212111112398_FR1_PX_E001N43_0615_01665",
        platform="PHR1A",
        constellation="PHR",
        acquisition_date="2022-12-11T11:12:39.800Z",
        cloud_cover=0.0,
        incidence_angle=10.0,
        snow_cover=0.0,
        resolution=0.5,
        footprint={"type": "Polygon", "coordinates": [[[1.3, 43.5], [1.6, 43.5], [1.6, 43.7],
                                                        [1.3, 43.7], [1.3, 43.5]]]},
    )


def resolved(path: str, scenes: tuple[Candidate, ...] = ()) -> list[ResolvedResource]:
    desired = desired_set(load_specs([ROOT / path]))
    return [
        ResolvedResource(
            address=r.address,
            config_digest=r.config_digest,
            aoi_name=r.aoi_name,
            aoi_geometry=r.aoi_geometry,
            template=r.template,
            scenes=scenes or (seed_scene(),),
            projection=r.projection,
            dem=r.dem,
        )
        for r in desired.resources
    ]


def same_keys(ours: Any, seed: Any, where: str = "") -> list[str]:
    if isinstance(seed, dict):
        if not isinstance(ours, dict):
            return [f"{where}: not an object"]
        problems = [f"{where}.{k}: missing" for k in seed if k not in ours]
        problems += [f"{where}.{k}: extra" for k in ours if k not in seed]
        for key in seed:
            if key in ours and f"{where}.{key}" not in NOT_FIXED_BY_SPEC:
                problems += same_keys(ours[key], seed[key], f"{where}.{key}")
        return problems
    if isinstance(seed, list):
        if not isinstance(ours, list) or len(ours) != len(seed):
            return [f"{where}: list of {len(seed)} expected"]
        return [p for o, s in zip(ours, seed, strict=True) for p in same_keys(o, s, where)]
    return [] if ours == seed else [f"{where}: {ours!r} != {seed!r}"]


def test_toulouse_body_equals_the_seed_step5_sample() -> None:
    seed = reference_json("order-request-pleiades-archive.json")
    (draft,) = build_orders(resolved("specs/toulouse-pleiades.yaml"))
    body = draft.body
    assert same_keys(body, seed) == []
    assert body["customerReference"] == f"{draft.key}_toulouse/city-centre/polygon-1"
    assert body["endUsers"] == [{}]


def test_order_key_is_deterministic_and_depends_on_the_config() -> None:
    first = resolved("specs/toulouse-pleiades.yaml")
    again = resolved("specs/toulouse-pleiades.yaml")
    assert order_key(first) == order_key(again)
    changed = [
        ResolvedResource(**{**first[0].__dict__, "config_digest": "sha256:other"})
    ]
    assert order_key(changed) != order_key(first)
    assert order_key(first).startswith("oap-")


def test_pleiades_neo_items_use_data_source_ids_and_dem_per_aoi() -> None:
    scene = Candidate(**{**seed_scene().__dict__, "constellation": "PNEO", "platform": "PNEO3"})
    (draft,) = build_orders(resolved("specs/xinjiang-pleiades-neo.yaml", (scene,)))
    item = draft.body["items"][0]
    assert item["dataSourceIds"] == [{"catalogId": "PublicMOC", "catalogItemId": scene.id}]
    assert "datastripIds" not in item
    assert draft.body["endUsers"], "Pléiades Neo orders carry end users"
    keys = [o["key"] for o in draft.body["optionsPerProductType"][0]["options"]]
    assert "dem" not in keys


def test_group_respects_pairs_per_order() -> None:
    resources = resolved("specs/toulouse-pleiades.yaml")
    template = resources[0].template
    many = [
        ResolvedResource(**{**resources[0].__dict__, "address": f"t.o.a{i}", "template": template})
        for i in range(3)
    ]
    assert [len(chunk) for chunk in group(many)] == [1, 1, 1]
    wide = type(template)(**{**template.__dict__, "pairs_per_order": 2})
    many = [ResolvedResource(**{**r.__dict__, "template": wide}) for r in many]
    assert [len(chunk) for chunk in group(many)] == [2, 1]
    (first, _) = build_orders(many)
    assert [a["id"] for a in first.body["aoi"]] == [1, 2]
    assert [i["aoiId"] for i in first.body["items"]] == [1, 2]


def test_plain_option_keys_group_aois_of_one_projection_even_when_others_come_between() -> None:
    """AOIs of two UTM zones alternating in address order: with one ``projection`` key per
    order each zone fills its own orders; with ``projection_<aoi id>`` they all share."""
    resources = resolved("specs/toulouse-pleiades.yaml")
    template = type(resources[0].template)(
        **{**resources[0].template.__dict__, "pairs_per_order": 2})
    plain = OptionNames(dem_per_aoi=False, projection_per_aoi=False)
    zones = ["EPSG:32631", "EPSG:32630"]
    alternating = [
        ResolvedResource(**{**resources[0].__dict__, "address": f"t.o.a{i}",
                            "template": template, "option_names": plain,
                            "projection": zones[i % 2]})
        for i in range(5)
    ]
    chunks = group(alternating)
    assert [[r.address for r in chunk] for chunk in chunks] == [
        ["t.o.a0", "t.o.a2"], ["t.o.a1", "t.o.a3"], ["t.o.a4"]]
    first = build_orders(alternating)[0]
    options = {o["key"]: o["value"] for o in first.body["optionsPerProductType"][0]["options"]}
    assert options["projection"] == "EPSG:32631" and "projection_2" not in options
    per_aoi = [ResolvedResource(**{**r.__dict__, "option_names": OptionNames()})
               for r in alternating]
    assert [[r.address for r in chunk] for chunk in group(per_aoi)] == [
        ["t.o.a0", "t.o.a1"], ["t.o.a2", "t.o.a3"], ["t.o.a4"]]


def test_the_key_comes_first_so_a_shortened_reference_keeps_it() -> None:
    from oneatlas_plan.planning.orders import KEY_LENGTH

    for path in ("specs/toulouse-pleiades.yaml", "specs/tanzania-spot.yaml"):
        for draft in build_orders(resolved(path)):
            reference = draft.body["customerReference"]
            assert len(draft.key) == KEY_LENGTH
            assert reference[:KEY_LENGTH] == draft.key, "a cut at 16 characters keeps the key"
            assert reference[KEY_LENGTH] == "_"

from __future__ import annotations

import json

from plan_factory import mixed_plan

from oneatlas_plan.render.plan_geojson import ACTION_COLOURS, plan_geojson, render_geojson


def test_feature_collection_of_aois_and_footprints() -> None:
    collection = plan_geojson(mixed_plan())
    assert collection["type"] == "FeatureCollection"
    kinds = [(f["properties"]["kind"], f["properties"]["address"]) for f in collection["features"]]
    aois = [address for kind, address in kinds if kind == "aoi"]
    assert "b.old.gone" not in aois  # forgotten: no geometry
    assert len(aois) == 7
    assert [a for k, a in kinds if k == "scene"].count("a.city.north") == 2
    for feature in collection["features"]:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "Polygon"
        props = feature["properties"]
        assert props["stroke"] == ACTION_COLOURS[props["action"]]


def test_aoi_properties_carry_the_order_and_price() -> None:
    collection = plan_geojson(mixed_plan())
    north = next(
        f["properties"]
        for f in collection["features"]
        if f["properties"]["kind"] == "aoi" and f["properties"]["address"] == "a.city.north"
    )
    assert north["order_key"] == "oap-1"
    assert (north["price"], north["currency"], north["billable_area_km2"]) == (
        "250.00",
        "EUR",
        25.0,
    )
    assert json.loads(render_geojson(mixed_plan())) == collection

"""Plan -> GeoJSON FeatureCollection of the AOIs and the chosen scene footprints (pure).

One feature per AOI (``kind: "aoi"``) and one per chosen scene (``kind: "scene"``), in the
plan's order, each with the facts a reviewer wants when clicking on it in QGIS or
geojson.io. ``stroke``/``fill``/``fill-opacity`` follow the simplestyle convention (geojson.io
and GitHub's map preview colour the features by action); other tools ignore them.
Resources without geometry (forgotten resources, known only from the state) have no feature.
"""

from __future__ import annotations

from typing import Any

from oneatlas_plan import _canonical
from oneatlas_plan.planning.model import OrderPlan, Plan, ResourcePlan, SceneSummary

# action -> colour, shared with the PNG map
ACTION_COLOURS: dict[str, str] = {
    "create": "#1a9850",
    "reorder": "#e66101",
    "blocked": "#d7191c",
    "forget": "#7b3294",
    "no-op": "#2c7bb6",
}


def _price_properties(order: OrderPlan | None) -> dict[str, Any]:
    price = order.price if order is not None else None
    return {
        "order_key": None if order is None else order.key,
        "order_action": None if order is None else order.action,
        "price": None if price is None else str(price.amount),
        "currency": None if price is None else price.currency,
        "billable_area_km2": None if price is None else price.billable_area_km2,
        "minimum_applied": None if price is None else price.minimum_applied,
    }


def _aoi_feature(resource: ResourcePlan, order: OrderPlan | None) -> dict[str, Any]:
    colour = ACTION_COLOURS[resource.action]
    return {
        "type": "Feature",
        "geometry": resource.aoi_geometry,
        "properties": {
            "kind": "aoi",
            "title": f"{resource.action} {resource.address}",
            "address": resource.address,
            "aoi_name": resource.aoi_name,
            "spec_file": resource.spec_file,
            "action": resource.action,
            "reason": resource.reason,
            "area_km2": resource.aoi_area_km2,
            "coverage": resource.coverage,
            "scenes": len(resource.scenes),
            **_price_properties(order),
            "stroke": colour,
            "stroke-width": 2,
            "fill": colour,
            "fill-opacity": 0.35,
        },
    }


def _scene_feature(resource: ResourcePlan, scene: SceneSummary) -> dict[str, Any]:
    colour = ACTION_COLOURS[resource.action]
    return {
        "type": "Feature",
        "geometry": scene.footprint,
        "properties": {
            "kind": "scene",
            "title": f"{scene.platform} {scene.acquisition_date[:10]} for {resource.address}",
            "address": resource.address,
            "action": resource.action,
            "order_key": resource.order_key,
            "id": scene.id,
            "archive_identifier": scene.archive_identifier,
            "platform": scene.platform,
            "constellation": scene.constellation,
            "acquisition_date": scene.acquisition_date,
            "cloud_cover": scene.cloud_cover,
            "incidence_angle": scene.incidence_angle,
            "coverage": scene.coverage,
            "stroke": colour,
            "stroke-width": 1,
            "fill": colour,
            "fill-opacity": 0.05,
        },
    }


def plan_geojson(plan: Plan) -> dict[str, Any]:
    orders = {o.key: o for o in plan.orders}
    features: list[dict[str, Any]] = []
    for resource in plan.resources:
        if resource.aoi_geometry is not None:
            features.append(_aoi_feature(resource, orders.get(resource.order_key or "")))
        features += [_scene_feature(resource, scene) for scene in resource.scenes]
    return {"type": "FeatureCollection", "features": features}


def render_geojson(plan: Plan) -> str:
    return _canonical.dumps(plan_geojson(plan))

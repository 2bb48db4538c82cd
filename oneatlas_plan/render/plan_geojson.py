"""Plan -> GeoJSON FeatureCollection of AOIs and chosen scene footprints (pure)."""

from __future__ import annotations

from typing import Any

from oneatlas_plan import _canonical
from oneatlas_plan.planning.model import Plan


def plan_geojson(plan: Plan) -> dict[str, Any]:
    orders = {o.key: o for o in plan.orders}
    features: list[dict[str, Any]] = []
    for resource in plan.resources:
        order = orders.get(resource.order_key or "")
        price = order.price if order is not None else None
        if resource.aoi_geometry is not None:
            features.append(
                {
                    "type": "Feature",
                    "geometry": resource.aoi_geometry,
                    "properties": {
                        "kind": "aoi",
                        "address": resource.address,
                        "action": resource.action,
                        "reason": resource.reason,
                        "area_km2": resource.aoi_area_km2,
                        "coverage": resource.coverage,
                        "price": None if price is None else str(price.amount),
                        "currency": None if price is None else price.currency,
                    },
                }
            )
        for scene in resource.scenes:
            features.append(
                {
                    "type": "Feature",
                    "geometry": scene.footprint,
                    "properties": {
                        "kind": "scene",
                        "address": resource.address,
                        "action": resource.action,
                        "id": scene.id,
                        "archive_identifier": scene.archive_identifier,
                        "platform": scene.platform,
                        "acquisition_date": scene.acquisition_date,
                        "cloud_cover": scene.cloud_cover,
                        "incidence_angle": scene.incidence_angle,
                        "coverage": scene.coverage,
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


def render_geojson(plan: Plan) -> str:
    return _canonical.dumps(plan_geojson(plan))

"""Geometry helpers: parsing (GeoJSON / WKT), geodesic area, UTM zone."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from shapely import wkt
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry


class GeometryError(ValueError):
    """A geometry could not be parsed."""


def parse_geometry(value: Any) -> BaseGeometry:
    """Parse a GeoJSON geometry (dict or JSON text) or a WKT string."""
    try:
        if isinstance(value, dict):
            return shape(value)
        text = str(value).strip()
        if text.startswith("{"):
            return shape(json.loads(text))
        return wkt.loads(text)
    except Exception as exc:
        raise GeometryError(f"invalid geometry: {exc}") from exc


def parse_bbox(value: Any) -> tuple[float, float, float, float]:
    parts = value if isinstance(value, list | tuple) else str(value).split(",")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except (TypeError, ValueError) as exc:
        raise GeometryError(f"invalid bbox '{value}'") from exc
    if minx > maxx or miny > maxy:
        raise GeometryError(f"invalid bbox '{value}'")
    return minx, miny, maxx, maxy


@lru_cache(maxsize=1)
def _geod() -> Any:
    from pyproj import Geod

    return Geod(ellps="WGS84")


def geodesic_area_km2(geom: BaseGeometry) -> float:
    """Geodesic area of a lon/lat geometry in km²."""
    if geom.is_empty:
        return 0.0
    area, _ = _geod().geometry_area_perimeter(geom)
    return abs(area) / 1e6


def utm_epsg(lon: float, lat: float) -> str:
    """EPSG code of the WGS84 UTM zone containing (lon, lat): 326xx north, 327xx south."""
    zone = min(60, max(1, int((lon + 180) // 6) + 1))
    return f"{32600 + zone if lat >= 0 else 32700 + zone}"

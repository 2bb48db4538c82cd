"""Geodesic measures on the WGS84 ellipsoid: the one place the package measures areas.

(The sandbox keeps its own copy: it never imports the rest of the package.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyproj import Geod

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

GEOD = Geod(ellps="WGS84")


def geodesic_area_km2(geometry: BaseGeometry) -> float:
    """Geodesic area of a lon/lat geometry in km² (orientation-independent)."""
    if geometry.is_empty:
        return 0.0
    area, _ = GEOD.geometry_area_perimeter(geometry)
    return abs(area) / 1e6

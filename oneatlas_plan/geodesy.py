"""Geodesic measures on the WGS84 ellipsoid: the one place the package measures areas.

(The sandbox keeps its own copy: it never imports the rest of the package.) pyproj is
imported on first use: a run that measures nothing (a no-op plan) does not load it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyproj import Geod
    from shapely.geometry.base import BaseGeometry


@cache
def geod() -> Geod:
    """The WGS84 ellipsoid."""
    from pyproj import Geod

    return Geod(ellps="WGS84")


def geodesic_area_km2(geometry: BaseGeometry) -> float:
    """Geodesic area of a lon/lat geometry in km² (orientation-independent)."""
    if geometry.is_empty:
        return 0.0
    area, _ = geod().geometry_area_perimeter(geometry)
    return abs(area) / 1e6

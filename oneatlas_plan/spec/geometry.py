"""AOI geometry: parsing (bbox, WKT, GeoJSON) and the checks Airbus applies late.

Pure functions returning findings; shapely and pyproj are imported here only, and this module is
loaded only by commands that read specs.

Airbus's published rules (API-FACTS §4.2, §10): one Polygon, closed ring, >= 4 positions,
<= 999 vertices, no holes, no self-intersection, >= 5 km² and >= 1 km wide; archive orders are
billed at least 25 km².

Antimeridian policy: an AOI whose ring crosses 180° (a longitude jump above 180° between two
consecutive positions, or a bbox with min_lon > max_lon) is refused; split it at 180° into two
named AOIs. Longitudes are never wrapped or normalised silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from oneatlas_plan.geodesy import geod, geodesic_area_km2

MIN_AREA_KM2 = 5.0
BILLING_MIN_AREA_KM2 = 25.0
MIN_WIDTH_KM = 1.0
MAX_VERTICES = 999


Position = list[float]


@dataclass
class Findings:
    """Problems (errors), warnings and notes about one AOI, with relative sub-paths."""

    errors: list[tuple[tuple[str | int, ...], str]] = field(default_factory=list)
    warnings: list[tuple[tuple[str | int, ...], str]] = field(default_factory=list)
    notes: list[tuple[tuple[str | int, ...], str]] = field(default_factory=list)

    def error(self, message: str, *sub: str | int) -> None:
        self.errors.append((sub, message))

    def warning(self, message: str, *sub: str | int) -> None:
        self.warnings.append((sub, message))

    def note(self, message: str, *sub: str | int) -> None:
        self.notes.append((sub, message))


@dataclass
class CheckedPolygon:
    geometry: dict[str, Any] | None
    area_km2: float
    findings: Findings


# ---------------------------------------------------------------------------- parsing


def bbox_polygon(values: list[float], findings: Findings) -> dict[str, Any] | None:
    """[min_lon, min_lat, max_lon, max_lat] → a closed counter-clockwise Polygon."""
    min_lon, min_lat, max_lon, max_lat = values
    if not all(math.isfinite(v) for v in values):
        findings.error("bbox values must be finite numbers", "bbox")
        return None
    if min_lon > max_lon and max_lon >= -180 and min_lon <= 180:
        findings.error(
            "bbox crosses the antimeridian (min_lon > max_lon): split it at 180° into two "
            "named AOIs",
            "bbox",
        )
        return None
    if min_lon == max_lon or min_lat >= max_lat:
        findings.error(
            f"bbox must be [min_lon, min_lat, max_lon, max_lat] with min < max (got {values})",
            "bbox",
        )
        return None
    ring = [[min_lon, min_lat], [max_lon, min_lat], [max_lon, max_lat], [min_lon, max_lat]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def wkt_geometry(text: str, findings: Findings) -> dict[str, Any] | None:
    import shapely.wkt
    from shapely.errors import ShapelyError
    from shapely.geometry import mapping

    try:
        shape = shapely.wkt.loads(text)
    except (ShapelyError, ValueError) as error:
        findings.error(f"invalid WKT: {str(error).splitlines()[0]}", "wkt")
        return None
    return _as_lists(dict(mapping(shape)))


def _as_lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _as_lists(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_lists(item) for item in value]
    return value


# ---------------------------------------------------------------------------- checks


def check_polygon(geometry: Any) -> CheckedPolygon:
    """Every Airbus AOI rule, in order; structural failures stop the later checks."""
    findings = Findings()
    ring = _single_ring(geometry, findings)
    if ring is None:
        return CheckedPolygon(None, 0.0, findings)
    ring = _positions(ring, findings)
    if ring is None or not _ring_shape(ring, findings):
        return CheckedPolygon(None, 0.0, findings)
    if _crosses_antimeridian(ring):
        findings.error(
            "AOI crosses the antimeridian (180°): split it at 180° into two named AOIs",
            "coordinates",
        )
        return CheckedPolygon(None, 0.0, findings)
    polygon = {"type": "Polygon", "coordinates": [ring]}
    if not _valid_shape(ring, findings):
        return CheckedPolygon(None, 0.0, findings)
    area = ring_area_km2(ring)
    _size_rules(ring, area, findings)
    return CheckedPolygon(polygon if not findings.errors else None, area, findings)


def _single_ring(geometry: Any, findings: Findings) -> list[Any] | None:
    if not isinstance(geometry, dict):
        findings.error(f"expected a GeoJSON geometry mapping (got {type(geometry).__name__})")
        return None
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "MultiPolygon":
        parts = len(coordinates) if isinstance(coordinates, list) else "several"
        findings.error(
            f"MultiPolygon is refused by Airbus (an AOI is one Polygon): split its {parts} parts "
            "into separate named AOIs",
            "type",
        )
        return None
    if kind in ("Feature", "FeatureCollection"):
        findings.error(f"expected a geometry, got a {kind}: use file: for GeoJSON features", "type")
        return None
    if kind != "Polygon":
        findings.error(f"AOI must be a Polygon (got {kind!r})", "type")
        return None
    if not isinstance(coordinates, list) or not coordinates:
        findings.error("Polygon needs coordinates: a list holding one ring", "coordinates")
        return None
    if len(coordinates) > 1:
        holes = len(coordinates) - 1
        findings.error(
            f"Polygon has {holes} hole{'s' if holes > 1 else ''} (inner ring"
            f"{'s' if holes > 1 else ''}); Airbus refuses holes: remove them or split the AOI",
            "coordinates",
        )
        return None
    ring = coordinates[0]
    if not isinstance(ring, list):
        findings.error("the ring must be a list of [lon, lat] positions", "coordinates", 0)
        return None
    return ring


def _positions(ring: list[Any], findings: Findings) -> list[Position] | None:
    positions: list[Position] = []
    outside: list[int] = []
    for index, position in enumerate(ring):
        sub = ("coordinates", 0, index)
        if not isinstance(position, list) or not 2 <= len(position) <= 3:
            findings.error(f"position must be [lon, lat] (got {position!r:.60})", *sub)
            return None
        lon, lat = position[0], position[1]
        if not all(_is_number(v) for v in (lon, lat)):
            findings.error(f"position must hold numbers (got {position!r:.60})", *sub)
            return None
        if not (math.isfinite(lon) and math.isfinite(lat)):
            findings.error(f"coordinates must be finite numbers (got [{lon}, {lat}])", *sub)
            return None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            outside.append(index)
        positions.append([float(lon), float(lat)])
    if outside:
        _out_of_range(positions, outside, findings)
        return None
    return positions


def _out_of_range(positions: list[Position], outside: list[int], findings: Findings) -> None:
    first = outside[0]
    lon, lat = positions[first]
    others = f" and {len(outside) - 1} more" if len(outside) > 1 else ""
    findings.error(
        f"[{lon:g}, {lat:g}]{others} out of range (lon -180..180, lat -90..90)",
        "coordinates",
        0,
        first,
    )
    if all(-90 <= p[0] <= 90 and -180 <= p[1] <= 180 for p in positions):
        findings.warning(
            "coordinates look swapped ([lat, lon]): GeoJSON, WKT and bbox use [lon, lat]",
            "coordinates",
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ring_shape(ring: list[Position], findings: Findings) -> bool:
    if len(ring) < 4:
        findings.error(
            f"ring has {len(ring)} positions; a polygon needs at least 4 (3 corners and the "
            "closing position)",
            "coordinates",
        )
        return False
    if ring[0] != ring[-1]:
        findings.error(
            f"ring is not closed: the first position {ring[0]} differs from the last {ring[-1]}",
            "coordinates",
        )
        return False
    vertices = len(ring) - 1
    if vertices > MAX_VERTICES:
        tolerance = simplification_tolerance(ring)
        findings.error(
            f"AOI has {vertices} vertices (Airbus accepts at most {MAX_VERTICES}): simplify it, "
            f"e.g. with a tolerance of {tolerance:.2g}° (≈ {tolerance * 111_320:.2g} m)",
            "coordinates",
        )
        return False
    return True


def _crosses_antimeridian(ring: list[Position]) -> bool:
    return any(abs(b[0] - a[0]) > 180 for a, b in pairwise(ring))


def _valid_shape(ring: list[Position], findings: Findings) -> bool:
    from shapely.geometry import Polygon
    from shapely.validation import explain_validity

    polygon = Polygon(ring)
    if polygon.is_valid:
        return True
    reason = explain_validity(polygon)
    findings.error(f"invalid polygon: {_validity_text(reason)}", "coordinates")
    return False


def _validity_text(reason: str) -> str:
    """'Self-intersection[1.45 43.6]' → 'self-intersection at lon 1.45, lat 43.6'."""
    if "[" in reason and reason.endswith("]"):
        what, _, where = reason[:-1].partition("[")
        numbers = where.split()
        if len(numbers) >= 2:
            lon, lat = (float(n) for n in numbers[:2])
            return f"{what.lower()} at lon {lon:.6g}, lat {lat:.6g}"
    return reason.lower()


def _size_rules(ring: list[Position], area: float, findings: Findings) -> None:
    if area < MIN_AREA_KM2:
        findings.error(
            f"area {area:.2f} km² is under Airbus's {MIN_AREA_KM2:g} km² production minimum"
        )
        return
    width = geodesic_width_km(ring)
    if width < MIN_WIDTH_KM:
        findings.error(
            f"AOI is {width:.2f} km wide, under Airbus's {MIN_WIDTH_KM:g} km minimum width"
        )
        return
    if area < BILLING_MIN_AREA_KM2:
        findings.note(
            f"area {area:.1f} km² is under the {BILLING_MIN_AREA_KM2:g} km² archive billing "
            f"minimum: Airbus bills {BILLING_MIN_AREA_KM2:g} km²"
        )


# ---------------------------------------------------------------------------- measures


def ring_area_km2(ring: list[Position]) -> float:
    from shapely.geometry import Polygon

    return geodesic_area_km2(Polygon(ring))


def geodesic_width_km(ring: list[Position]) -> float:
    """The smaller side of the minimum rotated rectangle, measured geodesically (km)."""
    from shapely.geometry import Polygon

    rectangle = Polygon(ring).minimum_rotated_rectangle
    corners = list(rectangle.exterior.coords) if hasattr(rectangle, "exterior") else []
    if len(corners) < 4:
        return 0.0
    sides = [_distance_km(corners[i], corners[i + 1]) for i in range(2)]
    return min(sides)


def _distance_km(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    _, _, metres = geod().inv(a[0], a[1], b[0], b[1])
    return float(metres) / 1000


def simplification_tolerance(ring: list[Position], limit: int = MAX_VERTICES) -> float:
    """A tolerance (degrees, 2 significant digits, within ≈ 10 % of the smallest) bringing the
    ring under ``limit`` vertices.

    Searched downward from the ring's extent: a simplify that leaves few vertices is cheap, one
    that leaves thousands costs ~0.3 s on a 10,000-vertex zig-zag, so the search makes as few
    of those as it can (one to find the bracket, then a short bisection)."""
    from shapely.geometry import Polygon

    polygon = Polygon(ring)

    def vertices(tolerance: float) -> int:
        simplified = polygon.simplify(tolerance, preserve_topology=True)
        return len(simplified.exterior.coords) - 1

    min_x, min_y, max_x, max_y = polygon.bounds
    high = max(max_x - min_x, max_y - min_y, 1e-9)
    while high > 1e-12 and vertices(high / 2) <= limit:
        high /= 2
    low = high / 2  # too many vertices (or the floor)
    for _ in range(3):  # to within 1/16 of the bracket
        middle = (low + high) / 2
        if vertices(middle) > limit:
            low = middle
        else:
            high = middle
    rounded = float(f"{high:.2g}")
    return rounded if vertices(rounded) <= limit else float(f"{high * 1.1:.2g}")

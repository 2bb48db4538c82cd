from __future__ import annotations

import math

import pytest

from oneatlas_plan.spec import geometry

# The seed's step-5 AOI over Toulouse.
TOULOUSE = [
    [1.4125259575195295, 43.586101687094356],
    [1.464024370605467, 43.586101687094356],
    [1.464024370605467, 43.623143915843656],
    [1.4125259575195295, 43.623143915843656],
    [1.4125259575195295, 43.586101687094356],
]


def polygon(ring: list[list[float]]) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [ring]}


def test_seed_aoi_area_width_and_billing_note() -> None:
    checked = geometry.check_polygon(polygon(TOULOUSE))
    assert checked.geometry == polygon(TOULOUSE)
    assert checked.area_km2 == pytest.approx(17.1, abs=0.1)
    assert geometry.geodesic_width_km(TOULOUSE) == pytest.approx(4.11, abs=0.05)
    assert checked.findings.errors == []
    assert checked.findings.notes == [
        ((), "area 17.1 km² is under the 25 km² archive billing minimum: Airbus bills 25 km²")
    ]


def test_area_is_orientation_independent() -> None:
    assert geometry.ring_area_km2(TOULOUSE[::-1]) == pytest.approx(
        geometry.ring_area_km2(TOULOUSE)
    )


def test_width_of_a_rotated_strip_is_its_narrow_side() -> None:
    # a thin diagonal strip ~0.8 km wide, ~14 km long
    ring = [[1.40, 43.50], [1.50, 43.60], [1.506, 43.594], [1.406, 43.494], [1.40, 43.50]]
    assert 0.5 < geometry.geodesic_width_km(ring) < 0.9
    assert [m for _, m in geometry.check_polygon(polygon(ring)).findings.errors] == [
        "AOI is 0.82 km wide, under Airbus's 1 km minimum width"
    ]


def test_bbox_polygon_is_closed_and_counter_clockwise() -> None:
    findings = geometry.Findings()
    result = geometry.bbox_polygon([1.0, 43.0, 1.1, 43.1], findings)
    assert result == polygon([[1.0, 43.0], [1.1, 43.0], [1.1, 43.1], [1.0, 43.1], [1.0, 43.0]])
    assert findings.errors == []


def test_wkt_is_parsed_to_lists() -> None:
    findings = geometry.Findings()
    result = geometry.wkt_geometry("POLYGON ((1 43, 1.1 43, 1.1 43.1, 1 43))", findings)
    assert result == polygon([[1.0, 43.0], [1.1, 43.0], [1.1, 43.1], [1.0, 43.0]])


def test_simplification_tolerance_brings_the_ring_under_the_limit() -> None:
    from shapely.geometry import Polygon

    ring = [
        [
            1.45 + 0.05 * math.cos(2 * math.pi * i / 1500),
            43.6 + 0.05 * math.sin(2 * math.pi * i / 1500),
        ]
        for i in range(1500)
    ]
    ring.append(ring[0])
    tolerance = geometry.simplification_tolerance(ring)
    simplified = Polygon(ring).simplify(tolerance, preserve_topology=True)
    assert len(simplified.exterior.coords) - 1 <= geometry.MAX_VERTICES
    assert tolerance > 0


def test_z_values_are_dropped() -> None:
    ring = [[*position, 120.0] for position in TOULOUSE]
    checked = geometry.check_polygon(polygon(ring))
    assert checked.geometry == polygon(TOULOUSE)


@pytest.mark.parametrize(
    ("geometry_value", "message"),
    [
        ("POLYGON", "expected a GeoJSON geometry mapping (got str)"),
        (
            {"type": "Polygon", "coordinates": []},
            "Polygon needs coordinates: a list holding one ring",
        ),
        (
            {"type": "Polygon", "coordinates": [[[1, True]]]},
            "position must hold numbers (got [1, True])",
        ),
        ({"type": "LineString", "coordinates": []}, "AOI must be a Polygon (got 'LineString')"),
        ({"type": "Feature"}, "expected a geometry, got a Feature: use file: for GeoJSON features"),
    ],
)
def test_structural_errors(geometry_value: object, message: str) -> None:
    checked = geometry.check_polygon(geometry_value)
    assert checked.geometry is None
    assert [m for _, m in checked.findings.errors] == [message]

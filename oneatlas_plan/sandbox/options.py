"""Production options per contract backend (the ``…/productTypes/{id}/options`` answer).

Legacy (SPOT/Pléiades) contracts use lower-case licences, neo (Pléiades Neo) contracts
capitalised multi-user licences. DEM and projection are per AOI on both, ``dem_<aoiId>`` and
``projection_<aoiId>`` (the projection's default is the UTM zone of the AOI centroid): the
archive guide ("the number 1 in dem_1 and projection_1 refers to the aoiId"), Airbus's OpenAPI
SPOT/Pléiades archive example and its options example all use ``dem_1``. Public production code
sends a plain ``dem`` on its legacy contracts; a client must send what the options answer
names, and the sandbox accepts exactly that (see docs/sandbox.md, "Known unknowns").
"""

from __future__ import annotations

from typing import Any

from .geo import utm_epsg

LEGACY_SPECTRAL = (
    ("bundle", "Bundle"),
    ("pansharpened", "Pansharpened"),
    ("panchromatic", "Panchromatic"),
    ("multispectral", "Multispectral"),
    ("pansharpened_natural_color", "Pansharpened natural color"),
    ("pansharpened_false_color", "Pansharpened false color"),
)
NEO_SPECTRAL = (
    ("panchromatic", "Panchromatic 30cm"),
    ("pansharpened", "Pansharpened 30cm 4-band"),
    ("multispectral", "Multispectral 1.2m 4-band"),
    ("bundle", "Bundle: Panchromatic 30cm + Multispectral 1.2m 4-band"),
    ("full_bundle", "Full Bundle: Panchromatic 30cm + Multispectral 1.2m 6-band"),
    ("full_pms", "Pansharpened 30cm 6-band"),
    ("full_ms", "Full MS: Multispectral 1.2m 6-band"),
)
LEGACY_LICENCES = (
    "standard",
    "background_layer",
    "stand_background_layer",
    "educ",
    "media",
    "standard_1_5",
    "standard_6_10",
    "standard_11_30",
    "standard_up_30",
)
NEO_LICENCES = (
    "standard",
    "background_layer",
    "stand_background_layer",
    "Academic",
    "Standard_1_5",
    "Standard_6_10",
    "Standard_11_30",
    "Standard_up_30",
)
DEMS = (
    "best_available",
    "FLAT_DEM_WITH_GTOPO30_WAT",
    "FLAT_DEM_WITH_WAT",
    "FLAT_DEM_WITH_WD4O_WAT",
    "GTOPO30",
    "MIXEDDEM",
    "PAS-DEM",
    "PAS-DEM_IVV",
    "REF3D-DEM",
    "REF3D-DEM_IVV",
    "SRTMV4",
    "SRTMV4_IVV",
    "WorldDEM4Ortho",
)
FIXED_PROJECTIONS = (
    ("4171", "4171 RGF93 (FR.)"),
    ("4230_B", "4230 ED50 (EUR. - AT. DK. FR. DE. DK. CH.)"),
    ("4326", "4326 WGS 1984"),
    ("4258", "4258 ETRS89 (EUR)"),
    ("4230_A", "4230 ED50 (EUR.)"),
    ("3857", "3857 WGS84/Web Mercator (World - between 85S. and 85N.)"),
    ("2154", "2154 RGF93/Lambert-93 (FR.)"),
)
ORTHO_CONDITION = "processing_level:(ortho)"
PROJECTED_CONDITION = "processing_level:(ortho|projected)"


def _option(
    name: str,
    label: str,
    values: tuple[tuple[str, str], ...] | list[dict[str, Any]],
    default: str | None,
    *,
    mandatory: str = "true",
    condition: str | None = None,
) -> dict[str, Any]:
    listed = values if isinstance(values, list) else [{"id": i, "label": lbl} for i, lbl in values]
    out: dict[str, Any] = {
        "category": "production_option",
        "label": label,
        "name": name,
        "mandatory": mandatory,
    }
    if default is not None:
        out["defaultValue"] = default
    out.update(
        {
            "constraint": {"condition": condition} if condition else None,
            "values": listed,
            "type": "list",
            "hidden": False,
            "property": True,
        }
    )
    return out


def available_options(
    backend: str, aoi_centroids: dict[int, tuple[float, float]]
) -> list[dict[str, Any]]:
    """The ``availableOptions`` list for a backend and the AOIs (id → centroid lon/lat)."""
    neo = backend == "neo"
    pixel = [
        {
            "id": "8bits",
            "label": "8 bits (JPEG 2000 / GeoTIFF) ",
            "constraint": {"condition": "radiometric_processing:(display)"},
        },
        {
            "id": "12bits",
            "label": "12 bits (JPEG 2000) / 16 bits (GeoTIFF)",
            "constraint": {"condition": "radiometric_processing:(basic|reflectance)"},
        },
    ]
    opts = [
        _option(
            "processing_level",
            "Processing Level",
            (("ortho", "Ortho"), ("projected", "Projected"), ("primary", "Primary")),
            "primary",
        ),
        _option(
            "spectral_processing",
            "Spectral Processing",
            NEO_SPECTRAL if neo else LEGACY_SPECTRAL,
            "full_bundle" if neo else "bundle",
        ),
        _option(
            "image_format",
            "Image Format",
            (
                ("dimap_jpeg2000_regular", "DIMAP - Regular JPEG 2000 "),
                ("dimap_jpeg2000_optimized", "DIMAP - Optimized JPEG 2000"),
                ("dimap_geotiff", "DIMAP - GeoTIFF"),
            ),
            "dimap_jpeg2000_regular",
        ),
        _option("pixel_coding", "Pixel Coding", pixel, "12bits"),
        _option(
            "radiometric_processing",
            "Radiometric Processing",
            (("basic", "Basic"), ("reflectance", "Reflectance"), ("display", "Display")),
            "basic",
        ),
        {
            "category": "production_option",
            "label": "Elevation",
            "name": "elevation",
            "mandatory": "false",
            "constraint": {"condition": "processing_level:(projected)"},
            "range": [-100, 10000],
            "type": "double",
            "hidden": False,
            "property": True,
        },
        _option(
            "area_compute_model",
            "Area Computation Model",
            (("coverage", "Coverage"), ("temporal_serie", "TemporalSerie")),
            "coverage",
            mandatory="false",
        ),
        _option(
            "priority",
            "Priority",
            (("standard", "Standard"), ("rush", "Rush (No Quality Checking)")),
            "standard",
        ),
        _option(
            "fullStrip",
            "fullStrip",
            (("true", "true"), ("false", "false")),
            "false",
            mandatory="false",
        ),
        _option(
            "delivery_method",
            "DeliveryMethod",
            (("on_the_flow", "OntheFlow"), ("at_the_end", "AtTheEnd")),
            "on_the_flow",
            mandatory="false",
        ),
        _option(
            "licence",
            "Licence",
            tuple(
                (v, v.replace("_", " ").title()) for v in (NEO_LICENCES if neo else LEGACY_LICENCES)
            ),
            "standard",
        ),
    ]
    dem_values = tuple((d, d if d == "best_available" else f"{d} (100)") for d in DEMS)
    for aoi_id in sorted(aoi_centroids):
        opts.append(
            _option(
                f"dem_{aoi_id}",
                "Orthorectification DEM Reference",
                dem_values,
                "best_available",
                mandatory="constraint",
                condition=ORTHO_CONDITION,
            )
        )
    for aoi_id, (lon, lat) in sorted(aoi_centroids.items()):
        utm = utm_epsg(lon, lat)
        zone = int(utm[-2:])
        hemi = "N" if utm.startswith("326") else "S"
        label = (
            f"{utm} WGS84/UTM {zone}{hemi} ({hemi}. hemisphere - "
            f"{(zone - 1) * 6 - 180}E to {zone * 6 - 180}E)"
        )
        values = [*FIXED_PROJECTIONS, (utm, label)]
        opts.append(
            _option(
                f"projection_{aoi_id}",
                "Projection (GDLIB code)",
                tuple(values),
                utm,
                mandatory="constraint",
                condition=PROJECTED_CONDITION,
            )
        )
    return opts

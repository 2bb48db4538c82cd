"""Validation of ``/prices``, ``/orders`` and ``/quotations`` bodies, like Airbus does.

Error codes (400 unless stated; the sandbox's own except E2203, which Airbus documents):

- ``E2203`` (404) CIS contract not found
- ``E4000`` malformed body or missing mandatory field
- ``E4001`` product type not enabled on the contract / wrong backend
- ``E4002`` ordered item (datastrip / catalog item) not found
- ``E4003`` AOI invalid (polygon rules) or not intersecting the scene
- ``E4004`` option key or value not allowed
- ``E4005`` primary market invalid
- ``E4006`` more than 5 AOI/item pairs
- ``E4007`` unknown aoiId
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shapely.geometry import Polygon
from shapely.validation import explain_validity

from . import pricing
from .errors import ApiFailure, order_error
from .geo import geodesic_area_km2
from .options import available_options
from .search import Archive
from .world import CATALOG_ID, CONTRACTS, MARKET_IDS, Contract, ProductType

MAX_PAIRS = 5
MAX_VERTICES = 999
MIN_AOI_KM2 = 5.0


@dataclass
class Line:
    aoi_id: int
    aoi_name: str
    aoi: Polygon
    product_type: ProductType
    item_id: str
    datastrip: str
    requested_km2: float
    billable_km2: float
    amount: float
    options: dict[str, str]


@dataclass
class ValidatedOrder:
    contract: Contract
    lines: list[Line]
    body: dict[str, Any]

    @property
    def total(self) -> float:
        return round(sum(line.amount for line in self.lines), 2)


def _bad(message: str, code: str = "E4000") -> ApiFailure:
    return order_error(400, code, message)


def validate_order(body: Any, archive: Archive) -> ValidatedOrder:
    if not isinstance(body, dict):
        raise _bad("Request body must be a JSON object")
    contract = _contract(body)
    for key in ("aoi", "items", "customerReference", "optionsPerProductType", "primaryMarket"):
        if key not in body:
            raise _bad(f"Missing mandatory field '{key}'")
    if body["primaryMarket"] not in MARKET_IDS:
        raise _bad(f"Invalid primaryMarket '{body['primaryMarket']}'", "E4005")
    aois = _aois(body["aoi"])
    items = body["items"]
    if not isinstance(items, list) or not items:
        raise _bad("'items' must be a non-empty list")
    if len(items) > MAX_PAIRS:
        raise _bad(
            f"Too many AOI/item pairs: {len(items)} (maximum {MAX_PAIRS} per order)", "E4006"
        )
    if contract.backend == "neo" and not body.get("endUsers"):
        raise _bad("Missing mandatory field 'endUsers' for Pléiades Neo orders")
    options = _options_by_product(body["optionsPerProductType"], contract, aois)
    lines = [_line(item, contract, aois, options, archive) for item in items]
    return ValidatedOrder(contract, lines, body)


def _contract(body: dict[str, Any]) -> Contract:
    contract_id = body.get("contractId")
    if not isinstance(contract_id, str) or not contract_id:
        raise _bad("Missing mandatory field 'contractId'")
    if contract_id not in CONTRACTS:
        raise order_error(404, "E2203", f"CIS contract '{contract_id}' not found.")
    return CONTRACTS[contract_id]


def check_polygon(geometry: Any, label: str) -> Polygon:
    """Airbus AOI rules: Polygon, closed, ≥ 4 positions, ≤ 999 vertices, no holes, simple."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        raise _bad(f"{label}: geometry must be a GeoJSON Polygon", "E4003")
    rings = geometry.get("coordinates")
    if not isinstance(rings, list) or not rings:
        raise _bad(f"{label}: polygon has no coordinates", "E4003")
    if len(rings) > 1:
        raise _bad(f"{label}: polygons with holes are not supported", "E4003")
    ring = rings[0]
    try:
        points = [(float(p[0]), float(p[1])) for p in ring]
    except (TypeError, ValueError, IndexError) as exc:
        raise _bad(f"{label}: invalid coordinates", "E4003") from exc
    if len(points) < 4:
        raise _bad(f"{label}: a polygon needs at least 4 positions", "E4003")
    if points[0] != points[-1]:
        raise _bad(f"{label}: polygon is not closed (first and last positions differ)", "E4003")
    if len(points) - 1 > MAX_VERTICES:
        raise _bad(f"{label}: too many vertices ({len(points) - 1} > {MAX_VERTICES})", "E4003")
    polygon = Polygon(points)
    if not polygon.is_valid:
        raise _bad(f"{label}: invalid polygon ({explain_validity(polygon)})", "E4003")
    area = geodesic_area_km2(polygon)
    if area < MIN_AOI_KM2:
        raise _bad(
            f"{label}: area {area:.2f} km² is below the {MIN_AOI_KM2:g} km² minimum", "E4003"
        )
    return polygon


def _aois(raw: Any) -> dict[int, tuple[str, Polygon]]:
    if not isinstance(raw, list) or not raw:
        raise _bad("'aoi' must be a non-empty list")
    out: dict[int, tuple[str, Polygon]] = {}
    for entry in raw:
        if not isinstance(entry, dict) or "id" not in entry:
            raise _bad("each aoi needs an 'id' and a 'geometry'")
        try:
            aoi_id = int(entry["id"])
        except (TypeError, ValueError) as exc:
            raise _bad(f"invalid aoi id '{entry['id']}'") from exc
        label = f"aoi {aoi_id}"
        out[aoi_id] = (str(entry.get("name", "")), check_polygon(entry.get("geometry"), label))
    return out


def _options_by_product(
    raw: Any, contract: Contract, aois: dict[int, tuple[str, Polygon]]
) -> dict[str, dict[str, str]]:
    if not isinstance(raw, list):
        raise _bad("'optionsPerProductType' must be a list")
    centroids = {i: (p.centroid.x, p.centroid.y) for i, (_, p) in aois.items()}
    allowed = {o["name"]: o for o in available_options(contract.backend, centroids)}
    out: dict[str, dict[str, str]] = {}
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("options"), list):
            raise _bad("each optionsPerProductType entry needs 'productTypeId' and 'options'")
        chosen: dict[str, str] = {}
        for opt in entry["options"]:
            key, value = str(opt.get("key")), str(opt.get("value"))
            _check_option(key, value, allowed, contract)
            chosen[key] = value
        _check_constraints(chosen, allowed, aois, contract)
        out[str(entry.get("productTypeId"))] = chosen
    return out


def _check_option(
    key: str, value: str, allowed: dict[str, dict[str, Any]], contract: Contract
) -> None:
    if key not in allowed:
        hint = ""
        if key.split("_", 1)[0] in ("dem", "projection"):
            hint = " (per-AOI options are named '<option>_<aoiId>', e.g. 'dem_1')"
        raise _bad(f"Option '{key}' is not available on contract '{contract.id}'{hint}", "E4004")
    option = allowed[key]
    if option["type"] == "double":
        try:
            number = float(value)
        except ValueError as exc:
            raise _bad(f"Option '{key}': '{value}' is not a number", "E4004") from exc
        lo, hi = option["range"]
        if not lo <= number <= hi:
            raise _bad(f"Option '{key}': {value} is outside [{lo}, {hi}]", "E4004")
        return
    if value not in {v["id"] for v in option["values"]}:
        raise _bad(f"Option '{key}': value '{value}' is not allowed", "E4004")


def _check_constraints(
    chosen: dict[str, str],
    allowed: dict[str, dict[str, Any]],
    aois: dict[int, tuple[str, Polygon]],
    contract: Contract,
) -> None:
    for name, option in allowed.items():
        if option["mandatory"] == "true" and name not in chosen and "defaultValue" in option:
            chosen[name] = option["defaultValue"]
    level = chosen.get("processing_level", "primary")
    radiometry = chosen.get("radiometric_processing", "basic")
    pixel = chosen.get("pixel_coding", "12bits")
    if pixel == "8bits" and radiometry != "display":
        raise _bad("Option 'pixel_coding': 8bits requires radiometric_processing display", "E4004")
    if pixel == "12bits" and radiometry == "display":
        raise _bad(
            "Option 'pixel_coding': 12bits requires radiometric_processing basic or reflectance",
            "E4004",
        )
    dem_keys = [f"dem_{i}" for i in aois]
    projection_keys = [f"projection_{i}" for i in aois]
    for key in dem_keys:
        if key in chosen and level != "ortho":
            raise _bad(f"Option '{key}' is only allowed with processing_level ortho", "E4004")
        if key not in chosen and level == "ortho":
            raise _bad(f"Option '{key}' is mandatory with processing_level ortho", "E4004")
    for key in projection_keys:
        if key in chosen and level not in ("ortho", "projected"):
            raise _bad(
                f"Option '{key}' is only allowed with processing_level ortho or projected", "E4004"
            )
        if key not in chosen and level in ("ortho", "projected"):
            raise _bad(f"Option '{key}' is mandatory with processing_level {level}", "E4004")
    if "elevation" in chosen and level != "projected":
        raise _bad("Option 'elevation' is only allowed with processing_level projected", "E4004")


def _line(
    item: Any,
    contract: Contract,
    aois: dict[int, tuple[str, Polygon]],
    options: dict[str, dict[str, str]],
    archive: Archive,
) -> Line:
    if not isinstance(item, dict):
        raise _bad("each item must be an object")
    pt_id = item.get("productTypeId")
    product = next((p for p in contract.product_types if p.id == pt_id), None)
    if product is None:
        raise _bad(
            f"Product type '{pt_id}' is not available on contract '{contract.id}' "
            f"(backendSource {contract.backend})",
            "E4001",
        )
    try:
        aoi_id = int(item.get("aoiId"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise _bad(f"invalid aoiId '{item.get('aoiId')}'", "E4007") from exc
    if aoi_id not in aois:
        raise _bad(f"aoiId {aoi_id} does not reference any aoi", "E4007")
    if pt_id not in options:
        raise _bad(f"Missing optionsPerProductType for product type '{pt_id}'")
    item_id, datastrip, footprint = _resolve_item(item, contract, product, archive)
    name, aoi = aois[aoi_id]
    inter = aoi.intersection(footprint)
    if inter.is_empty or inter.area == 0:
        raise _bad(
            f"aoi {aoi_id} does not intersect the footprint of '{datastrip or item_id}'", "E4003"
        )
    requested = geodesic_area_km2(inter)
    billable = pricing.billable_area(requested, product.minimum_area_km2)
    price = pricing.amount(billable, product.id, options[pt_id])
    return Line(
        aoi_id,
        name,
        aoi,
        product,
        item_id,
        datastrip,
        round(requested, 4),
        billable,
        price,
        options[pt_id],
    )


def _resolve_item(
    item: dict[str, Any], contract: Contract, product: ProductType, archive: Archive
) -> tuple[str, str, Polygon]:
    if contract.backend == "legacy":
        strips = item.get("datastripIds")
        if isinstance(strips, str):
            strips = [strips]
        if not isinstance(strips, list) or len(strips) != 1:
            raise _bad("Legacy archive items need exactly one datastripIds entry")
        found = archive.footprint_by_datastrip(str(strips[0]))
        if found is None:
            raise _bad(f"Datastrip '{strips[0]}' not found in catalog", "E4002")
        item_id, footprint, constellation = found
        if constellation != product.constellation:
            raise _bad(
                f"Datastrip '{strips[0]}' is not a {product.constellation} acquisition "
                f"(product type {product.id})",
                "E4001",
            )
        return item_id, str(strips[0]), footprint
    sources = item.get("dataSourceIds")
    if not isinstance(sources, list) or len(sources) != 1 or not isinstance(sources[0], dict):
        raise _bad("Pléiades Neo archive items need exactly one dataSourceIds entry")
    source = sources[0]
    if source.get("catalogId") != CATALOG_ID:
        raise _bad(f"dataSourceIds.catalogId must be '{CATALOG_ID}'")
    found = archive.footprint_by_id(str(source.get("catalogItemId")))
    if found is None:
        raise _bad(f"Catalog item '{source.get('catalogItemId')}' not found", "E4002")
    item_id, footprint, constellation = found
    if constellation != product.constellation:
        raise _bad(
            f"Catalog item '{item_id}' is not a {product.constellation} acquisition", "E4001"
        )
    return item_id, "", footprint

"""Semantic checks on validated orders: what Airbus would reject late, found early.

Each check returns findings ``(severity, loc relative to the order, message)``; the loader turns
them into located problems.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from datetime import date

from oneatlas_plan.spec.models import OrderSpec, ProductOptions, constellation_of
from oneatlas_plan.spec.problems import Loc, Severity

Finding = tuple[Severity, Loc, str]


def _error(loc: Loc, message: str) -> Finding:
    return Severity.ERROR, loc, message


def _warning(loc: Loc, message: str) -> Finding:
    return Severity.WARNING, loc, message


PLATFORM_CONSTELLATION = {"PHR": "PHR", "SPO": "SPOT", "PNE": "PNEO"}
LEGACY_ONLY_SPECTRAL = {"pansharpened_natural_color", "pansharpened_false_color"}
NEO_ONLY_SPECTRAL = {"full_bundle", "full_pms", "full_ms"}
LEGACY_LICENCES = [
    "standard", "background_layer", "stand_background_layer", "educ", "media",
    "standard_1_5", "standard_6_10", "standard_11_30", "standard_up_30",
]  # fmt: skip
NEO_LICENCES = ["Academic", "Standard_1_5", "Standard_6_10", "Standard_11_30", "Standard_up_30"]
PASS_THROUGH_OPTIONS = {"area_compute_model"}
NAMES = {"PHR": "Pléiades", "SPOT": "SPOT", "PNEO": "Pléiades Neo"}


def check_order(order: OrderSpec, today: date) -> list[Finding]:
    """Every semantic check of one validated order."""
    return [
        *_product_and_constellation(order),
        *_platforms(order),
        *_workspace(order),
        *_neo_requirements(order),
        *_option_consistency(order),
        *_spectral_and_licence(order),
        *_unknown_options(order.product.options),
        *_dates(order, today),
    ]


def _product_and_constellation(order: OrderSpec) -> Iterator[Finding]:
    product = order.product.type
    family = constellation_of(product)
    if "archive" not in product.lower():
        yield _error(
            ("product", "type"),
            f"{product} is not an archive product type (…Archive…); this tool orders archive "
            "imagery only",
        )
    if family is None:
        yield _warning(
            ("product", "type"),
            f"unknown product family {product!r}: cannot check it against the constellation "
            "(expected PleiadesArchive*, SPOTArchive* or PleiadesNeoArchive*)",
        )
        wanted = order.search.constellation or []
        if "PNEO" in wanted and len(set(wanted)) > 1:
            yield _error(("search", "constellation"), _MIXED)
        return
    for index, constellation in enumerate(order.search.constellation or []):
        if constellation != family:
            yield _error(
                ("search", "constellation", index),
                f"{constellation} does not match product type {product} "
                f"({NAMES[family]} only: constellation [{family}])",
            )


_MIXED = (
    "PNEO cannot be mixed with PHR/SPOT in one order (other workspace, contract and "
    "product types): make separate orders"
)


def _platforms(order: OrderSpec) -> Iterator[Finding]:
    allowed = set(order.constellations)
    for index, platform in enumerate(order.search.platform or []):
        constellation = PLATFORM_CONSTELLATION[platform[:3]]
        if allowed and constellation not in allowed:
            yield _error(
                ("search", "platform", index),
                f"platform {platform} is a {constellation} satellite, not in constellation "
                f"{sorted(allowed)}",
            )


def _workspace(order: OrderSpec) -> Iterator[Finding]:
    workspace = order.search.workspace
    neo = "PNEO" in order.constellations
    if workspace == "public" and neo:
        yield _warning(("search", "workspace"), "Pléiades Neo archive is in workspace public-pneo")
    if workspace == "public-pneo" and not neo:
        yield _warning(("search", "workspace"), "PHR/SPOT archive is in workspace public")


def _neo_requirements(order: OrderSpec) -> Iterator[Finding]:
    neo = "PNEO" in order.constellations
    if neo and not order.order.end_users:
        yield _error(
            ("order", "end_users"),
            "end_users is required for Pléiades Neo orders, e.g. [{name: ACME, country: FR}]",
        )
    if not neo and order.accept_quotations_up_to is not None:
        yield _warning(
            ("accept_quotations_up_to",),
            "only Pléiades Neo orders are quoted; ignored for PHR/SPOT",
        )


def _option_consistency(order: OrderSpec) -> Iterator[Finding]:
    options = order.product.options
    at = ("product", "options")
    radiometry = options.radiometric_processing or "basic"
    pixel = options.pixel_coding or "12bits"
    if pixel == "8bits" and radiometry != "display":
        yield _error(
            (*at, "pixel_coding"),
            "8bits requires radiometric_processing: display "
            f"(got {_given(options.radiometric_processing, 'basic')})",
        )
    if pixel == "12bits" and radiometry == "display":
        key = "pixel_coding" if options.pixel_coding else "radiometric_processing"
        yield _error(
            (*at, key),
            "display radiometry requires pixel_coding: 8bits "
            f"(got {_given(options.pixel_coding, '12bits')})",
        )
    yield from _level_dependent(order)


def _given(value: str | None, default: str) -> str:
    return value if value is not None else f"{default}, Airbus's default"


def _level_dependent(order: OrderSpec) -> Iterator[Finding]:
    options = order.product.options
    at = ("product", "options")
    level = options.processing_level
    shown = _given(level, "primary")
    effective = level or "primary"
    if effective not in ("ortho", "projected"):
        if options.projection is not None:
            yield _error(
                (*at, "projection"),
                f"projection requires processing_level ortho or projected (got {shown})",
            )
        for index, aoi in enumerate(order.aois):
            if aoi.projection is not None:
                yield _error(
                    ("aois", index, "projection"),
                    f"projection requires processing_level ortho or projected (got {shown})",
                )
    if effective != "ortho":
        if options.dem is not None:
            yield _error((*at, "dem"), f"dem requires processing_level ortho (got {shown})")
        for index, aoi in enumerate(order.aois):
            if aoi.dem is not None:
                yield _error(
                    ("aois", index, "dem"), f"dem requires processing_level ortho (got {shown})"
                )
    if effective != "projected" and options.elevation is not None:
        yield _error(
            (*at, "elevation"), f"elevation requires processing_level projected (got {shown})"
        )


def _spectral_and_licence(order: OrderSpec) -> Iterator[Finding]:
    options = order.product.options
    at = ("product", "options")
    neo = order.constellations == ["PNEO"]
    legacy = bool(order.constellations) and "PNEO" not in order.constellations
    spectral = options.spectral_processing
    if spectral in NEO_ONLY_SPECTRAL and legacy:
        yield _error(
            (*at, "spectral_processing"),
            f"{spectral} is a Pléiades Neo value; for PHR/SPOT use bundle, pansharpened, "
            "panchromatic, multispectral, pansharpened_natural_color or pansharpened_false_color",
        )
    if spectral in LEGACY_ONLY_SPECTRAL and neo:
        yield _error(
            (*at, "spectral_processing"),
            f"{spectral} is not offered for Pléiades Neo; use panchromatic, pansharpened, "
            "multispectral, bundle, full_bundle, full_pms or full_ms",
        )
    if options.licence is not None and (neo or legacy):
        known = NEO_LICENCES if neo else LEGACY_LICENCES
        if options.licence not in known:
            yield _warning((*at, "licence"), _unknown_licence(options.licence, known, neo))


def _unknown_licence(licence: str, known: list[str], neo: bool) -> str:
    family = "Pléiades Neo" if neo else "PHR/SPOT"
    message = f"licence {licence!r} is not a known {family} licence (the contract decides)"
    same_case = [value for value in known if value.lower() == licence.lower()]
    close = same_case or difflib.get_close_matches(licence, known, n=1)
    return f"{message}; did you mean {close[0]!r}?" if close else message


def _unknown_options(options: ProductOptions) -> Iterator[Finding]:
    known = list(ProductOptions.model_fields)
    for key in options.model_extra or {}:
        if key in PASS_THROUGH_OPTIONS:
            continue
        base, _, suffix = key.rpartition("_")
        if base in ("projection", "dem") and suffix.isdigit():
            message = f"option {key!r}: write {base!r}; the tool numbers it per AOI"
            yield _error(("product", "options", key), message)
            continue
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        yield _warning(
            ("product", "options", key), f"unknown option {key!r} is sent to Airbus as is{hint}"
        )


def _dates(order: OrderSpec, today: date) -> Iterator[Finding]:
    window = order.search.acquired
    if window is None:
        return
    for key, value in (("from", window.from_), ("to", window.to)):
        if value > today:
            yield _error(
                ("search", "acquired", key),
                f"{value} is in the future (today is {today}); archive imagery is in the past",
            )

"""Parsing of OneAtlas search criteria: ranges, lists, dates, paging, sorting."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from .geo import GeometryError, parse_bbox, parse_geometry

MAX_ITEMS_PER_PAGE = 500
DEFAULT_ITEMS_PER_PAGE = 50
RESULT_WINDOW = 10_000
DEFAULT_SORT = "-acquisitionDate,cloudCover"
NUMERIC_FIELDS = ("cloudCover", "incidenceAngle", "snowCover", "resolution")
DATE_FIELDS = ("acquisitionDate", "lastUpdateDate", "publicationDate")
LIST_FIELDS = ("constellation", "platform", "processingLevel", "productType", "productionStatus")
STRING_FIELDS = (
    "id",
    "customerReference",
    "internalReference",
    "acquisitionIdentifier",
    "archiveIdentifier",
    "commercialReference",
)
SORTABLE = NUMERIC_FIELDS + DATE_FIELDS
RELATIONS = ("intersects", "contains", "within", "disjoint")


class CriteriaError(ValueError):
    """A search request is invalid (answered with 400)."""


@dataclass(frozen=True)
class Range:
    lo: float = -math.inf
    hi: float = math.inf
    lo_inclusive: bool = True
    hi_inclusive: bool = True

    def contains(self, value: float) -> bool:
        above = value >= self.lo if self.lo_inclusive else value > self.lo
        below = value <= self.hi if self.hi_inclusive else value < self.hi
        return above and below


@dataclass
class Criteria:
    items_per_page: int = DEFAULT_ITEMS_PER_PAGE
    start_page: int = 1
    ranges: dict[str, Range] = field(default_factory=dict)
    lists: dict[str, frozenset[str]] = field(default_factory=dict)
    strings: dict[str, frozenset[str]] = field(default_factory=dict)
    workspaces: tuple[str, ...] = ("public",)
    geometry: BaseGeometry | None = None
    relation: str = "intersects"
    sort: tuple[tuple[str, bool], ...] = (("acquisitionDate", True), ("cloudCover", False))

    @property
    def start_index(self) -> int:
        return (self.start_page - 1) * self.items_per_page


def parse_datetime(text: str) -> float:
    """Epoch seconds of an ISO-8601 datetime or date (lenient about milliseconds)."""
    raw = text.strip()
    value = raw[:-1] + "+00:00" if raw.endswith("Z") else raw
    if "T" in value:
        head, _, tail = value.partition("T")
        clock, sign, zone = tail, "", ""
        for marker in ("+", "-"):
            if marker in tail:
                clock, _, zone = tail.partition(marker)
                sign = marker
        if "." in clock:
            hms, _, frac = clock.partition(".")
            clock = f"{hms}.{(frac + '000000')[:6]}"
        value = f"{head}T{clock}{sign}{zone}"
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise CriteriaError(f"Invalid date '{text}'") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _scalar(text: str, is_date: bool) -> float:
    if is_date:
        return parse_datetime(text)
    try:
        return float(text)
    except ValueError as exc:
        raise CriteriaError(f"Invalid number '{text}'") from exc


def parse_range(value: Any, *, is_date: bool = False) -> Range:
    """Range grammar: ``[a,b]`` inclusive, ``]a,b[`` exclusive, open ends, or a single value.

    A leading ``[`` includes the start and ``]`` excludes it; a trailing ``]`` includes the end
    and ``[`` excludes it. Without a comma, ``[a`` / ``]a`` is a lower bound and ``a]`` / ``a[``
    an upper bound. A plain value means equality.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Range(float(value), float(value))
    text = str(value).strip()
    if not text:
        raise CriteriaError("Empty range")
    lead = text[0] if text[0] in "[]" else ""
    trail = text[-1] if text[-1] in "[]" and len(text) > 1 else ""
    body = text[len(lead) : len(text) - len(trail)]
    lo_inc = lead != "]"
    hi_inc = trail != "["
    if "," in body:
        lo_text, _, hi_text = body.partition(",")
        lo = _scalar(lo_text, is_date) if lo_text.strip() else -math.inf
        hi = _scalar(hi_text, is_date) if hi_text.strip() else math.inf
        return Range(lo, hi, lo_inc, hi_inc)
    if lead:
        return Range(_scalar(body, is_date), math.inf, lo_inc, True)
    if trail:
        return Range(-math.inf, _scalar(body, is_date), True, hi_inc)
    number = _scalar(body, is_date)
    return Range(number, number)


def _as_list(value: Any) -> frozenset[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return frozenset(str(v).strip() for v in items if str(v).strip())


def _int(params: dict[str, Any], key: str, default: int) -> int:
    if params.get(key) in (None, ""):
        return default
    try:
        return int(params[key])
    except (TypeError, ValueError) as exc:
        raise CriteriaError(f"Invalid value for {key}: '{params[key]}'") from exc


def parse_sort(value: Any) -> tuple[tuple[str, bool], ...]:
    out = []
    for part in _as_list_ordered(value):
        desc = part.startswith("-")
        name = part.lstrip("-+")
        if name not in SORTABLE:
            raise CriteriaError(f"Invalid sortBy attribute '{name}'")
        out.append((name, desc))
    return tuple(out)


def _as_list_ordered(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(v).strip() for v in items if str(v).strip()]


def parse_criteria(params: dict[str, Any]) -> Criteria:
    """Build Criteria from GET query parameters or a POST JSON body."""
    crit = Criteria(
        items_per_page=_int(params, "itemsPerPage", DEFAULT_ITEMS_PER_PAGE),
        start_page=_int(params, "startPage", 1),
    )
    if not 1 <= crit.items_per_page <= MAX_ITEMS_PER_PAGE:
        raise CriteriaError(
            f"itemsPerPage must be between 1 and {MAX_ITEMS_PER_PAGE} (got {crit.items_per_page})"
        )
    if crit.start_page < 1:
        raise CriteriaError(f"startPage must be >= 1 (got {crit.start_page})")
    if crit.start_page * crit.items_per_page > RESULT_WINDOW:
        raise CriteriaError(
            f"Result window is too large, startPage * itemsPerPage must be less than or equal "
            f"to {RESULT_WINDOW} (got {crit.start_page * crit.items_per_page})"
        )
    for name in NUMERIC_FIELDS + DATE_FIELDS:
        if params.get(name) not in (None, ""):
            crit.ranges[name] = parse_range(params[name], is_date=name in DATE_FIELDS)
    for name in LIST_FIELDS:
        if params.get(name) not in (None, ""):
            crit.lists[name] = _as_list(params[name])
    for name in STRING_FIELDS:
        if params.get(name) not in (None, ""):
            crit.strings[name] = _as_list(params[name])
    if params.get("workspace") not in (None, ""):
        crit.workspaces = tuple(sorted(_as_list(params["workspace"])))
    crit.geometry = _parse_area(params)
    relation = str(params.get("relation") or "intersects")
    if relation not in RELATIONS:
        raise CriteriaError(f"Invalid relation '{relation}'")
    crit.relation = relation
    if params.get("sortBy") not in (None, ""):
        crit.sort = parse_sort(params["sortBy"])
    return crit


def _parse_area(params: dict[str, Any]) -> BaseGeometry | None:
    try:
        geom = None
        if params.get("geometry") not in (None, ""):
            geom = parse_geometry(params["geometry"])
        if params.get("bbox") not in (None, ""):
            bbox_geom = box(*parse_bbox(params["bbox"]))
            geom = bbox_geom if geom is None else geom.intersection(bbox_geom)
    except GeometryError as exc:
        raise CriteriaError(str(exc)) from exc
    if geom is not None and not geom.is_valid:
        raise CriteriaError("Invalid geometry: " + geom.geom_type + " is not valid")
    return geom

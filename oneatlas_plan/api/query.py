"""Pure builder of OneAtlas search bodies (``POST /api/v2/opensearch``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_ITEMS_PER_PAGE = 500
RESULT_WINDOW = 10_000  # Airbus caps totalResults (and reachable results) at 10,000
PUBLIC_WORKSPACE = "public"  # SPOT and Pléiades archive
PUBLIC_PNEO_WORKSPACE = "public-pneo"  # Pléiades Neo archive

Relation = Literal["intersects", "disjoint", "within", "contains"]


def format_datetime(value: datetime) -> str:
    """Airbus's millisecond UTC form: ``2022-06-01T00:00:00.000Z`` (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def format_number(value: float) -> str:
    """``10`` for 10.0, ``0.5`` for 0.5."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def format_range(low: str | None, high: str | None) -> str:
    """Airbus range syntax, inclusive: ``[low,high]``; an omitted end is left empty."""
    return f"[{low or ''},{high or ''}]"


def comma_list(values: tuple[str, ...]) -> str:
    return ",".join(values)


def truncate_ms(value: datetime) -> datetime:
    """``value`` in UTC with sub-millisecond precision dropped (what Airbus sees)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class SearchQuery(BaseModel):
    """Every search criterion the tool uses, mapped to Airbus's syntax by :meth:`to_body`.

    Tuples of strings become comma lists, ``*_max``/``*_min`` become ``[0,x]`` style ranges,
    datetimes become millisecond UTC strings (naive datetimes are taken as UTC).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace: str = PUBLIC_WORKSPACE
    constellations: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    acquired_from: datetime | None = None
    acquired_to: datetime | None = None
    cloud_cover_max: float | None = Field(default=None, ge=0, le=100)
    incidence_angle_max: float | None = Field(default=None, ge=0, le=90)
    snow_cover_max: float | None = Field(default=None, ge=0, le=100)
    resolution_min: float | None = Field(default=None, ge=0)
    resolution_max: float | None = Field(default=None, ge=0)
    processing_level: tuple[str, ...] = ()
    product_types: tuple[str, ...] = ()
    geometry: dict[str, Any] | None = None
    bbox: tuple[float, float, float, float] | None = None
    relation: Relation | None = None
    sort_by: tuple[str, ...] = ()
    customer_reference: str | None = None
    internal_reference: str | None = None
    items_per_page: int = Field(default=MAX_ITEMS_PER_PAGE, ge=1, le=MAX_ITEMS_PER_PAGE)

    @field_validator("constellations", "platforms", "processing_level", "product_types",
                     "sort_by", mode="before")
    @classmethod
    def _tuple(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return tuple(value) if isinstance(value, list) else value

    @field_validator("acquired_from", "acquired_to")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return truncate_ms(value) if value is not None else None

    @model_validator(mode="after")
    def _consistent(self) -> SearchQuery:
        if self.geometry is not None and self.bbox is not None:
            raise ValueError("give geometry or bbox, not both")
        if self.acquired_from and self.acquired_to and self.acquired_from > self.acquired_to:
            raise ValueError("acquired_from is after acquired_to")
        low, high = self.resolution_min, self.resolution_max
        if low is not None and high is not None and low > high:
            raise ValueError("resolution_min is above resolution_max")
        return self

    def to_body(self, start_page: int = 1) -> dict[str, Any]:
        """The JSON body for page ``start_page`` (1-based)."""
        body: dict[str, Any] = {
            "itemsPerPage": self.items_per_page,
            "startPage": start_page,
            "workspace": self.workspace,
        }
        body.update(self._list_criteria())
        body.update(self._range_criteria())
        if self.geometry is not None:
            body["geometry"] = self.geometry
        if self.bbox is not None:
            body["bbox"] = ",".join(format_number(v) for v in self.bbox)
        if self.relation is not None:
            body["relation"] = self.relation
        if self.customer_reference is not None:
            body["customerReference"] = self.customer_reference
        if self.internal_reference is not None:
            body["internalReference"] = self.internal_reference
        return body

    def _list_criteria(self) -> dict[str, str]:
        pairs = {
            "constellation": self.constellations,
            "platform": self.platforms,
            "processingLevel": self.processing_level,
            "productType": self.product_types,
            "sortBy": self.sort_by,
        }
        return {key: comma_list(value) for key, value in pairs.items() if value}

    def _range_criteria(self) -> dict[str, str]:
        body: dict[str, str] = {}
        if self.acquired_from is not None or self.acquired_to is not None:
            body["acquisitionDate"] = format_range(
                format_datetime(self.acquired_from) if self.acquired_from else None,
                format_datetime(self.acquired_to) if self.acquired_to else None,
            )
        for key, maximum in (
            ("cloudCover", self.cloud_cover_max),
            ("incidenceAngle", self.incidence_angle_max),
            ("snowCover", self.snow_cover_max),
        ):
            if maximum is not None:
                body[key] = format_range("0", format_number(maximum))
        if self.resolution_min is not None or self.resolution_max is not None:
            body["resolution"] = format_range(
                format_number(self.resolution_min) if self.resolution_min is not None else None,
                format_number(self.resolution_max) if self.resolution_max is not None else None,
            )
        return body

    def with_acquisition(self, start: datetime, end: datetime) -> SearchQuery:
        """A copy restricted to ``[start, end]``."""
        return self.model_copy(
            update={"acquired_from": truncate_ms(start), "acquired_to": truncate_ms(end)}
        )


EARLIEST_ACQUISITION = datetime(1986, 1, 1, tzinfo=UTC)  # SPOT 1


def split_acquisition(
    query: SearchQuery, now: datetime
) -> tuple[SearchQuery, SearchQuery] | None:
    """Two queries covering ``query``'s acquisition range without overlap; None when the range
    is a single millisecond. Missing ends default to 1986 and ``now``."""
    start = query.acquired_from or EARLIEST_ACQUISITION
    end = query.acquired_to or truncate_ms(now)
    if end - start < timedelta(milliseconds=1):
        return None
    middle = truncate_ms(start + (end - start) / 2)
    return (
        query.with_acquisition(start, middle),
        query.with_acquisition(middle + timedelta(milliseconds=1), end),
    )


def newest_first(query: SearchQuery) -> bool:
    """Whether results are sorted by descending acquisition date (Airbus's default)."""
    return not query.sort_by or query.sort_by[0] == "-acquisitionDate"

"""The spec language: pydantic models, the single source of truth for ``schemas/spec.schema.json``.

A spec file holds ``orders``; each order names its AOIs, how to search the archive, how to pick
scenes, the product and the order metadata. A ``defaults`` block is deep-merged under every order
(mappings merge, lists and scalars replace). Field descriptions become the schema's docs.

Checks that need more than one model, the date of today or I/O (constellation ↔ product type,
option consistency, AOI geometry, unique names...) live in ``spec.checks`` and ``spec.loader``.
"""

from __future__ import annotations

import re
import string
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9_-]{0,62})$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"

Constellation = Literal["PHR", "SPOT", "PNEO"]
Platform = Literal["PHR1A", "PHR1B", "SPOT6", "SPOT7", "PNEO3", "PNEO4"]
SortKey = Literal[
    "cloudCover",
    "-cloudCover",
    "acquisitionDate",
    "-acquisitionDate",
    "incidenceAngle",
    "-incidenceAngle",
    "lastUpdateDate",
    "-lastUpdateDate",
    "publicationDate",
    "-publicationDate",
]
RankKey = Literal["cloud_cover", "-acquisition_date", "acquisition_date", "incidence_angle"]
PrimaryMarket = Literal[
    "AGRI", "GENIE", "GDPUBLIC", "DEFSEC", "DISTRI", "RISQUE", "ENERGIE", "ENV", "FORET",
    "SANTE", "ASSUR", "IOT", "CARTO", "MARITIME", "PRESSE", "MOBIL", "AUTRE", "TELECOM",
    "TOURISME", "TRANSPORT", "NQUAL",
]  # fmt: skip
SpectralProcessing = Literal[
    "bundle",
    "pansharpened",
    "panchromatic",
    "multispectral",
    "pansharpened_natural_color",
    "pansharpened_false_color",
    "full_bundle",
    "full_pms",
    "full_ms",
]
Dem = Literal[
    "best_available", "FLAT_DEM_WITH_GTOPO30_WAT", "FLAT_DEM_WITH_WAT", "FLAT_DEM_WITH_WD4O_WAT",
    "GTOPO30", "MIXEDDEM", "PAS-DEM", "PAS-DEM_IVV", "REF3D-DEM", "REF3D-DEM_IVV", "SRTMV4",
    "SRTMV4_IVV", "WorldDEM4Ortho",
]  # fmt: skip
PROJECTION_PATTERN = r"^(auto|[0-9]{4,5}(_[A-Z])?)$"
PLACEHOLDERS = ("spec", "order", "aoi")
OnChange = Literal["replace", "keep"]
# Each selection is one scene set bought per AOI; an order holds at most 5 AOI/item pairs,
# so 100 selections of one AOI are already 20+ orders. Bounds the planner's work.
MAX_SCENES_PER_AOI = 100
# Airbus documents no maximum length for customerReference (the OpenAPI schema is a bare
# string); we keep the whole reference within 255 characters, the length every system it
# is copied to (bills, delivery workspaces, FTP file names) is sure to take. The tool
# adds its order key ("oap-" + 12 hex digits) and a separator to the rendered template.
MAX_CUSTOMER_REFERENCE = 255
REFERENCE_SUFFIX_CHARS = len("oap-") + 12 + 1
PLACEHOLDER_MAX_CHARS = {"spec": 63, "order": 63, "aoi": 63 + 2}  # aoi: "name+N" (N <= 4)
_FORMAT_SPEC = re.compile(
    r"(?:(?P<fill>[^{}\x00-\x1f\x7f])?[<>^])?(?P<width>[0-9]{1,3})?"
    r"(?:\.(?P<precision>[0-9]{1,3}))?s?"
)


def _number(value: float) -> str:
    return f"{value:g}"


def _between(low: float, high: float) -> Any:
    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(
                f"must be between {_number(low)} and {_number(high)} (got {_number(value)})"
            )
        return value

    return AfterValidator(check)


def _at_least(low: float) -> Any:
    def check(value: float) -> float:
        if value < low:
            raise ValueError(f"must be at least {_number(low)} (got {_number(value)})")
        return value

    return AfterValidator(check)


def _slug(value: str) -> str:
    if not re.match(SLUG_PATTERN, value):
        raise ValueError(
            "must be a slug: 1-63 lowercase letters, digits, '-' or '_', starting with a "
            f"letter or digit (got {value!r})"
        )
    return value


def _email(value: str) -> str:
    if not re.match(EMAIL_PATTERN, value):
        raise ValueError(f"does not look like an e-mail address (got {value!r})")
    return value


Slug = Annotated[
    str,
    AfterValidator(_slug),
    Field(json_schema_extra={"pattern": SLUG_PATTERN}),
]
Email = Annotated[
    str,
    AfterValidator(_email),
    Field(json_schema_extra={"pattern": EMAIL_PATTERN}),
]
Percent = Annotated[
    float, _between(0, 100), Field(json_schema_extra={"minimum": 0, "maximum": 100})
]
Angle = Annotated[float, _between(0, 90), Field(json_schema_extra={"minimum": 0, "maximum": 90})]
Fraction = Annotated[float, _between(0, 1), Field(json_schema_extra={"minimum": 0, "maximum": 1})]
PositiveInt = Annotated[int, _at_least(1), Field(json_schema_extra={"minimum": 1})]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _inheritable(schema: dict[str, Any]) -> None:
    """JSON schema only: these keys may come from the defaults block (deep-merged), so editors
    must not demand them in each order; ``validate`` checks them after the merge."""
    kept = [key for key in schema.get("required", []) if key in ("name", "aois")]
    if kept:
        schema["required"] = kept
    else:
        schema.pop("required", None)


_INHERITABLE = ConfigDict(
    extra="forbid", frozen=True, populate_by_name=True, json_schema_extra=_inheritable
)


# ---------------------------------------------------------------------------- money, budgets

_MONEY_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]{3})\s*$")
MONEY_STRING_PATTERN = r"^\s*[0-9]+(\.[0-9]+)?\s*[A-Z]{3}\s*$"


MAX_MONEY = Decimal(10) ** 12


class Money(_Model):
    """An amount of money: ``"2000 EUR"`` or ``{amount: 2000, currency: EUR}``."""

    amount: Decimal = Field(description="Amount (decimal, >= 0).")
    currency: Literal["EUR"] = Field(description="ISO 4217 currency; only EUR for now.")

    @model_validator(mode="before")
    @classmethod
    def _parse_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _MONEY_RE.match(value)
            if match is None:
                raise ValueError(
                    f"expected an amount and a currency such as '2000 EUR' (got {value!r})"
                )
            try:
                amount = Decimal(match.group(1))
            except InvalidOperation:  # pragma: no cover - the regex only lets digits through
                raise ValueError(f"invalid amount {match.group(1)!r}") from None
            return {"amount": amount, "currency": match.group(2)}
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"give a currency, e.g. '{value} EUR'")
        return value

    @field_validator("amount")
    @classmethod
    def _non_negative(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value < 0:
            raise ValueError(f"must be a non-negative amount (got {value})")
        if value > MAX_MONEY:
            raise ValueError(f"must be at most {MAX_MONEY:,} (got {value:.3g})")
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        object_schema = handler(schema)
        return {
            "anyOf": [
                {"type": "string", "pattern": MONEY_STRING_PATTERN, "examples": ["2000 EUR"]},
                object_schema,
            ]
        }

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


BudgetWindow = Literal["month", "quarter", "year"]


class Budget(Money):
    """A spending cap: ``"300 EUR"``, or ``{amount: 300, currency: EUR, per: month}`` for a
    calendar window (orders count in the window of their submission date)."""

    per: BudgetWindow | None = Field(
        None,
        description="Calendar window (month, quarter or year, UTC): only orders submitted in "
        "the current window count. Default: all orders ever recorded in the state.",
    )

    def __str__(self) -> str:
        return super().__str__() + (f" per {self.per}" if self.per else "")


def _renamed(old: str, new: str) -> Any:
    def refuse(value: Any) -> Any:
        if value is not None:
            raise ValueError(f"{old} was renamed: use {new}")
        return value

    return AfterValidator(refuse)


class SpecBudget(_Model):
    """Spending caps, checked against committed spend: the orders the state records as ordered,
    accepted or of unknown outcome, plus what the plan would buy."""

    per_airbus_order: Money | None = Field(
        None, description="Maximum price of any single Airbus order of this spec."
    )
    per_spec: Budget | None = Field(None, description="Maximum total of this spec's orders.")
    total: Budget | None = Field(
        None,
        description="Maximum total of every order recorded in the state (all specs); when "
        "several specs set it, the smallest applies.",
    )
    per_order: Annotated[
        Any,
        _renamed(
            "budget.per_order",
            "budget.per_airbus_order (any single Airbus order) or an order's own `budget:` "
            "(all its AOIs together)",
        ),
        Field(json_schema_extra={"deprecated": True, "not": {}}),
    ] = Field(None, description="Removed: renamed per_airbus_order.")


# ---------------------------------------------------------------------------- AOIs


MAX_PATH_CHARS = 1024
MAX_PATH_PART_BYTES = 255  # NAME_MAX of Linux, macOS and Windows filesystems


def _aoi_file(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("a file name must not contain control characters (NUL, newline...)")
    if len(value) > MAX_PATH_CHARS:
        raise ValueError(f"path too long ({len(value)} characters; the limit is {MAX_PATH_CHARS})")
    for part in value.split("/"):
        if len(part.encode("utf-8")) > MAX_PATH_PART_BYTES:
            raise ValueError(
                f"file name {part[:40]!r}... too long ({len(part.encode('utf-8'))} bytes; "
                f"the limit is {MAX_PATH_PART_BYTES})"
            )
    return value


AoiFile = Annotated[str, Field(min_length=1), AfterValidator(_aoi_file)]


class AoiSpec(_Model):
    """A named area of interest: exactly one of ``bbox``, ``geometry``, ``wkt`` or ``file``."""

    name: Slug | None = Field(
        None,
        description="Slug, unique in the order (the last segment of resource addresses). "
        "Required unless name_property expands a file into several AOIs.",
    )
    bbox: list[float] | None = Field(
        None,
        min_length=4,
        max_length=4,
        description="[min_lon, min_lat, max_lon, max_lat] in WGS84 degrees.",
    )
    geometry: dict[str, Any] | None = Field(
        None, description="Inline GeoJSON geometry (a Polygon, [lon, lat] positions, closed ring)."
    )
    wkt: str | None = Field(None, description="WKT POLYGON in WGS84 (lon lat order).")
    file: AoiFile | None = Field(
        None,
        description="GeoJSON file (Feature, FeatureCollection or geometry), relative to the spec "
        "file; must stay under the spec root.",
    )
    feature: str | int | None = Field(
        None,
        description="With file: pick one feature of a FeatureCollection by index (0-based) or by "
        "its 'name' property or id.",
    )
    name_property: str | None = Field(
        None,
        description="With file: expand every feature into its own AOI named by this property "
        "(lowercased, non-slug characters replaced by '-').",
    )
    projection: str | None = Field(
        None,
        pattern=PROJECTION_PATTERN,
        description="Per-AOI projection (EPSG code such as 32631, or 'auto'); overrides "
        "product.options.projection for this AOI.",
    )
    dem: Dem | None = Field(None, description="Per-AOI DEM; overrides product.options.dem.")

    @model_validator(mode="after")
    def _one_source(self) -> AoiSpec:
        sources = [
            key for key in ("bbox", "geometry", "wkt", "file") if getattr(self, key) is not None
        ]
        if len(sources) != 1:
            found = ", ".join(sources) if sources else "none"
            raise ValueError(f"give exactly one of bbox, geometry, wkt, file (found: {found})")
        if self.file is None and (self.feature is not None or self.name_property is not None):
            raise ValueError("feature and name_property only apply with file")
        if self.feature is not None and self.name_property is not None:
            raise ValueError("give feature (one AOI) or name_property (all features), not both")
        if self.name is None and self.name_property is None:
            raise ValueError("name is required")
        return self


# ---------------------------------------------------------------------------- search


class DateWindow(_Model):
    """Acquisition dates, both inclusive."""

    from_: date = Field(alias="from", description="First acquisition day (inclusive).")
    to: date = Field(description="Last acquisition day (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> DateWindow:
        if self.from_ > self.to:
            raise ValueError(f"from ({self.from_}) is after to ({self.to})")
        return self


class MaxPercent(_Model):
    max: Percent = Field(description="Maximum, in percent (0-100).")


class MaxAngle(_Model):
    max: Angle = Field(description="Maximum, in degrees (0-90).")


class ResolutionRange(_Model):
    min: Annotated[float, Field(gt=0)] | None = Field(None, description="Metres per pixel.")
    max: Annotated[float, Field(gt=0)] | None = Field(None, description="Metres per pixel.")

    @model_validator(mode="after")
    def _ordered(self) -> ResolutionRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({_number(self.min)}) is above max ({_number(self.max)})")
        return self


class SearchSpec(_Model):
    """Archive search criteria (OpenSearch v2, seed step 2)."""

    constellation: list[Constellation] | None = Field(
        None,
        min_length=1,
        description="PHR, SPOT and/or PNEO. Default: the product type's constellation.",
    )
    platform: list[Platform] | None = Field(
        None, min_length=1, description="Restrict to satellites, e.g. PHR1A, SPOT7, PNEO3."
    )
    acquired: DateWindow | None = Field(None, description="Acquisition date window.")
    cloud_cover: MaxPercent | None = Field(None, description="Cloud cover of the whole scene.")
    incidence_angle: MaxAngle | None = Field(None, description="Viewing incidence angle.")
    snow_cover: MaxPercent | None = Field(None, description="Snow cover of the whole scene.")
    resolution: ResolutionRange | None = Field(None, description="Ground resolution range.")
    processing_level: Literal["ALBUM"] = Field(
        "ALBUM", description="Archive items orderable through Pay-Per-Order are ALBUM."
    )
    sort_by: list[SortKey] = Field(
        ["cloudCover", "-acquisitionDate"],
        min_length=1,
        description="Catalogue sort ('-' = descending).",
    )
    workspace: str | None = Field(
        None,
        min_length=1,
        description="Catalogue workspace; default public-pneo for PNEO, public otherwise.",
    )


# ---------------------------------------------------------------------------- selection


class Coverage(_Model):
    min: Fraction = Field(
        0.95, description="Minimum fraction (0-1) of the AOI the chosen scene(s) must cover."
    )
    max_scenes: PositiveInt = Field(
        1, description="Maximum number of scenes combined to reach min coverage."
    )


class SelectionPolicy(_Model):
    """How candidate scenes are ranked and chosen for each AOI."""

    scenes_per_aoi: Annotated[
        int,
        _between(1, MAX_SCENES_PER_AOI),
        Field(json_schema_extra={"minimum": 1, "maximum": MAX_SCENES_PER_AOI}),
    ] = Field(
        1,
        description="How many independent selections (distinct acquisitions) per AOI; each must "
        "reach coverage.min with at most coverage.max_scenes scenes.",
    )
    rank_by: list[RankKey] = Field(
        ["cloud_cover", "-acquisition_date"],
        min_length=1,
        description="Ranking keys, most significant first ('-' = descending).",
    )
    coverage: Coverage = Field(
        default_factory=lambda: Coverage.model_validate({}), description="Coverage requirement."
    )


# ---------------------------------------------------------------------------- product


class ProductOptions(BaseModel):
    """Production options (Airbus's optionsPerProductType). Known keys are checked; other keys
    are passed through (with a warning) because contracts can offer more."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, str | int | float] = Field(init=False)

    spectral_processing: SpectralProcessing | None = Field(
        None, description="full_* values are Pléiades Neo only. Airbus default: bundle/full_bundle."
    )
    radiometric_processing: Literal["basic", "reflectance", "display"] | None = Field(
        None, description="Airbus default: basic."
    )
    image_format: (
        Literal["dimap_jpeg2000_regular", "dimap_jpeg2000_optimized", "dimap_geotiff"] | None
    ) = Field(None, description="Airbus default: dimap_jpeg2000_regular.")
    pixel_coding: Literal["8bits", "12bits"] | None = Field(
        None, description="8bits only with display radiometry, 12bits only with basic/reflectance."
    )
    processing_level: Literal["primary", "ortho", "projected"] | None = Field(
        None, description="Airbus default: primary."
    )
    priority: Literal["standard", "rush"] | None = Field(None, description="rush: no QC.")
    licence: str | None = Field(
        None, min_length=1, description="Contract licence, e.g. standard (PNEO: Standard_1_5...)."
    )
    projection: str | None = Field(
        None,
        pattern=PROJECTION_PATTERN,
        description="EPSG code for every AOI, or 'auto' (the contract's default for each AOI). "
        "Only with ortho or projected processing.",
    )
    dem: Dem | None = Field(None, description="Only with ortho processing.")
    elevation: Annotated[float, _between(-100, 10000)] | None = Field(
        None, description="Metres; only with projected processing."
    )
    delivery_method: Literal["on_the_flow", "at_the_end"] | None = None
    fullStrip: bool | None = Field(None, description="Order the full strip (true/false).")

    def known(self) -> dict[str, Any]:
        """The options that are set, known keys first then extra keys, in declaration order."""
        values = {k: v for k, v in self.model_dump(exclude_none=True).items()}
        return values

    def as_strings(self) -> dict[str, str]:
        """Every set option as Airbus's string value (bools as "true"/"false")."""
        result: dict[str, str] = {}
        for key, value in self.known().items():
            if isinstance(value, bool):
                result[key] = "true" if value else "false"
            elif isinstance(value, float) and value.is_integer():
                result[key] = str(int(value))
            else:
                result[key] = str(value)
        return result


class ProductSpec(_Model):
    """What to order for each selected scene (seed step 5)."""

    model_config = _INHERITABLE

    type: str = Field(
        pattern=r"^[A-Za-z0-9_.]+$",
        description="productTypeId from the contract, e.g. PleiadesArchiveMono, "
        "SPOTArchive1.5Mono, PleiadesNeoArchiveMono.",
    )
    options: ProductOptions = Field(
        default_factory=lambda: ProductOptions.model_validate({}), description="Options."
    )


class ProductDefaults(_Model):
    type: str | None = Field(None, pattern=r"^[A-Za-z0-9_.]+$", description="productTypeId.")
    options: ProductOptions | None = Field(None, description="Production options.")


# ---------------------------------------------------------------------------- order metadata


class EndUser(_Model):
    name: str = Field(min_length=1, description="End user's name (endUserName).")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2 code, e.g. FR.")


class Delivery(_Model):
    type: Literal["network"] = Field("network", description="Only network (FTP + My Data).")
    workspace: str | None = Field(None, min_length=1, description="Delivery workspace id or name.")
    platform_id: str = Field("PublicMOC", min_length=1, description="Delivery platformId.")


def _customer_reference(value: str) -> str:
    """A template whose every rendering is a sane customerReference: known placeholders,
    only text alignment/width/truncation format specs, bounded length, no control chars."""
    shown = repr(value[:80]) + ("..." if len(value) > 80 else "")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"bad template {shown}: control characters are not allowed")
    try:
        parts = list(string.Formatter().parse(value))
    except ValueError as error:
        raise ValueError(f"bad template {shown}: {error}") from None
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    longest = 0
    for literal, name, format_spec, conversion in parts:
        longest += len(literal)
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name[:40]}}} (allowed: {allowed})")
        if conversion:
            raise ValueError(f"{{{name}!{conversion}}}: conversions are not allowed")
        match = _FORMAT_SPEC.fullmatch(format_spec or "")
        if match is None:
            raise ValueError(
                f"{{{name}:{(format_spec or '')[:20]}}}: unsupported format spec (allowed: "
                "[[fill]<|>|^][width][.precision], e.g. {aoi:.20} or {spec:_<12})"
            )
        size = PLACEHOLDER_MAX_CHARS[name]
        if match["precision"]:
            size = min(size, int(match["precision"]))
        longest += max(size, int(match["width"] or 0))
    if longest + REFERENCE_SUFFIX_CHARS > MAX_CUSTOMER_REFERENCE:
        raise ValueError(
            f"template {shown} can render up to {longest + REFERENCE_SUFFIX_CHARS} characters "
            f"with the tool's {REFERENCE_SUFFIX_CHARS}-character order key; customerReference is "
            f"kept within {MAX_CUSTOMER_REFERENCE} (names count up to 63 characters: shorten "
            "the text, or truncate a placeholder with a precision such as {aoi:.20})"
        )
    return value


CustomerReference = Annotated[str, Field(min_length=1), AfterValidator(_customer_reference)]


class OrderMetadata(_Model):
    """Airbus order fields (seed step 5); contract and primary_market are required once the
    spec's defaults are merged in."""

    model_config = _INHERITABLE

    contract: str = Field(min_length=1, description="contractId (CisContractId).")
    primary_market: PrimaryMarket = Field(description="primaryMarket (Airbus's market code).")
    secondary_market: str = Field("", description="secondaryMarket; may be empty.")
    customer_reference: CustomerReference = Field(
        "{spec}/{order}/{aoi}",
        description="Template with {spec} {order} {aoi}; the tool appends an idempotency suffix.",
    )
    program_reference: str = Field("", description="programReference.")
    order_group: str = Field("", description="orderGroup (grouped invoicing).")
    end_users: list[EndUser] = Field([], description="endUsers; required for Pléiades Neo.")
    notification_emails: list[Email] = Field([], description="notificationEmails.")
    delivery: Delivery = Field(
        default_factory=lambda: Delivery.model_validate({}), description="Delivery."
    )
    pairs_per_order: Annotated[int, _between(1, 5)] = Field(
        1, description="AOI/item pairs per Airbus order (1-5; Airbus recommends 1)."
    )


class OrderMetadataDefaults(_Model):
    contract: str | None = Field(None, min_length=1)
    primary_market: PrimaryMarket | None = None
    secondary_market: str | None = None
    customer_reference: CustomerReference | None = None
    program_reference: str | None = None
    order_group: str | None = None
    end_users: list[EndUser] | None = None
    notification_emails: list[Email] | None = None
    delivery: Delivery | None = None
    pairs_per_order: Annotated[int, _between(1, 5)] | None = None


# ---------------------------------------------------------------------------- orders and files


class OrderSpec(_Model):
    """One order definition: its AOIs share search, selection, product and order metadata.

    product and order are required once the spec's defaults are merged in."""

    model_config = _INHERITABLE

    name: Slug = Field(description="Slug, unique in the spec (second segment of addresses).")
    description: str = Field("", description="Free text for reviewers.")
    aois: list[AoiSpec] = Field(min_length=1, description="Named areas of interest.")
    search: SearchSpec = Field(
        default_factory=lambda: SearchSpec.model_validate({}), description="Archive search."
    )
    selection: SelectionPolicy = Field(
        default_factory=lambda: SelectionPolicy.model_validate({}),
        description="Scene selection policy.",
    )
    product: ProductSpec = Field(description="Product type and options.")
    order: OrderMetadata = Field(description="Airbus order metadata.")
    budget: Budget | None = Field(
        None,
        description="Cap on this spec order: all its AOIs and Airbus orders together, "
        "including what the state already records for it.",
    )
    accept_quotations_up_to: Money | None = Field(
        None, description="Pléiades Neo: auto-accept quotations up to this amount."
    )
    on_change: OnChange = Field(
        "replace",
        description="What an edit does to resources already ordered: replace (re-buy when the "
        "edit asks for another product, see docs/SPEC.md) or keep (never re-buy).",
    )
    allow_overlap: bool = Field(
        False,
        description="Let a purchase through although the same scene with the same options "
        "is already owned (or planned) over an overlapping AOI.",
    )

    @property
    def constellations(self) -> list[str]:
        """search.constellation, or the product type's constellation."""
        if self.search.constellation:
            return list(self.search.constellation)
        inferred = constellation_of(self.product.type)
        return [inferred] if inferred else []

    @property
    def workspace(self) -> str:
        """search.workspace, or public-pneo for PNEO and public otherwise."""
        if self.search.workspace:
            return self.search.workspace
        return "public-pneo" if "PNEO" in self.constellations else "public"


class OrderDefaults(_Model):
    """Inherited by every order (deep merge: mappings merge, lists and scalars replace)."""

    search: SearchSpec | None = None
    selection: SelectionPolicy | None = None
    product: ProductDefaults | None = None
    order: OrderMetadataDefaults | None = None
    budget: Budget | None = None
    accept_quotations_up_to: Money | None = None
    on_change: OnChange | None = None
    allow_overlap: bool | None = None


class SpecFile(_Model):
    """A spec file (YAML)."""

    version: Literal[1] = Field(description="Spec language version (1).")
    name: Slug = Field(description="Spec name, unique across files: first segment of addresses.")
    description: str = Field("", description="Free text for reviewers.")
    defaults: OrderDefaults | None = Field(None, description="Merged under every order.")
    budget: SpecBudget | None = Field(None, description="Spending caps.")
    orders: list[OrderSpec] = Field(min_length=1, description="Order definitions.")


def constellation_of(product_type: str) -> str | None:
    """PleiadesNeo* → PNEO, Pleiades* → PHR, SPOT*/Spot* → SPOT, else None."""
    lowered = product_type.lower()
    if lowered.startswith("pleiadesneo"):
        return "PNEO"
    if lowered.startswith("pleiades"):
        return "PHR"
    if lowered.startswith("spot"):
        return "SPOT"
    return None

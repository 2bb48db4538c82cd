"""Typed views of what OneAtlas returns (pydantic v2).

Models keep fields they do not know (``extra="allow"``) so nothing Airbus sends is lost when a
feature is stored in a plan or state file. Field names follow Airbus's camelCase through aliases;
Python names are snake_case. Serialize with ``model_dump(by_alias=True)`` to get Airbus's shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, coerce_numbers_to_str=True, defer_build=True
    )


# --------------------------------------------------------------------------- auth


class Token(_Model):
    """Token endpoint response. ``access_token`` is a SecretStr: it never shows in a repr."""

    access_token: SecretStr
    expires_in: float = 3600.0
    token_type: str = "bearer"

    @field_validator("token_type")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("access_token")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("empty access_token")
        return value


# --------------------------------------------------------------------------- search


class Link(_Model):
    """One ``_links`` entry."""

    href: str = ""
    name: str | None = None
    type: str | None = None
    method: str | None = None
    resource_id: str | None = Field(default=None, alias="resourceId")


class FeatureProperties(_Model):
    """The catalogue properties used by the tool; every other property is kept as extra."""

    id: str
    acquisition_date: str | None = Field(default=None, alias="acquisitionDate")
    acquisition_identifier: str | None = Field(default=None, alias="acquisitionIdentifier")
    archive_identifier: str | None = Field(default=None, alias="archiveIdentifier")
    source_identifier: str | None = Field(default=None, alias="sourceIdentifier")
    parent_identifier: str | None = Field(default=None, alias="parentIdentifier")
    constellation: str | None = None
    platform: str | None = None
    cloud_cover: float | None = Field(default=None, alias="cloudCover")
    snow_cover: float | None = Field(default=None, alias="snowCover")
    incidence_angle: float | None = Field(default=None, alias="incidenceAngle")
    resolution: float | None = None
    processing_level: str | None = Field(default=None, alias="processingLevel")
    product_type: str | None = Field(default=None, alias="productType")
    production_status: str | None = Field(default=None, alias="productionStatus")
    workspace_id: str | None = Field(default=None, alias="workspaceId")
    workspace_name: str | None = Field(default=None, alias="workspaceName")
    customer_reference: str | None = Field(default=None, alias="customerReference")
    internal_reference: str | None = Field(default=None, alias="internalReference")
    commercial_reference: str | None = Field(default=None, alias="commercialReference")
    contract_id: str | None = Field(default=None, alias="contractId")


ACCESS_LINKS = ("quicklook", "thumbnail", "wms", "wmts")
DOCUMENTED_DOWNLOAD = "documented access path (the item has no _links.download)"


class Feature(_Model):
    """A catalogue item. ``links`` accepts both shapes Airbus uses for ``_links.images*``:
    one object or a list of objects; :meth:`links_named` always returns a list."""

    type: str = "Feature"
    geometry: dict[str, Any] | None = None
    properties: FeatureProperties
    links: dict[str, Link | list[Link]] = Field(default_factory=dict, alias="_links")
    rights: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.properties.id

    @property
    def datastrip_id(self) -> str | None:
        """What SPOT/Pléiades orders put in ``datastripIds`` (archive, else acquisition id)."""
        props = self.properties
        return props.archive_identifier or props.acquisition_identifier or None

    def links_named(self, name: str) -> list[Link]:
        """Every link under ``name`` (``[]`` when absent)."""
        value = self.links.get(name)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]

    def link(self, name: str) -> Link | None:
        """The first link under ``name``."""
        found = self.links_named(name)
        return found[0] if found else None

    @property
    def download_links(self) -> list[Link]:
        """Where a delivered item can be fetched, best first.

        ``_links.download`` (one object or an array) when the item has it; otherwise the
        access API's documented ``…/api/v1/items/{id}/download``, on the host of the item's own
        access links (quicklook, thumbnail…): the archive guide's delivered item has no download
        link. ``dataAccess.packImages`` point at Airbus-internal hosts and are never usable.
        Archive (ALBUM) items cannot be downloaded: ``[]``.
        """
        found = [link for link in self.links_named("download") if link.href]
        if found or (self.properties.processing_level or "").upper() == "ALBUM":
            return found
        suffix = f"/api/v1/items/{self.id}/"
        for name in ACCESS_LINKS:
            for link in self.links_named(name):
                base, cut, _ = link.href.partition(suffix)
                if cut and base.startswith(("https://", "http://")):
                    return [Link(href=f"{base}{suffix}download", name=DOCUMENTED_DOWNLOAD)]
        return []

    @property
    def download_link(self) -> Link | None:
        links = self.download_links
        return links[0] if links else None

    @property
    def download_href(self) -> str | None:
        """The href of :attr:`download_link` (None when the item offers no usable link)."""
        link = self.download_link
        return link.href if link else None


class SearchPage(_Model):
    """One page of ``/api/v2/opensearch``."""

    type: str = "FeatureCollection"
    features: list[Feature] = Field(default_factory=list)
    total_results: int = Field(default=0, alias="totalResults")
    start_index: int = Field(default=0, alias="startIndex")
    items_per_page: int = Field(default=0, alias="itemsPerPage")
    error: bool = False


@dataclass(frozen=True, slots=True)
class SceneFeature:
    """A catalogue item as planning reads it: the properties scene selection and order bodies
    use, and the footprint. Parsed without pydantic (:func:`scene_page`): a plan reads tens of
    thousands of features and keeps few of them; :class:`Feature` keeps everything."""

    id: str
    geometry: dict[str, Any] | None
    acquisition_date: str | None = None
    acquisition_identifier: str | None = None
    archive_identifier: str | None = None
    source_identifier: str | None = None
    parent_identifier: str | None = None
    constellation: str | None = None
    platform: str | None = None
    cloud_cover: float | None = None
    snow_cover: float | None = None
    incidence_angle: float | None = None
    resolution: float | None = None
    processing_level: str | None = None


_SCENE_TEXT = (
    ("acquisition_date", "acquisitionDate"),
    ("acquisition_identifier", "acquisitionIdentifier"),
    ("archive_identifier", "archiveIdentifier"),
    ("source_identifier", "sourceIdentifier"),
    ("parent_identifier", "parentIdentifier"),
    ("constellation", "constellation"),
    ("platform", "platform"),
    ("processing_level", "processingLevel"),
)
_SCENE_NUMBERS = (
    ("cloud_cover", "cloudCover"),
    ("snow_cover", "snowCover"),
    ("incidence_angle", "incidenceAngle"),
    ("resolution", "resolution"),
)


def _text(value: Any, where: str) -> str | None:
    """A string field read as :class:`Feature` reads it (numbers become text)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{where}: Input should be a valid string")


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f"{where}: Input should be a valid number")


def scene_page(data: Any) -> tuple[list[SceneFeature], int]:
    """The features and ``totalResults`` of one raw ``/api/v2/opensearch`` page; ValueError
    naming the first field that is not what :class:`SearchPage` would accept."""
    if not isinstance(data, dict):
        raise ValueError("Input should be a valid dictionary")
    total = data.get("totalResults", 0)
    if isinstance(total, bool) or not isinstance(total, int):
        number = _number(total, "totalResults")
        if number is None or number != int(number):
            raise ValueError("totalResults: Input should be a valid integer")
        total = int(number)
    raw = data.get("features", [])
    if not isinstance(raw, list):
        raise ValueError("features: Input should be a valid list")
    return [_scene(entry, f"features.{n}") for n, entry in enumerate(raw)], total


def _scene(entry: Any, where: str) -> SceneFeature:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: Input should be a valid dictionary")
    props = entry.get("properties")
    if not isinstance(props, dict):
        raise ValueError(f"{where}.properties: Input should be a valid dictionary")
    geometry = entry.get("geometry")
    if geometry is not None and not isinstance(geometry, dict):
        raise ValueError(f"{where}.geometry: Input should be a valid dictionary")
    scene_id = _text(props.get("id"), f"{where}.properties.id")
    if scene_id is None:
        raise ValueError(f"{where}.properties.id: Field required")
    fields: dict[str, Any] = {
        name: _text(props.get(key), f"{where}.properties.{key}") for name, key in _SCENE_TEXT
    }
    for name, key in _SCENE_NUMBERS:
        fields[name] = _number(props.get(key), f"{where}.properties.{key}")
    return SceneFeature(id=scene_id, geometry=geometry, **fields)


# --------------------------------------------------------------------------- contract


class ContractDelivery(_Model):
    delivery_platform_id: str | None = Field(default=None, alias="deliveryPlatformId")
    delivery_workspace: str | None = Field(default=None, alias="deliveryWorkspace")


class Contract(_Model):
    """``GET /api/v1/contracts`` entry. ``creditRemaining`` is a string in Airbus's API."""

    contract_id: str = Field(alias="contractId")
    customer_id: str | None = Field(default=None, alias="customerId")
    name: str | None = None
    credit_remaining: str | None = Field(default=None, alias="creditRemaining")
    currency: str | None = None
    contract_type: str | None = Field(default=None, alias="contractType")
    backend_source: str | None = Field(default=None, alias="backendSource")
    delivery: list[ContractDelivery] = Field(default_factory=list)

    @field_validator("delivery", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, dict) else value

    @field_validator("credit_remaining", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @property
    def credit(self) -> Decimal | None:
        """``creditRemaining`` as a decimal amount (None when absent or unreadable)."""
        if self.credit_remaining is None:
            return None
        try:
            value = Decimal(self.credit_remaining)
        except ArithmeticError:
            return None
        return value if value.is_finite() else None

    @property
    def delivery_workspace(self) -> str | None:
        """The first delivery workspace (PNEO contracts)."""
        for entry in self.delivery:
            if entry.delivery_workspace:
                return entry.delivery_workspace
        return None


class ProductType(_Model):
    product_type_id: str = Field(alias="productTypeId")
    technical_product: dict[str, Any] | None = Field(default=None, alias="technicalProduct")
    minimum_order_area_applied: float | None = Field(
        default=None, alias="minimumOrderAreaApplied"
    )
    description_url: str | None = Field(default=None, alias="descriptionUrl")

    def _technical(self, key: str) -> str | None:
        part = (self.technical_product or {}).get(key)
        return part.get("id") if isinstance(part, dict) else None

    @property
    def source(self) -> str | None:
        """``archive`` or ``tasking``."""
        return self._technical("source")

    @property
    def sensor(self) -> str | None:
        return self._technical("sensor")


_CONDITION = re.compile(r"^\s*([\w.]+)\s*:\s*\(([^)]*)\)\s*$")


class OptionConstraint(_Model):
    """``{"condition": "processing_level:(ortho|projected)"}``."""

    condition: str | None = None

    def parsed(self) -> tuple[str, frozenset[str]] | None:
        """``("processing_level", {"ortho", "projected"})``; None when unparseable."""
        match = _CONDITION.match(self.condition or "")
        if not match:
            return None
        return match.group(1), frozenset(v.strip() for v in match.group(2).split("|"))

    def holds(self, selected: dict[str, str]) -> bool:
        """Whether the condition is met by the chosen ``selected`` options.

        An unparseable or empty condition holds; a condition on an unchosen key does not.
        """
        parsed = self.parsed()
        if parsed is None:
            return True
        key, allowed = parsed
        return selected.get(key) in allowed


class OptionValue(_Model):
    id: str
    label: str | None = None
    constraint: OptionConstraint | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


_AOI_SUFFIX = re.compile(r"^(.*)_(\d+)$")


class ProductionOption(_Model):
    """One entry of ``availableOptions``. ``mandatory`` is ``"true"``, ``"false"`` or
    ``"constraint"`` (mandatory when ``constraint`` holds). Names ending in ``_<n>`` (e.g.
    ``projection_1``) apply to AOI ``n``; their default depends on the AOI sent."""

    name: str
    label: str | None = None
    category: str | None = None
    mandatory: str = "false"
    default_value: str | None = Field(default=None, alias="defaultValue")
    constraint: OptionConstraint | None = None
    values: list[OptionValue] = Field(default_factory=list)
    type: str | None = None
    range: list[float] | None = None
    hidden: bool = False
    is_property: bool = Field(default=True, alias="property")

    @field_validator("mandatory", mode="before")
    @classmethod
    def _mandatory_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value).lower() if value is not None else "false"

    @field_validator("default_value", mode="before")
    @classmethod
    def _default_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @property
    def base_name(self) -> str:
        """``projection`` for ``projection_1``; the name itself otherwise."""
        match = _AOI_SUFFIX.match(self.name)
        return match.group(1) if match else self.name

    @property
    def aoi_id(self) -> int | None:
        """``1`` for ``projection_1``; None for options that are not per AOI."""
        match = _AOI_SUFFIX.match(self.name)
        return int(match.group(2)) if match else None

    @property
    def allowed_values(self) -> list[str]:
        return [value.id for value in self.values]

    def applies(self, selected: dict[str, str]) -> bool:
        """Whether the option may be sent given the other chosen options."""
        return self.constraint is None or self.constraint.holds(selected)

    def is_required(self, selected: dict[str, str]) -> bool:
        """Whether the option must be sent given the other chosen options."""
        if self.mandatory == "true":
            return True
        return self.mandatory == "constraint" and self.applies(selected)


class Market(_Model):
    id: str
    label: str | None = None
    secondary_market: list[Market] = Field(default_factory=list, alias="secondaryMarket")


class DeliveryType(_Model):
    delivery_type_id: str = Field(alias="deliveryTypeId")
    label: str | None = None


class MeContract(_Model):
    id: str | None = None
    name: str | None = None
    kind: str | None = None
    status: str | None = None
    workspace_id: str | None = Field(default=None, alias="workspaceId")
    workspace_name: str | None = Field(default=None, alias="workspaceName")
    balance: Decimal | None = None
    amount_unit: str | None = Field(default=None, alias="amountUnit")


class Me(_Model):
    """``GET data.api…/api/v1/me``: the legacy delivery workspace is ``contract.workspace_id``."""

    id: str | None = None
    status: str | None = None
    roles: list[Any] = Field(default_factory=list)
    contract: MeContract | None = None


# --------------------------------------------------------------------------- price / order


# Money is Decimal all the way: the client decodes these bodies with ``parse_float=Decimal``
# (see ``OneAtlasClient._json``), so an amount never passes through a binary float.


class PriceProductType(_Model):
    product_type_id: str | None = Field(default=None, alias="productTypeId")
    amount: Decimal | None = None
    price: Decimal | None = None
    area_km2: float | None = Field(default=None, alias="areaKm2")
    discount_percentage: Decimal | None = Field(default=None, alias="discountPercentage")
    discount_value: Decimal | None = Field(default=None, alias="discountValue")


class PriceResponse(_Model):
    contract_id: str | None = Field(default=None, alias="contractId")
    currency: str | None = None
    total_amount: Decimal = Field(alias="totalAmount")
    discount_percentage: Decimal | None = Field(default=None, alias="discountPercentage")
    discount_value: Decimal | None = Field(default=None, alias="discountValue")
    product_types: list[PriceProductType] = Field(default_factory=list, alias="productTypes")


class OrderResponse(_Model):
    """Order or quotation creation: ``salesOrderId`` (SPOT/PHR) or ``quotationId`` (PNEO)."""

    sales_order_id: str | None = Field(default=None, alias="salesOrderId")
    quotation_id: str | None = Field(default=None, alias="quotationId")
    currency: str | None = None
    total_amount: Decimal | None = Field(default=None, alias="totalAmount")
    discount_percentage: Decimal | None = Field(default=None, alias="discountPercentage")
    discount_value: Decimal | None = Field(default=None, alias="discountValue")

    @model_validator(mode="after")
    def _has_an_id(self) -> OrderResponse:
        if not self.sales_order_id and not self.quotation_id:
            raise ValueError("response has neither salesOrderId nor quotationId")
        return self


class OrderLine(_Model):
    """One line of ``POST /api/v2/orders/search`` (many more fields are kept as extra)."""

    contract_id: str | None = Field(default=None, alias="contractId")
    customer_reference: str | None = Field(default=None, alias="customerReference")
    quotation_id: str | None = Field(default=None, alias="quotationId")
    sales_order_id: str | None = Field(default=None, alias="salesOrderId")
    product_type: str | None = Field(default=None, alias="productType")
    status: str | None = None
    quotation_status: str | None = Field(default=None, alias="quotationStatus")
    order_line_amount: Decimal | None = Field(default=None, alias="orderLineAmount")
    currency: str | None = None
    delivery_workspace: str | None = Field(default=None, alias="deliveryWorkspace")
    order_item_id: str | None = Field(default=None, alias="orderItemId")
    order_line_id: str | None = Field(default=None, alias="orderLineId")
    last_status_change_date: str | None = Field(default=None, alias="lastStatusChangeDate")

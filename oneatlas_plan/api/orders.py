"""Pure builders of Pay-Per-Order bodies: prices/orders/quotations, options and order search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

PUBLIC_CATALOG_ID = "PublicMOC"
MAX_ITEMS_PER_ORDER = 5  # Airbus: at most 5 AOI/item pairs per order


class Aoi(BaseModel):
    """One ``aoi[]`` entry: ``id`` is what ``items[].aoiId`` and ``projection_<id>`` refer to."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    geometry: dict[str, Any]


class OrderItem(BaseModel):
    """One ``items[]`` entry. SPOT/Pléiades use ``datastrip_ids`` (``DS_…``); Pléiades Neo uses
    ``data_source_ids`` (catalogue item ids, sent as ``{catalogId, catalogItemId}``)."""

    model_config = ConfigDict(frozen=True)

    product_type_id: str
    aoi_id: int
    datastrip_ids: tuple[str, ...] = ()
    data_source_ids: tuple[str, ...] = ()
    catalog_id: str = PUBLIC_CATALOG_ID
    segment_key: str | None = None
    comments: str | None = None

    @model_validator(mode="after")
    def _identified(self) -> OrderItem:
        if not self.datastrip_ids and not self.data_source_ids:
            raise ValueError("an order item needs datastrip_ids or data_source_ids")
        return self


def email_notification(addresses: Sequence[str]) -> dict[str, Any]:
    """The per-item e-mail notification block of Airbus's archive sample."""
    return {
        "name": "",
        "channels": [{"parameters": {"addresses": list(addresses)}, "type": "email"}],
        "filter": {"events": []},
    }


class OrderRequest(BaseModel):
    """Everything a price, order or quotation body holds; :meth:`to_body` gives Airbus's shape.

    ``options`` maps a product type id to its ``{key: value}`` options (insertion order kept);
    ``notifications`` are copied into every item.
    """

    model_config = ConfigDict(frozen=True)

    contract_id: str
    aois: tuple[Aoi, ...]
    items: tuple[OrderItem, ...]
    primary_market: str
    customer_reference: str
    secondary_market: str = ""
    program_reference: str = ""
    order_group: str = ""
    options: Mapping[str, Mapping[str, str]] = Field(default_factory=dict)
    end_users: tuple[Mapping[str, str], ...] = ()
    delivery: Mapping[str, str] = Field(default_factory=lambda: {"type": "network"})
    notification_emails: tuple[str, ...] = ()
    notifications: tuple[Mapping[str, Any], ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> OrderRequest:
        aoi_ids = [aoi.id for aoi in self.aois]
        if len(set(aoi_ids)) != len(aoi_ids):
            raise ValueError("AOI ids must be unique")
        unknown = sorted({item.aoi_id for item in self.items} - set(aoi_ids))
        if unknown:
            raise ValueError(f"items refer to unknown AOI ids {unknown}")
        if not self.items:
            raise ValueError("an order needs at least one item")
        return self

    def to_body(self) -> dict[str, Any]:
        """The JSON body of ``POST /api/v1/prices``, ``/orders`` and ``/quotations``."""
        return {
            "aoi": [
                {"id": aoi.id, "name": aoi.name, "geometry": aoi.geometry} for aoi in self.aois
            ],
            "programReference": self.program_reference,
            "contractId": self.contract_id,
            "items": [self._item_body(item) for item in self.items],
            "primaryMarket": self.primary_market,
            "secondaryMarket": self.secondary_market,
            "customerReference": self.customer_reference,
            "optionsPerProductType": [
                {
                    "productTypeId": product_type,
                    "options": [{"key": k, "value": v} for k, v in options.items()],
                }
                for product_type, options in self.options.items()
            ],
            "orderGroup": self.order_group,
            "endUsers": [dict(user) for user in self.end_users],
            "delivery": dict(self.delivery),
            "notificationEmails": list(self.notification_emails),
        }

    def _item_body(self, item: OrderItem) -> dict[str, Any]:
        body: dict[str, Any] = {
            "notifications": [dict(n) for n in self.notifications],
            "stations": [],
            "productTypeId": item.product_type_id,
        }
        if item.data_source_ids:
            body["dataSourceIds"] = [
                {"catalogId": item.catalog_id, "catalogItemId": item_id}
                for item_id in item.data_source_ids
            ]
        if item.datastrip_ids:
            body["datastripIds"] = list(item.datastrip_ids)
        body["aoiId"] = item.aoi_id
        body["properties"] = []
        if item.segment_key is not None:
            body["segmentKey"] = item.segment_key
        if item.comments is not None:
            body["comments"] = item.comments
        return body


def options_body(aoi_geometry: Mapping[str, Any], polygon_id: int = 1) -> dict[str, Any]:
    """Body of ``POST /api/v1/contracts/{cid}/productTypes/{pt}/options``."""
    return {"aoi": [{"polygonId": polygon_id, "geometry": dict(aoi_geometry)}]}


_Q_SPECIAL = frozenset(' ()[]{}"*?:\\')


def _quote_term(value: str) -> str:
    """``value`` unchanged; refuse characters that would change the query's meaning."""
    bad = sorted(set(value) & _Q_SPECIAL)
    if bad or not value:
        raise ValueError(f"cannot search orders by {value!r}: characters {bad} are not allowed")
    return value


def orders_search_q(
    *,
    contract_id: str | None = None,
    customer_reference: str | None = None,
    quotation_id: str | None = None,
    quotation_status: str | None = None,
    status: str | None = None,
    source: str | None = "archive",
) -> str:
    """The Lucene-like ``criteria.q`` of ``/api/v2/orders/search`` (terms joined by AND)."""
    terms: list[str] = []
    if quotation_status:
        terms.append(f"(quotationStatus:{_quote_term(quotation_status)})")
    if quotation_id:
        terms.append(f"(cis.quotation:{_quote_term(quotation_id)})")
    if contract_id:
        terms.append(f"(contractId:{_quote_term(contract_id)})")
    if status:
        terms.append(f"(status:{_quote_term(status)})")
    if source:
        terms.append(f"(technicalProduct.source.id:{_quote_term(source)})")
    if customer_reference:
        terms.append(f"(customerReference:*{_quote_term(customer_reference)}*)")
    return " AND ".join(terms)


def orders_search_body(
    q: str, *, start_index: int = 0, items_per_page: int = 100
) -> dict[str, Any]:
    """Body of ``POST /api/v2/orders/search`` for one page."""
    return {
        "paging": {"itemsPerPage": items_per_page, "startIndex": start_index, "pagingMode": "item"},
        "criteria": {"q": q},
    }

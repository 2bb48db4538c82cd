"""Prices, orders, quotations (accept / refuse), order-line tracking and delivery scheduling."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from shapely.geometry import mapping

from .delivery import delivered_feature
from .errors import order_error
from .features import iso
from .lucene import QueryError, compile_query
from .search import Archive
from .store import Store
from .validation import ValidatedOrder, validate_order
from .world import CONTRACTS, Workspace, private_workspace

QUOTATION_VALIDITY_S = 30 * 86400.0


class OrderService:
    def __init__(
        self, store: Store, archive: Archive, clock: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self.store = store
        self.archive = archive

    # --- prices ------------------------------------------------------------------------------

    def price(self, body: Any, price_factor: float = 1.0) -> dict[str, Any]:
        order = validate_order(body, self.archive)
        product_types: dict[str, dict[str, Any]] = {}
        for line in order.lines:
            entry = product_types.setdefault(
                line.product_type.id,
                {
                    "amount": 0.0,
                    "areaKm2": 0.0,
                    "discountPercentage": 0.0,
                    "discountValue": 0.0,
                    "price": 0.0,
                    "productTypeId": line.product_type.id,
                    "items": [],
                },
            )
            entry["amount"] = round(entry["amount"] + line.amount, 2)
            entry["price"] = entry["amount"]
            entry["areaKm2"] = round(entry["areaKm2"] + line.billable_km2, 4)
            entry["items"].append({"datastripIds": [line.datastrip] if line.datastrip else []})
        return {
            "contractId": order.contract.id,
            "currency": "EUR",
            "discountPercentage": 0.0,
            "discountValue": 0.0,
            "productTypes": list(product_types.values()),
            "totalAmount": round(order.total * price_factor, 2),
        }

    # --- orders and quotations ---------------------------------------------------------------

    def validate(self, body: Any, endpoint: str) -> ValidatedOrder:
        order = validate_order(body, self.archive)
        if endpoint == "quotations" and order.contract.backend != "neo":
            raise order_error(
                400,
                "E4001",
                "Quotations are only available for Pléiades Neo "
                f"contracts (contract '{order.contract.id}' is legacy)",
            )
        delivery_workspace(order.body)  # an unknown workspace is refused before any commit
        return order

    def commit(
        self,
        order: ValidatedOrder,
        endpoint: str,
        delivery_delay_s: float,
        *,
        reference_limit: int = 0,
        price_factor: float = 1.0,
    ) -> dict[str, Any]:
        """Record the order (the point of no return) and return the 201 body.

        A Pléiades Neo body becomes a quotation on ``/orders`` as on ``/quotations`` (Airbus's
        OpenAPI documents ``quotationId`` as the PleiadesNeo answer of ``POST /orders``).
        ``reference_limit`` > 0 keeps only that many characters of the customerReference."""
        now = self._clock()
        total = round(order.total * price_factor, 2)
        neo = order.contract.backend == "neo"
        reference = str(order.body.get("customerReference", ""))
        if reference_limit > 0:
            reference = reference[:reference_limit]
        row: dict[str, Any] = {
            "endpoint": endpoint,
            "received_at": now,
            "contract_id": order.contract.id,
            "backend": order.contract.backend,
            "customer_reference": reference,
            "sales_order_id": None if neo else self._next_id("SAL"),
            "quotation_id": self._next_id("QUO") if neo else None,
            "quotation_status": "SENT" if neo else None,
            "status": "PENDING" if neo else "IN_PROGRESS",
            "total_amount": total,
            "currency": "EUR",
            "body": order.body,
            "lines": [_line_record(line) for line in order.lines],
            "accepted_at": None if neo else now,
            "updated_at": now,
        }
        seq = self.store.insert_order(row)
        if not neo:
            self._schedule(seq, row, now + delivery_delay_s)
        ident = (
            {"quotationId": row["quotation_id"]} if neo else {"salesOrderId": row["sales_order_id"]}
        )
        return {
            **ident,
            "currency": "EUR",
            "discountPercentage": 0.0,
            "discountValue": 0.0,
            "totalAmount": total,
        }

    def decide(
        self, contract_id: str, quotation_id: str, accept: bool, delivery_delay_s: float
    ) -> dict[str, Any]:
        if contract_id not in CONTRACTS:
            raise order_error(404, "E2203", f"CIS contract '{contract_id}' not found.")
        order = self.store.order_by_quotation(quotation_id)
        if order is None or order["contract_id"] != contract_id:
            raise order_error(404, "E2205", f"Quotation '{quotation_id}' not found.")
        if order["quotation_status"] != "SENT":
            raise order_error(
                400, "E4008", f"Quotation '{quotation_id}' is {order['quotation_status']}, not SENT"
            )
        now = self._clock()
        if now > order["received_at"] + QUOTATION_VALIDITY_S:
            raise order_error(400, "E4009", f"Quotation '{quotation_id}' has expired")
        if not accept:
            self.store.update_order(
                order["seq"], quotation_status="REFUSED", status="CANCELLED", updated_at=now
            )
            return {"quotationId": quotation_id, "quotationStatus": "REFUSED"}
        sales_order_id = self._next_id("SAL")
        self.store.update_order(
            order["seq"],
            quotation_status="ACCEPTED",
            status="IN_PROGRESS",
            sales_order_id=sales_order_id,
            accepted_at=now,
            updated_at=now,
        )
        order.update(sales_order_id=sales_order_id)
        self._schedule(order["seq"], order, now + delivery_delay_s)
        return {
            "quotationId": quotation_id,
            "quotationStatus": "ACCEPTED",
            "salesOrderId": sales_order_id,
        }

    def _next_id(self, prefix: str) -> str:
        number = self.store.next_number(prefix)
        return f"{prefix}{dt.datetime.now(dt.UTC).year % 100:02d}{number:06d}"

    def _schedule(self, seq: int, row: dict[str, Any], ready_at: float) -> None:
        """Create one delivered item per ordered line, visible from ``ready_at``."""
        contract = CONTRACTS[row["contract_id"]]
        workspace = delivery_workspace(row["body"]) or contract.delivery
        order = validate_order(row["body"], self.archive)
        for number, line in enumerate(order.lines, start=1):
            source = self.archive.feature_by_id(line.item_id, "")
            if source is None:
                continue
            feature = delivered_feature(
                contract=contract,
                line=line,
                line_no=number,
                sales_order_id=row["sales_order_id"],
                customer_reference=row["customer_reference"],
                source=source,
                produced_at=ready_at,
                workspace=workspace,
            )
            self.store.insert_delivery(
                feature["properties"]["id"], seq, workspace.id, ready_at, feature
            )

    # --- tracking ----------------------------------------------------------------------------

    def order_lines(self) -> list[dict[str, Any]]:
        now = self._clock()
        out = []
        for order in reversed(self.store.orders()):
            deliveries = self.store.deliveries_of(order["seq"])
            delivered = bool(deliveries) and all(d["ready_at"] <= now for d in deliveries)
            for number, line in enumerate(order["lines"], start=1):
                out.append(_order_line(order, line, number, delivered))
        return out

    def search_lines(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise order_error(400, "E4000", "Request body must be a JSON object")
        paging = body.get("paging") or {}
        criteria = body.get("criteria") or {}
        try:
            per_page = int(paging.get("itemsPerPage", 25))
            start = int(paging.get("startIndex", 0))
            predicate = compile_query(criteria.get("q"))
        except (TypeError, ValueError, QueryError) as exc:
            raise order_error(400, "E4000", f"Invalid orders search: {exc}") from exc
        if per_page < 1 or start < 0:
            raise order_error(400, "E4000", "Invalid paging")
        lines = [line for line in self.order_lines() if predicate(line)]
        return {
            "paging": {
                "itemsPerPage": per_page,
                "startIndex": start,
                "pagingMode": paging.get("pagingMode", "item"),
                "totalResults": len(lines),
            },
            "features": lines[start : start + per_page],
        }


def delivery_workspace(body: Any) -> Workspace | None:
    """The private workspace named by ``delivery.workspace`` (None: the contract's); an unknown
    one is refused as Airbus documents it (400 E2203 "Unable to access workspace")."""
    delivery = body.get("delivery") if isinstance(body, dict) else None
    key = delivery.get("workspace") if isinstance(delivery, dict) else None
    if key is None or key == "":
        return None
    workspace = private_workspace(str(key))
    if workspace is None:
        raise order_error(400, "E2203", f"Unable to access workspace '{key}'")
    return workspace


def _line_record(line: Any) -> dict[str, Any]:
    return {
        "aoiId": line.aoi_id,
        "aoiName": line.aoi_name,
        "aoi": mapping(line.aoi),
        "productTypeId": line.product_type.id,
        "itemId": line.item_id,
        "datastrip": line.datastrip,
        "requestedArea": line.requested_km2,
        "priceCalculationArea": line.billable_km2,
        "amount": line.amount,
        "options": line.options,
        "minimum": line.product_type.minimum_area_km2,
    }


def _order_line(
    order: dict[str, Any], line: dict[str, Any], number: int, delivered: bool
) -> dict[str, Any]:
    contract = CONTRACTS[order["contract_id"]]
    opts = line["options"]
    status = order["status"]
    if status == "IN_PROGRESS" and delivered:
        status = "DELIVERED"
    body = order["body"]
    end_users = body.get("endUsers") or [{}]
    country = (end_users[0] or {}).get("country") if isinstance(end_users[0], dict) else None
    created = order["received_at"]
    return {
        "contractId": order["contract_id"],
        "customerReference": order["customer_reference"],
        "quotationId": order["quotation_id"],
        "salesOrderId": order["sales_order_id"],
        "program": body.get("programReference", ""),
        "productType": line["productTypeId"],
        "licence": opts.get("licence", "standard"),
        "aoi": {"name": line["aoiName"], "geometry": line["aoi"]},
        "mission": "pleiadesneo"
        if contract.backend == "neo"
        else ("spot" if line["productTypeId"].startswith("SPOT") else "pleiades"),
        "source": "archive",
        "target": "mono",
        "status": status,
        "comment": "",
        "processingLevel": opts.get("processing_level", "primary"),
        "spectralProcessing": opts.get("spectral_processing"),
        "productFormat": opts.get("image_format", "dimap_jpeg2000_regular"),
        "pixelCoding": opts.get("pixel_coding", "12bits"),
        "radiometricProcessing": opts.get("radiometric_processing", "basic"),
        "priority": opts.get("priority", "standard"),
        "deliveryMethod": opts.get("delivery_method", "on_the_flow"),
        "deliveryAddress": "SANDBOX",
        "endUser": {"endUserCountryId": country},
        "quotationStatus": order["quotation_status"],
        "quotationCreationDate": iso(created) if order["quotation_id"] else None,
        "orderCreationDate": iso(order["accepted_at"]) if order["accepted_at"] else None,
        "orderLineAmount": line["amount"],
        "orderLineAmountWithoutDiscount": line["amount"],
        "orderLineAmountDiscountPct": 0,
        "orderLineAmountWithDiscount": line["amount"],
        "currency": order["currency"],
        "priceCalculationArea": line["priceCalculationArea"],
        "orderMinimumApplied": line["requestedArea"] < line["minimum"],
        "requestedArea": line["requestedArea"],
        "producedArea": line["requestedArea"] if status == "DELIVERED" else 0,
        "producedAreaPct": 100 if status == "DELIVERED" else 0,
        "customerId": contract.customer_id,
        "customerName": "Sandbox customer",
        "contact": "sandbox@example.invalid",
        "deliveryType": "network",
        "deliveryPlatformId": "PublicMOC",
        "deliveryWorkspace": (delivery_workspace(body) or contract.delivery).id,
        "projectionCode": opts.get(f"projection_{line['aoiId']}"),
        "quotationEndOfValidityDate": iso(created + QUOTATION_VALIDITY_S),
        "cancelationDeadlineDate": iso(created + 86400.0),
        "orderItemId": f"WOI_{order['seq']:09d}_{number}",
        "orderLineId": number,
        "lastStatusChangeDate": iso(order["updated_at"]),
        "orderCreator": "sandbox",
        "productionRoute": "SANDBOX",
        "quotationVersion": 1,
        "orderLineDescription": f"{line['productTypeId']} {line['priceCalculationArea']} km2",
        "datastripIds": [line["datastrip"]] if line["datastrip"] else [],
        "catalogItemId": line["itemId"],
    }

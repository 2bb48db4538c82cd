"""Builders of state records for the tests (imported as a plain module)."""

from __future__ import annotations

from typing import Any

from oneatlas_plan.state.model import OrderRecord, ResourceRecord


def make_order(key: str = "k1", status: str = "ordered", **fields: Any) -> OrderRecord:
    values: dict[str, Any] = {
        "order_key": key,
        "customer_reference": f"oneatlas-plan:{key}",
        "body_digest": f"sha256:{key}",
        "status": status,
        "submitted_at": "2026-11-23T20:00:00Z",
    }
    return OrderRecord(**(values | fields))


def make_record(address: str = "spec.order.aoi", *orders: OrderRecord) -> ResourceRecord:
    return ResourceRecord(
        address=address,
        config_digest="sha256:config",
        spec_file="specs/a.yaml",
        orders=list(orders) or [make_order()],
    )

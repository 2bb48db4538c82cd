"""Explicit, one-step-at-a-time migrations of older state formats (plain dicts in and out).

Format history:

* **v1** (oneatlas-plan 0.0.x): a flat top-level ``orders`` list, one entry per order and
  address (a reorder appended a new entry for the same address; an Airbus order shared by
  several addresses appeared once per address). Statuses were upper-case words
  (``SUBMITTED``, ``CONFIRMED``, ``QUOTED``, ``FAILED``, ``UNKNOWN``), the price an object
  ``{"amount": <float>, "currency": ...}``, scenes a list of ids, and times were
  ``submitted``/``completed``::

      {"version": 1, "lineage": "...", "serial": 3, "orders": [
        {"address": "s.o.aoi", "config_digest": "...", "spec_file": "s.yaml",
         "order_key": "...", "customer_reference": "...", "body_digest": "...",
         "state": "CONFIRMED", "sales_order_id": "...", "quotation_id": null,
         "price": {"amount": 512.5, "currency": "EUR"}, "scene_ids": ["..."],
         "submitted": "...Z", "completed": "...Z", "error": null}]}

* **v2**: ``resources`` keyed by address, each with its order history.

* **v3**: order records may carry ``delivery_workspace``, ``accept_up_to``,
  ``accept_sent_at`` and ``not_found_checks`` (see :mod:`oneatlas_plan.state.model`); a v2
  file gets none of them (their defaults), and an older tool refuses a v3 file by its version
  rather than by an unknown field.

* **v4** (current): ``retired``, the orders of resources that left the state (their spend
  still counts); a v3 file had none (its forgotten orders are lost to it).

Reading never rewrites the file: the migrated state is written by the next change.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from oneatlas_plan.errors import StateError
from oneatlas_plan.state.model import RECORD_STATUS, STATE_VERSION

V1_STATUS = {
    "SUBMITTED": "pending",
    "CONFIRMED": "ordered",
    "QUOTED": "quoted",
    "FAILED": "rejected",
    "UNKNOWN": "unknown",
}


def _v1_order(entry: dict[str, Any], addresses: list[str]) -> dict[str, Any]:
    v1_status = entry.get("state")
    if v1_status not in V1_STATUS:
        raise StateError(
            f"orders entry for {entry.get('address')!r}: unknown v1 state {v1_status!r} "
            f"(expected one of {', '.join(V1_STATUS)})"
        )
    price = entry.get("price") or {}
    amount = price.get("amount")
    return {
        "order_key": entry["order_key"],
        "customer_reference": entry["customer_reference"],
        "body_digest": entry["body_digest"],
        "status": V1_STATUS[v1_status],
        "submitted_at": entry.get("submitted"),
        "outcome_at": entry.get("completed"),
        "sales_order_id": entry.get("sales_order_id"),
        "quotation_id": entry.get("quotation_id"),
        # repr() keeps the shortest exact decimal form of the float: 512.5 -> "512.5"
        "amount": None if amount is None else str(Decimal(repr(amount))),
        "currency": price.get("currency"),
        "scenes": [{"id": scene_id} for scene_id in entry.get("scene_ids", [])],
        "addresses": addresses,
        "message": entry.get("error"),
    }


def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    entries = data.get("orders")
    if not isinstance(entries, list):
        raise StateError("v1 state has no 'orders' list")
    sharing: dict[str, list[str]] = {}
    for entry in entries:
        addresses = sharing.setdefault(entry["order_key"], [])
        if entry["address"] not in addresses:
            addresses.append(entry["address"])
    resources: dict[str, dict[str, Any]] = {}
    for entry in entries:  # file order is history order
        address = entry["address"]
        order = _v1_order(entry, sharing[entry["order_key"]])
        record = resources.setdefault(
            address,
            {"address": address, "orders": []},
        )
        record["config_digest"] = entry["config_digest"]  # the latest entry's config wins
        record["spec_file"] = entry.get("spec_file")
        record["orders"].append(order)
        record["status"] = RECORD_STATUS[order["status"]]
    return {
        "version": 2,
        "lineage": data["lineage"],
        "serial": data["serial"],
        "resources": resources,
    }


def v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Only the version moves: every field v3 adds has a default meaning "not known"."""
    if not isinstance(data.get("resources"), dict):
        raise StateError("v2 state has no 'resources' object")
    return {**data, "version": 3}


def v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    """Only the version moves and ``retired`` starts empty (a PostgreSQL state of format 3
    read through schema 3 already brings its rows)."""
    if not isinstance(data.get("resources"), dict):
        raise StateError("v3 state has no 'resources' object")
    return {**data, "version": 4, "retired": data.get("retired", [])}


# version N -> the function turning an N dict into an N+1 dict
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: v1_to_v2, 2: v2_to_v3, 3: v3_to_v4
}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a parsed state dict of any known version to :data:`STATE_VERSION`.

    Raises :class:`StateError` for a missing, unknown or future version, or a broken v1 file.
    """
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise StateError(f"not a state file: 'version' is {version!r}, expected an integer")
    if version > STATE_VERSION:
        raise StateError(
            f"state format version {version} was written by a newer oneatlas-plan; this "
            f"version reads formats 1 to {STATE_VERSION}: upgrade oneatlas-plan"
        )
    if version < 1:
        raise StateError(f"unknown state format version {version}")
    while version < STATE_VERSION:
        try:
            data = MIGRATIONS[version](data)
        except (KeyError, TypeError, AttributeError) as error:
            raise StateError(
                f"cannot migrate state format version {version} to {version + 1}: "
                f"malformed data ({type(error).__name__}: {error})"
            ) from error
        version = data["version"]
    return data

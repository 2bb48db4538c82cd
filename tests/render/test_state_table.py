from __future__ import annotations

from decimal import Decimal
from textwrap import dedent

from oneatlas_plan.render.state_table import render_resource, render_state_table, state_list_json
from oneatlas_plan.state.model import (
    Delivery,
    Download,
    OrderRecord,
    ResourceRecord,
    SceneRef,
    State,
)


def _order(key: str, status: str, **fields: object) -> OrderRecord:
    return OrderRecord.model_validate(
        {
            "order_key": key,
            "customer_reference": f"oneatlas-plan:{key}",
            "body_digest": f"sha256:{key}",
            "status": status,
            "submitted_at": "2026-11-23T20:00:00Z",
        }
        | fields
    )


def _state() -> State:
    shared = _order(
        "k2",
        "ordered",
        sales_order_id="SO-2",
        amount=Decimal("1234.5"),
        currency="EUR",
        addresses=["paris.louvre", "paris.orsay"],
        production_status="delivered",
        deliveries=[
            Delivery(item_id="i1", download_href="https://data/i1"),
            Delivery(item_id="i2"),
        ],
        downloads=[Download(path="out/i1.zip", md5="ab", size=10, at="2026-11-24T00:00:00Z")],
        scenes=[SceneRef(id="scene-2", platform="PHR1A", acquisition_date="2025-01-01")],
    )
    return State(
        lineage="5f0c3c1e-8d3a-4b8e-9a51-0c2f4b7d9e10",
        serial=7,
        resources={
            "paris.louvre": ResourceRecord(
                address="paris.louvre",
                config_digest="sha256:c1",
                spec_file="specs/paris.yaml",
                orders=[_order("k1", "rejected", message="not orderable"), shared],
            ),
            "paris.orsay": ResourceRecord(
                address="paris.orsay", config_digest="sha256:c2", orders=[shared]
            ),
            "lyon.centre": ResourceRecord(
                address="lyon.centre",
                config_digest="sha256:c3",
                orders=[_order("k3", "unknown", amount=Decimal(300), currency="EUR")],
            ),
            "nice.port": ResourceRecord(
                address="nice.port",
                config_digest="sha256:c4",
                orders=[
                    _order("k4", "quoted", quotation_id="Q-4", amount=Decimal(99), currency="USD")
                ],
            ),
        },
    )


def test_state_table() -> None:
    assert render_state_table(_state()) == dedent(
        """\
        ADDRESS       #  STATUS              ORDER ID       AMOUNT          SUBMITTED             DELIVERED  DOWNLOADED
        lyon.centre   1  unknown             -              EUR 300.00      2026-11-23T20:00:00Z  -          -
        nice.port     1  quoted              quotation Q-4  USD 99.00       2026-11-23T20:00:00Z  -          -
        paris.louvre  1  rejected            -              -               2026-11-23T20:00:00Z  -          -
        paris.louvre  2  ordered, delivered  SO-2           EUR 1,234.50 *  2026-11-23T20:00:00Z  2          1/2
        paris.orsay   1  ordered, delivered  SO-2           EUR 1,234.50 *  2026-11-23T20:00:00Z  2          1/2

        State 5f0c3c1e-8d3a-4b8e-9a51-0c2f4b7d9e10, serial 7: 4 resources, 4 orders.
        Spent: EUR 1,234.50 (orders placed; each Airbus order once).
        Quoted, awaiting acceptance: USD 99.00 (1 quotation; `oneatlas-plan quotations list`).
        Arrived: 2 items delivered, 1 downloaded (10 bytes).
        Unsettled: 1 order pending or of unknown outcome (up to EUR 300.00); reconcile with Airbus, or settle with `oneatlas-plan state resolve`.
        * one Airbus order shared by several resources (its full amount shown).
        """  # noqa: E501
    )


def test_accepted_quotation_shows_both_ids_and_counts_as_spent() -> None:
    accepted = _order(
        "k5",
        "accepted",
        quotation_id="QUO1",
        sales_order_id="SAL1",
        amount=Decimal("979.72"),
        currency="EUR",
        production_status="in_production",
    )
    state = State(
        lineage="l",
        serial=1,
        resources={"neo.a": ResourceRecord(address="neo.a", config_digest="d", orders=[accepted])},
    )
    text = render_state_table(state)
    assert "accepted, in production  SAL1 (QUO1)  EUR 979.72" in text
    assert "Spent: EUR 979.72" in text
    data = state_list_json(state)
    assert data["spent"] == {"EUR": "979.72"}
    assert data["quoted"] == {"orders": 0, "amounts": {}}
    assert data["arrived"] == {"delivered_items": 0, "downloaded_files": 0, "downloaded_bytes": 0}


def test_empty_state_table() -> None:
    state = State(lineage="l", serial=0)
    assert render_state_table(state) == "State l, serial 0: no resources.\n"


def test_state_list_json() -> None:
    data = state_list_json(_state())
    assert data["spent"] == {"EUR": "1234.5"}
    assert data["unsettled"] == {"orders": 1, "up_to": {"EUR": "300"}}
    assert data["quoted"] == {"orders": 1, "amounts": {"USD": "99"}}
    assert data["arrived"] == {"delivered_items": 2, "downloaded_files": 1, "downloaded_bytes": 10}
    assert [(r["address"], r["order"], r["current"]) for r in data["orders"]] == [
        ("lyon.centre", 1, True),
        ("nice.port", 1, True),
        ("paris.louvre", 1, False),
        ("paris.louvre", 2, True),
        ("paris.orsay", 1, True),
    ]
    louvre = data["orders"][3]
    assert louvre["delivered_items"] == 2
    assert louvre["downloaded"] == 1
    assert louvre["shared_with"] == ["paris.orsay"]


def test_render_resource() -> None:
    text = render_resource(_state().resources["paris.louvre"])
    assert text.startswith(
        "paris.louvre:\n  status: ordered\n  config digest: sha256:c1\n"
        "  spec file: specs/paris.yaml\n"
        "  order 1/2:\n    status: rejected\n"
    )
    assert "    message: not orderable\n" in text
    assert "  order 2/2 (current):\n" in text
    assert "    amount: EUR 1,234.50\n" in text
    assert "    shared with: paris.louvre, paris.orsay\n" in text
    assert "    scenes:\n      - scene-2 (PHR1A, 2025-01-01)\n" in text
    assert "    deliveries:\n      - i1 https://data/i1\n      - i2\n" in text
    assert "      - out/i1.zip (10 bytes, md5 ab, 2026-11-24T00:00:00Z)\n" in text


def test_render_resource_without_orders() -> None:
    record = ResourceRecord(address="a", config_digest="d")
    assert render_resource(record).endswith("  no order submitted\n")

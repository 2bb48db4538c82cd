"""Money is read from Airbus's JSON straight into Decimal, never through a binary float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from werkzeug.wrappers import Response

from oneatlas_plan.api.models import Contract

from .conftest import FakeOneAtlas

FAST = {"limits": {"ordering_rps": 200, "search_rps": 1000, "search_concurrency": 4,
                   "ban_seconds": 3}}


def _raw(text: str, status: int = 200) -> Response:
    return Response(text, status=status, content_type="application/json")


@pytest.fixture(autouse=True)
def _fast_limits(fake: FakeOneAtlas) -> None:
    fake.config = dict(FAST)


def test_price_amounts_are_exact_decimals(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.script("POST", "/api/v1/prices", _raw(
        '{"contractId": "C1", "currency": "EUR", "discountPercentage": 0, "discountValue": 0.1,'
        ' "productTypes": [{"productTypeId": "P", "amount": 0.1, "price": 0.1, "areaKm2": 25},'
        '                  {"productTypeId": "P", "amount": 0.2, "price": 0.2, "areaKm2": 25}],'
        ' "totalAmount": 12345678901234567.89}'
    ))
    price = make_client().price({"contractId": "C1", "customerReference": "r"})
    assert price.total_amount == Decimal("12345678901234567.89")  # a float keeps ...567.9 at best
    amounts = [pt.amount for pt in price.product_types]
    assert all(isinstance(a, Decimal) for a in amounts)
    assert sum(a for a in amounts if a is not None) == Decimal("0.3")  # 0.1 + 0.2, exactly
    assert price.discount_value == Decimal("0.1")


def test_order_quotation_and_order_line_amounts(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.script("POST", "/api/v1/orders", _raw(
        '{"salesOrderId": "SAL1", "currency": "EUR", "totalAmount": 0.30000000000000004}', 201))
    fake.script("POST", "/api/v1/quotations", _raw(
        '{"quotationId": "QUO1", "currency": "EUR", "totalAmount": 7600.10}', 201))
    fake.script("POST", "/api/v2/orders/search", _raw(
        '{"paging": {"totalResults": 1}, "features": [{"quotationId": "QUO1",'
        ' "orderLineAmount": 1e-2, "aoi": {"geometry": {"coordinates": [[0.5, 1.5]]}}}]}'))
    client = make_client()
    order = client.order({"customerReference": "r1"})
    assert order.total_amount == Decimal("0.30000000000000004")
    assert client.quotation({"customerReference": "r2"}).total_amount == Decimal("7600.10")
    [line] = client.search_orders("(cis.quotation:QUO1)")
    assert line.order_line_amount == Decimal("0.01")


def test_search_geometry_stays_float(fake: FakeOneAtlas, make_client: Any) -> None:
    """Only money endpoints decode to Decimal: footprints stay plain JSON numbers."""
    fake.catalogue = [{"type": "Feature", "properties": {"id": "a", "cloudCover": 1.5,
                                                         "acquisitionDate": "2022-01-01"},
                       "geometry": {"type": "Polygon",
                                    "coordinates": [[[0.5, 0], [1, 0], [1, 1], [0.5, 0]]]}}]
    from oneatlas_plan.api.query import SearchQuery

    [feature] = make_client().search(SearchQuery())
    assert feature.geometry is not None
    assert type(feature.geometry["coordinates"][0][0][0]) is float


def test_contract_credit_is_decimal() -> None:
    contract = Contract.model_validate({"contractId": "c", "creditRemaining": "150.10"})
    assert contract.credit == Decimal("150.10")
    assert Contract.model_validate({"contractId": "c", "creditRemaining": "n/a"}).credit is None
    assert Contract.model_validate({"contractId": "c", "creditRemaining": "NaN"}).credit is None

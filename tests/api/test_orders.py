from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from oneatlas_plan.api.orders import (
    Aoi,
    OrderItem,
    OrderRequest,
    email_notification,
    options_body,
    orders_search_body,
    orders_search_q,
)

from .conftest import reference_json


def seed_request() -> OrderRequest:
    sample = reference_json("order-request-pleiades-archive.json")
    return OrderRequest(
        contract_id="Test_E2E_BR_1392-1375",
        aois=(Aoi(id=1, name="Polygon 1", geometry=sample["aoi"][0]["geometry"]),),
        items=(OrderItem(
            product_type_id="PleiadesArchiveMono",
            aoi_id=1,
            datastrip_ids=("DS_PHR1A_202212111112398_FR1_PX_E001N43_0615_01665",),
            data_source_ids=("bd6ce7ac-403c-4a9c-8833-9a6001bd664d",),
            segment_key="bd6ce7ac-403c-4a9c-8833-9a6001bd664d",
        ),),
        primary_market="NQUAL",
        secondary_market="",
        customer_reference="Polygon 1",
        program_reference="",
        order_group="",
        options={"PleiadesArchiveMono": {
            "spectral_processing": "pansharpened_natural_color",
            "radiometric_processing": "basic",
            "image_format": "dimap_jpeg2000_regular",
            "pixel_coding": "12bits",
            "processing_level": "primary",
            "priority": "standard",
            "licence": "standard",
        }},
        end_users=({},),
        delivery={"type": "network", "workspace": "1a7aaef1-839e-4eaa-826c-aabee39eac85",
                  "platformId": "PublicMOC"},
        notification_emails=("john.doe@company.com",),
        notifications=(email_notification(["john.doe@company.com"]),),
    )


def _paths(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        found = {prefix}
        for key, child in value.items():
            found |= _paths(child, f"{prefix}.{key}")
        return found
    if isinstance(value, list):
        found = {prefix}
        for index, child in enumerate(value):
            found |= _paths(child, f"{prefix}[{index}]")
        return found
    return {prefix}


def test_body_equals_the_seed_sample_key_for_key() -> None:
    sample = reference_json("order-request-pleiades-archive.json")
    body = seed_request().to_body()
    assert _paths(body) == _paths(sample)
    assert body == sample
    assert list(body) == list(sample)  # same key order as Airbus's sample


def test_neo_item_uses_data_source_ids_only() -> None:
    item = OrderItem(product_type_id="PleiadesNeoArchiveMono", aoi_id=1, data_source_ids=("u1",))
    request = seed_request().model_copy(update={"items": (item,), "notifications": ()})
    body = request.to_body()["items"][0]
    assert body == {
        "notifications": [], "stations": [], "productTypeId": "PleiadesNeoArchiveMono",
        "dataSourceIds": [{"catalogId": "PublicMOC", "catalogItemId": "u1"}],
        "aoiId": 1, "properties": [],
    }


def test_builder_refuses_inconsistent_orders() -> None:
    aoi = Aoi(id=1, name="a", geometry={})
    with pytest.raises(ValidationError):
        OrderItem(product_type_id="P", aoi_id=1)
    with pytest.raises(ValidationError, match="unknown AOI"):
        OrderRequest(contract_id="c", aois=(aoi,), primary_market="AGRI", customer_reference="r",
                     items=(OrderItem(product_type_id="P", aoi_id=2, datastrip_ids=("DS",)),))
    with pytest.raises(ValidationError, match="unique"):
        OrderRequest(contract_id="c", aois=(aoi, aoi), primary_market="AGRI",
                     customer_reference="r",
                     items=(OrderItem(product_type_id="P", aoi_id=1, datastrip_ids=("DS",)),))


def test_defaults_give_a_complete_minimal_body() -> None:
    request = OrderRequest(
        contract_id="c", aois=(Aoi(id=1, name="a", geometry={}),), primary_market="AGRI",
        customer_reference="r",
        items=(OrderItem(product_type_id="P", aoi_id=1, datastrip_ids=("DS",)),),
    )
    body = request.to_body()
    assert body["delivery"] == {"type": "network"}
    assert body["endUsers"] == [] and body["notificationEmails"] == []
    assert body["optionsPerProductType"] == []
    assert body["secondaryMarket"] == "" and body["orderGroup"] == ""


def test_options_and_order_search_bodies() -> None:
    geometry = {"type": "Polygon", "coordinates": []}
    assert options_body(geometry) == {"aoi": [{"polygonId": 1, "geometry": geometry}]}
    q = orders_search_q(contract_id="CTR21000411", customer_reference="op-7f3a",
                        quotation_status="SENT")
    assert q == ("(quotationStatus:SENT) AND (contractId:CTR21000411) AND "
                 "(technicalProduct.source.id:archive) AND (customerReference:*op-7f3a*)")
    assert orders_search_body(q, start_index=25, items_per_page=25) == {
        "paging": {"itemsPerPage": 25, "startIndex": 25, "pagingMode": "item"},
        "criteria": {"q": q},
    }
    with pytest.raises(ValueError, match="not allowed"):
        orders_search_q(customer_reference="a) OR (x:y")

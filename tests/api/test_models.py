from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from oneatlas_plan.api.models import (
    Contract,
    Feature,
    Market,
    Me,
    OrderLine,
    OrderResponse,
    PriceResponse,
    ProductionOption,
    ProductType,
    SearchPage,
    Token,
    scene_page,
)

from .conftest import reference_json


def test_captured_phr_album_response_parses_and_keeps_unknown_fields() -> None:
    raw = reference_json("search-response-phr-album-captured.json")
    page = SearchPage.model_validate(raw)
    assert page.total_results == 482 and len(page.features) == len(raw["features"])
    feature = page.features[0]
    assert feature.id == raw["features"][0]["properties"]["id"]
    assert feature.properties.processing_level == "ALBUM"
    dumped = feature.model_dump(by_alias=True, exclude_none=True)
    assert dumped["properties"] == raw["features"][0]["properties"]
    assert dumped["_links"] == raw["features"][0]["_links"]
    assert feature.link("quicklook") is not None


def test_spot_album_feature_single_object_links() -> None:
    feature = Feature.model_validate(reference_json("search-feature-spot-album.json"))
    assert feature.datastrip_id == "DS_SPOT7_202212160750554_FR1_FR1_FR1_FR1_E031S05_01871"
    assert feature.properties.constellation == "SPOT"
    assert len(feature.links_named("imagesGetBuffer")) == 1
    assert feature.model_extra is not None and "dataAccess" in feature.model_extra
    assert feature.properties.model_extra is not None
    assert "geometryCentroid" in feature.properties.model_extra


def test_delivered_response_array_links() -> None:
    page = SearchPage.model_validate(
        reference_json("search-response-private-workspace-delivered.json"))
    feature = page.features[0]
    names = [link.name for link in feature.links_named("imagesGetBuffer")]
    assert names == ["panchromatic", "multispectral"]
    assert feature.properties.internal_reference == "SAL22051564"
    assert feature.links_named("absent") == []


def test_download_link_in_either_shape() -> None:
    base: dict[str, Any] = {"properties": {"id": "x"}}
    single = Feature.model_validate({**base, "_links": {"download": {"href": "h1"}}})
    many = Feature.model_validate({**base, "_links": {"download": [{"href": "h2"}]}})
    assert single.download_href == "h1" and many.download_href == "h2"


def test_token_type_is_case_insensitive_and_secret() -> None:
    token = Token.model_validate({"access_token": "HEADER.PAYLOAD.SIG", "expires_in": 3600,
                                  "token_type": "Bearer", "not-before-policy": 0})
    assert token.token_type == "bearer"
    assert "PAYLOAD" not in repr(token) and "PAYLOAD" not in str(token.model_dump())
    with pytest.raises(ValidationError):
        Token.model_validate({"access_token": ""})


def test_order_and_price_responses() -> None:
    order = OrderResponse.model_validate(reference_json("order-response.json"))
    assert order.sales_order_id == "SAL21416909" and order.total_amount == 250.0
    quote = OrderResponse.model_validate({"quotationId": "QUO21000243", "currency": "EUR",
                                          "totalAmount": 7600})
    assert quote.quotation_id == "QUO21000243" and quote.sales_order_id is None
    with pytest.raises(ValidationError):
        OrderResponse.model_validate({"currency": "EUR"})
    price = PriceResponse.model_validate({
        "contractId": "C", "currency": "EUR", "discountPercentage": 0, "discountValue": 0,
        "productTypes": [{"amount": 7392, "areaKm2": 132, "price": 7392,
                          "productTypeId": "PleiadesTaskingOneDay",
                          "items": [{"datastripIds": []}], "voucherCode": None}],
        "totalAmount": 7392})
    assert price.total_amount == 7392 and price.product_types[0].area_km2 == 132


def test_contract_product_type_market() -> None:
    contract = Contract.model_validate({
        "contractId": "Standard-GEO", "creditRemaining": "1.00000003E16", "currency": "EUR",
        "delivery": [{"deliveryPlatformId": "PublicMOC", "deliveryWorkspace": "mareclever"}],
        "backendSource": "legacy"})
    assert contract.credit == 1.00000003e16 and contract.delivery_workspace == "mareclever"
    assert Contract.model_validate({"contractId": "c", "delivery": {"deliveryWorkspace": "w"},
                                    "creditRemaining": 150.0}).credit_remaining == "150.0"
    product = ProductType.model_validate({
        "productTypeId": "PleiadesArchiveMono", "minimumOrderAreaApplied": 25,
        "technicalProduct": {"id": "x", "source": {"id": "archive"}, "sensor": {"id": "pleiades"},
                             "licences": None}})
    assert product.minimum_order_area_applied == 25 and product.source == "archive"
    market = Market.model_validate({"id": "GENIE", "label": "Civil engineering",
                                    "secondaryMarket": [{"id": "GENIE", "label": "CE"}]})
    assert market.secondary_market[0].id == "GENIE"


def test_production_options_constraints_and_projection_default() -> None:
    projection = ProductionOption.model_validate({
        "category": "production_option", "label": "Projection", "name": "projection_1",
        "mandatory": "constraint", "defaultValue": 32631,
        "constraint": {"condition": "processing_level:(ortho|projected)"},
        "values": [{"id": 4326, "label": "WGS84"}, {"id": "32631", "label": "UTM 31N"}],
        "type": "list", "hidden": False, "property": True})
    assert projection.default_value == "32631" and projection.allowed_values == ["4326", "32631"]
    assert projection.aoi_id == 1 and projection.base_name == "projection"
    assert projection.is_required({"processing_level": "ortho"})
    assert not projection.is_required({"processing_level": "primary"})
    pixel = ProductionOption.model_validate({
        "name": "pixel_coding", "mandatory": "true", "defaultValue": "12bits",
        "values": [{"id": "8bits", "constraint": {"condition": "radiometric_processing:(display)"}},
                   {"id": "12bits"}]})
    assert pixel.is_required({}) and pixel.aoi_id is None
    assert pixel.values[0].constraint is not None
    assert not pixel.values[0].constraint.holds({"radiometric_processing": "basic"})
    elevation = ProductionOption.model_validate({"name": "elevation", "mandatory": "false",
                                                 "type": "double", "range": [-100, 10000]})
    assert elevation.range == [-100, 10000] and not elevation.is_required({})


def test_me_and_order_line() -> None:
    me = Me.model_validate({"id": "u", "contract": {"id": "c", "workspaceId": "ws-1",
                                                    "balance": 33832, "offers": ["a"]}})
    assert me.contract is not None and me.contract.workspace_id == "ws-1"
    line = OrderLine.model_validate({"contractId": "CTR", "customerReference": "r",
                                     "quotationId": "QUO1", "salesOrderId": "SAL1",
                                     "status": "IN_PROGRESS", "quotationStatus": "ACCEPTED",
                                     "orderLineId": 12, "requestedArea": 99.79})
    assert line.order_line_id == "12" and line.model_extra == {"requestedArea": 99.79}


# ------------------------------------------------------------------ light search features

_LIGHT_FIELDS = (
    "acquisition_date", "acquisition_identifier", "archive_identifier", "source_identifier",
    "parent_identifier", "constellation", "platform", "cloud_cover", "snow_cover",
    "incidence_angle", "resolution", "processing_level",
)


@pytest.mark.parametrize(
    "name",
    ["search-response-phr-album-captured.json", "search-response-private-workspace-delivered.json"],
)
def test_light_scene_features_read_what_the_full_models_read(name: str) -> None:
    raw = reference_json(name)
    full = SearchPage.model_validate(raw)
    scenes, total = scene_page(raw)
    assert total == full.total_results and len(scenes) == len(full.features) > 0
    for scene, feature in zip(scenes, full.features, strict=True):
        assert scene.id == feature.id and scene.geometry == feature.geometry
        for name_ in _LIGHT_FIELDS:
            assert getattr(scene, name_) == getattr(feature.properties, name_), name_


def test_a_spot_feature_reads_the_same_light_and_full() -> None:
    raw = reference_json("search-feature-spot-album.json")
    scene = scene_page({"features": [raw], "totalResults": 1})[0][0]
    feature = Feature.model_validate(raw)
    assert [getattr(scene, f) for f in _LIGHT_FIELDS] == [
        getattr(feature.properties, f) for f in _LIGHT_FIELDS
    ]


@pytest.mark.parametrize(
    ("page", "where"),
    [
        ({"features": [{"properties": {}}]}, "features.0.properties.id: Field required"),
        ({"features": [{"properties": {"id": "a", "cloudCover": "cloudy"}}]},
         "features.0.properties.cloudCover: Input should be a valid number"),
        ({"features": [{}, {"properties": {"id": ["a"]}}]}, "features.0.properties"),
        ({"features": [{"properties": {"id": "a"}, "geometry": "POINT"}]},
         "features.0.geometry"),
        ({"features": {}}, "features: Input should be a valid list"),
        ({"totalResults": "many"}, "totalResults"),
        ([], "valid dictionary"),
    ],
)
def test_a_light_feature_of_the_wrong_shape_is_located(page: Any, where: str) -> None:
    with pytest.raises(ValueError, match=re.escape(where)):
        scene_page(page)


def test_light_features_coerce_numbers_and_text_as_the_full_models() -> None:
    props = {"id": 12, "cloudCover": "3.5", "platform": 1, "resolution": 2}
    scene = scene_page({"features": [{"properties": props}]})[0][0]
    full = Feature.model_validate({"properties": props}).properties
    assert (scene.id, scene.cloud_cover, scene.platform, scene.resolution) == (
        full.id, full.cloud_cover, full.platform, full.resolution)

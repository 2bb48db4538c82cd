"""Contracts, options, prices, order validation, quotations, tracking and delivery."""

from __future__ import annotations

import copy
import hashlib
import io
import time
import zipfile
from typing import Any

import pytest

from oneatlas_plan.sandbox.embedded import start_embedded

from .conftest import (
    LEGACY,
    LEGACY_WS,
    NEO,
    NEO_WS,
    TOULOUSE_AOI,
    Client,
    find_scene,
    key_structure,
    legacy_body,
    neo_body,
    pneo_scene,
    reference,
    toulouse_scene,
)


def _ring(*points: tuple[float, float]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(p) for p in points]]}


def _error(client: Client, body: Any, status: int = 400) -> dict[str, Any]:
    r = client.ordering("POST", "/api/v1/prices", body)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"errorCode", "message"}
    return r.json()


def test_contracts_and_product_types(client: Client) -> None:
    contracts = {c["contractId"]: c for c in client.get("/api/v1/contracts").json()["contracts"]}
    assert contracts[LEGACY]["backendSource"] == "legacy"
    assert contracts[NEO]["backendSource"] == "neo"
    assert contracts[NEO]["delivery"][0]["deliveryWorkspace"] == NEO_WS
    types = client.get(f"/api/v1/contracts/{LEGACY}/productTypes").json()["productTypes"]
    assert {t["productTypeId"] for t in types} == {"PleiadesArchiveMono", "SPOTArchive1.5Mono"}
    assert all(t["minimumOrderAreaApplied"] == 25 for t in types)
    assert client.get("/api/v1/contracts/nope/productTypes").json()["errorCode"] == "E2203"
    markets = client.get(f"/api/v1/{LEGACY}/properties").json()["markets"]
    assert "NQUAL" in {m["id"] for m in markets}
    assert (
        client.get(f"/api/v1/{NEO}/deliveryTypes").json()["deliveryTypes"][0]["deliveryTypeId"]
        == "network"
    )
    me = client.get("/api/v1/me").json()
    assert me["contract"]["workspaceId"] == LEGACY_WS


@pytest.mark.parametrize(
    ("aoi", "epsg"),
    [(TOULOUSE_AOI, "32631"), (_ring((31, -5), (31.1, -5), (31.1, -4.9), (31, -5)), "32736")],
)
def test_options_projection_default_follows_aoi(client: Client, aoi: Any, epsg: str) -> None:
    r = client.post(
        f"/api/v1/contracts/{LEGACY}/productTypes/PleiadesArchiveMono/options",
        {"aoi": [{"polygonId": 1, "geometry": aoi}]},
    )
    options = {o["name"]: o for o in r.json()["availableOptions"]}
    assert options["projection_1"]["defaultValue"] == epsg
    assert "dem_1" in options and "dem" not in options  # the guide's form, on legacy too
    neo = client.post(
        f"/api/v1/contracts/{NEO}/productTypes/PleiadesNeoArchiveMono/options",
        {"aoi": [{"polygonId": 1, "geometry": aoi}]},
    ).json()["availableOptions"]
    names = {o["name"] for o in neo}
    assert "dem_1" in names and "dem" not in names
    licences = next(o for o in neo if o["name"] == "licence")["values"]
    assert "Standard_1_5" in {v["id"] for v in licences}


def test_price_is_area_times_rate_with_minimum(client: Client) -> None:
    scene = toulouse_scene(client)
    price = client.ordering("POST", "/api/v1/prices", legacy_body(scene)).json()
    line = price["productTypes"][0]
    assert line["areaKm2"] == pytest.approx(26.91, abs=0.05)
    assert price["totalAmount"] == round(line["areaKm2"] * 10, 2)
    small = _ring((1.43, 43.59), (1.46, 43.59), (1.46, 43.62), (1.43, 43.62), (1.43, 43.59))
    body = legacy_body(scene, aoi=small)
    minimum = client.ordering("POST", "/api/v1/prices", body).json()
    assert minimum["productTypes"][0]["areaKm2"] == 25 and minimum["totalAmount"] == 250
    rush = copy.deepcopy(body)
    rush["optionsPerProductType"][0]["options"].append({"key": "priority", "value": "rush"})
    assert client.ordering("POST", "/api/v1/prices", rush).json()["totalAmount"] == 375


def test_spot_and_pneo_rates(client: Client) -> None:
    spot = find_scene(
        client,
        geometry="POINT(31.0 -4.6)",
        relation="intersects",
        constellation="SPOT",
        acquisitionDate="[2022-01-01T00:00:00Z,2022-12-31T23:59:59Z]",
    )
    aoi = _ring(
        (30.985, -4.615), (31.015, -4.615), (31.015, -4.585), (30.985, -4.585), (30.985, -4.615)
    )
    body = legacy_body(spot, aoi=aoi)
    body["items"][0]["productTypeId"] = "SPOTArchive1.5Mono"
    body["optionsPerProductType"][0]["productTypeId"] = "SPOTArchive1.5Mono"
    r = client.ordering("POST", "/api/v1/prices", body)
    assert r.status_code == 201, r.text
    assert r.json()["totalAmount"] == 62.5  # 25 km² minimum × 2.5
    neo = client.ordering("POST", "/api/v1/prices", neo_body(pneo_scene(client))).json()
    assert neo["totalAmount"] == round(neo["productTypes"][0]["areaKm2"] * 17, 2)


def test_validation_errors(client: Client) -> None:
    scene = toulouse_scene(client)
    good = legacy_body(scene)

    def variant(**changes: Any) -> dict[str, Any]:
        body = copy.deepcopy(good)
        body.update(changes)
        return body

    assert _error(client, variant(contractId="X"), 404) == {
        "errorCode": "E2203",
        "message": "CIS contract 'X' not found.",
    }
    item = copy.deepcopy(good["items"][0])
    wrong_type = dict(item, productTypeId="PleiadesNeoArchiveMono")
    assert _error(client, variant(items=[wrong_type]))["errorCode"] == "E4001"
    spot_type = dict(item, productTypeId="SPOTArchive1.5Mono")
    opts = good["optionsPerProductType"] + [{"productTypeId": "SPOTArchive1.5Mono", "options": []}]
    assert (
        _error(client, variant(items=[spot_type], optionsPerProductType=opts))["errorCode"]
        == "E4001"
    )  # PHR datastrip ordered as SPOT
    missing = dict(item, datastripIds=["DS_PHR1A_202201011030000_FR1_PX_E001N43_0615_01665"])
    assert _error(client, variant(items=[missing]))["errorCode"] == "E4002"
    assert _error(client, variant(items=[dict(item, aoiId=7)]))["errorCode"] == "E4007"
    assert _error(client, variant(items=[item] * 6))["errorCode"] == "E4006"
    assert _error(client, variant(primaryMarket="SPACE"))["errorCode"] == "E4005"
    body = variant()
    del body["customerReference"]
    assert "customerReference" in _error(client, body)["message"]


@pytest.mark.parametrize(
    ("geometry", "fragment"),
    [
        (_ring((1.41, 43.58), (1.47, 43.58), (1.47, 43.63), (1.41, 43.63)), "not closed"),
        (_ring((1.41, 43.58), (1.47, 43.58), (1.41, 43.58)), "at least 4"),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[1.41, 43.58], [1.47, 43.58], [1.47, 43.63], [1.41, 43.63], [1.41, 43.58]],
                    [[1.43, 43.59], [1.44, 43.59], [1.44, 43.60], [1.43, 43.59]],
                ],
            },
            "holes",
        ),
        (
            _ring((1.41, 43.58), (1.47, 43.63), (1.47, 43.58), (1.41, 43.63), (1.41, 43.58)),
            "invalid polygon",
        ),
        (_ring((1.44, 43.60), (1.45, 43.60), (1.45, 43.61), (1.44, 43.61), (1.44, 43.60)), "below"),
        (_ring((5.0, 45.0), (5.1, 45.0), (5.1, 45.1), (5.0, 45.1), (5.0, 45.0)), "intersect"),
        ({"type": "MultiPolygon", "coordinates": []}, "Polygon"),
    ],
)
def test_aoi_rules(client: Client, geometry: Any, fragment: str) -> None:
    body = legacy_body(toulouse_scene(client), aoi=geometry)
    error = _error(client, body)
    assert error["errorCode"] == "E4003" and fragment in error["message"]


def test_aoi_vertex_limit(client: Client) -> None:
    import math

    ring = [
        (
            1.44 + 0.03 * math.cos(2 * math.pi * i / 1000),
            43.60 + 0.02 * math.sin(2 * math.pi * i / 1000),
        )
        for i in range(1000)
    ]
    body = legacy_body(toulouse_scene(client), aoi=_ring(*ring, ring[0]))
    assert "too many vertices" in _error(client, body)["message"]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ([{"key": "dem", "value": "best_available"}], "Option 'dem' is not available"),
        ([{"key": "licence", "value": "Standard_1_5"}], "not allowed"),
        ([{"key": "pixel_coding", "value": "8bits"}], "8bits requires"),
        ([{"key": "radiometric_processing", "value": "display"}], "12bits requires"),
        ([{"key": "projection_1", "value": "32631"}], "only allowed with processing_level"),
        ([{"key": "dem_1", "value": "best_available"}], "only allowed with processing_level ortho"),
        (
            [
                {"key": "processing_level", "value": "ortho"},
                {"key": "dem_1", "value": "best_available"},
            ],
            "projection_1' is mandatory",
        ),
        ([{"key": "elevation", "value": "20000"}], "outside"),
    ],
)
def test_option_rules(client: Client, options: list[dict[str, str]], fragment: str) -> None:
    body = legacy_body(toulouse_scene(client))
    current = {o["key"]: o for o in body["optionsPerProductType"][0]["options"]}
    for option in options:
        current[option["key"]] = option
    body["optionsPerProductType"][0]["options"] = list(current.values())
    error = _error(client, body)
    assert error["errorCode"] == "E4004" and fragment in error["message"], error


def test_ortho_order_with_projection_and_dem_is_accepted(client: Client) -> None:
    body = legacy_body(toulouse_scene(client))
    body["optionsPerProductType"][0]["options"] += [
        {"key": "processing_level", "value": "ortho"},
        {"key": "dem_1", "value": "best_available"},
        {"key": "projection_1", "value": "32631"},
    ]
    body["optionsPerProductType"][0]["options"] = body["optionsPerProductType"][0]["options"][1:]
    assert client.ordering("POST", "/api/v1/prices", body).status_code == 201


def test_neo_rules(client: Client) -> None:
    body = neo_body(pneo_scene(client))
    del body["endUsers"]
    assert "endUsers" in _error(client, body)["message"]
    body = neo_body(pneo_scene(client))
    body["optionsPerProductType"][0]["options"].append({"key": "dem", "value": "best_available"})
    assert _error(client, body)["errorCode"] == "E4004"
    body = neo_body(pneo_scene(client))
    body["items"][0]["dataSourceIds"][0]["catalogItemId"] = "00000000-0000-4000-8000-000000000000"
    assert _error(client, body)["errorCode"] == "E4002"


def test_quotation_flow_and_orders_search(client: Client) -> None:
    scene = pneo_scene(client)
    r = client.ordering("POST", "/api/v1/orders", neo_body(scene, "quote-flow-1"))
    quotation = r.json()["quotationId"]
    assert quotation.startswith("QUO") and len(quotation) == 11
    q = f"(customerReference:*quote-flow*) AND (quotationStatus:SENT) AND (contractId:{NEO})"
    found = client.post(
        "/api/v2/orders/search",
        {
            "paging": {"itemsPerPage": 25, "startIndex": 0, "pagingMode": "item"},
            "criteria": {"q": q},
        },
    ).json()
    assert found["paging"]["totalResults"] == 1
    line = found["features"][0]
    assert line["quotationId"] == quotation and line["salesOrderId"] is None
    assert line["orderLineAmount"] == r.json()["totalAmount"]
    assert "quotationEndOfValidityDate" in line

    accepted = client.ordering("PUT", f"/api/v1/contracts/{NEO}/quotations/{quotation}/accept")
    assert accepted.status_code == 200 and accepted.json()["quotationStatus"] == "ACCEPTED"
    sales = accepted.json()["salesOrderId"]
    again = client.ordering("PUT", f"/api/v1/contracts/{NEO}/quotations/{quotation}/accept")
    assert again.status_code == 400
    q = f"(quotationStatus:ACCEPTED) AND (cis.quotation:{quotation}) AND (contractId:{NEO})"
    line = client.post("/api/v2/orders/search", {"paging": {}, "criteria": {"q": q}}).json()[
        "features"
    ][0]
    assert line["salesOrderId"] == sales and line["status"] in ("IN_PROGRESS", "DELIVERED")
    delivered = client.search(workspace=NEO_WS, internalReference=sales)["features"]
    assert len(delivered) == 1 and delivered[0]["properties"]["customerReference"] == "quote-flow-1"
    bundle_sample = reference("search-response-private-workspace-delivered.json")["features"][0]
    assert key_structure(delivered[0]["_links"]["imagesWms"]) == key_structure(
        bundle_sample["_links"]["imagesWms"]
    )

    second = client.ordering("POST", "/api/v1/quotations", neo_body(scene, "quote-flow-2"))
    refused_id = second.json()["quotationId"]
    refused = client.ordering("PUT", f"/api/v1/contracts/{NEO}/quotations/{refused_id}/refuse")
    assert refused.json()["quotationStatus"] == "REFUSED"
    q = f"(cis.quotation:{refused_id})"
    line = client.post("/api/v2/orders/search", {"paging": {}, "criteria": {"q": q}}).json()[
        "features"
    ][0]
    assert line["quotationStatus"] == "REFUSED" and line["status"] == "CANCELLED"
    missing = client.ordering("PUT", f"/api/v1/contracts/{NEO}/quotations/QUO00000000/accept")
    assert missing.status_code == 404
    legacy_quote = client.ordering(
        "POST", "/api/v1/quotations", legacy_body(toulouse_scene(client))
    )
    assert legacy_quote.status_code == 400


def test_delivery_after_delay_with_download(tmp_path: Any) -> None:
    with start_embedded(tmp_path, time_scale=200.0, delivery_delay_s=0.6) as sb:
        client = Client(sb)
        # the sandbox's clock, moved by hand: "not delivered yet" cannot race a slow machine
        now = time.time()
        client.control("faults", {"frozen_time": now})
        sales = client.ordering(
            "POST", "/api/v1/orders", legacy_body(toulouse_scene(client), reference_text="delayed")
        ).json()["salesOrderId"]
        assert client.search(workspace=LEGACY_WS, customerReference="delayed")["totalResults"] == 0
        q = f"(salesOrderId:{sales})"
        line = client.post("/api/v2/orders/search", {"criteria": {"q": q}}).json()["features"][0]
        assert line["status"] == "IN_PROGRESS"
        client.control("faults", {"frozen_time": now + 0.7})  # the delay is over
        found = client.search(
            workspace=LEGACY_WS, customerReference="delayed", internalReference=sales
        )["features"]
        assert len(found) == 1
        line = client.post("/api/v2/orders/search", {"criteria": {"q": q}}).json()["features"][0]
        assert line["status"] == "DELIVERED"
        link = found[0]["_links"]["download"]
        assert link["href"].startswith(sb.base_url) and link["resourceId"].endswith(".zip")
        whole = client.session.get(link["href"])
        assert whole.status_code == 200
        assert whole.headers["X-Ads-Checksum-Method"] == "md5"
        assert whole.headers["X-Ads-Checksum-Value"] == hashlib.md5(whole.content).hexdigest()
        names = zipfile.ZipFile(io.BytesIO(whole.content)).namelist()
        assert any(n.split("/")[-1].startswith("DIM_") and n.endswith(".XML") for n in names)
        part = client.session.get(link["href"], headers={"Range": "bytes=10-"})
        assert part.status_code == 206 and part.content == whole.content[10:]
        item = found[0]["properties"]["id"]
        assert client.get(f"/api/v1/items/{item}/quicklook").content.startswith(b"\x89PNG")


def test_quicklook_thumbnail_and_album_download(client: Client) -> None:
    scene = toulouse_scene(client)
    item = scene["properties"]["id"]
    quicklook = client.get(f"/api/v1/items/{item}/quicklook")
    assert quicklook.headers["Content-Type"] == "image/png" and len(quicklook.content) < 50_000
    assert client.get(f"/api/v1/items/{item}/thumbnail?width=256").content.startswith(b"\x89PNG")
    assert client.get(f"/api/v1/items/{item}/download").status_code == 403
    assert (
        client.get("/api/v1/items/00000000-0000-4000-8000-000000000000/quicklook").status_code
        == 404
    )

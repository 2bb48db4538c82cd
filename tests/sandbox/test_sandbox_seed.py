"""The seed's requests, sent to the sandbox, answer with the seed samples' key structure."""

from __future__ import annotations

import copy
import time

from .conftest import (
    LEGACY_WS,
    TOULOUSE_AOI,
    Client,
    find_scene,
    key_structure,
    reference,
    toulouse_scene,
)


def test_public_search_envelope_matches_captured(client: Client) -> None:
    captured = reference("search-response-phr-album-captured.json")
    answer = client.search(**reference("search-request-public.json"))
    assert set(answer) == set(captured)
    assert answer["itemsPerPage"] == 10 and answer["startIndex"] == 0
    assert len(answer["features"]) == 10
    assert answer["totalResults"] == 10_000


def test_spot_and_pleiades_features_match_seed_feature(client: Client) -> None:
    seed = key_structure(reference("search-feature-spot-album.json"))
    spot = find_scene(
        client,
        geometry="POINT(31.0 -4.6)",
        constellation="SPOT",
        acquisitionDate="[2022-01-01T00:00:00Z,2022-12-31T23:59:59Z]",
    )
    assert key_structure(spot) == seed
    assert spot["properties"]["acquisitionIdentifier"] == ""
    assert spot["properties"]["archiveIdentifier"].startswith("DS_SPOT")
    assert key_structure(toulouse_scene(client)) == seed
    links = spot["_links"]
    assert all(v["href"].startswith(client.base + "/") for v in links.values())


def test_pneo_feature_matches_openapi_example_shape(client: Client) -> None:
    scene = find_scene(client, workspace="public-pneo", geometry="POINT(86.2 42.3)")
    props = scene["properties"]
    assert props["acquisitionIdentifier"].startswith("ACQ_PNEO")
    assert props["archiveIdentifier"].startswith("DS_PNEO")
    assert props["workspaceName"] == "public-pneo"
    assert set(scene["rights"]) == {"associatedData", "browse", "create", "wmts"}
    assert isinstance(scene["_links"]["imagesWms"], dict)


def test_seed_order_and_private_workspace_search(client: Client) -> None:
    scene = toulouse_scene(client)
    body = copy.deepcopy(reference("order-request-pleiades-archive.json"))
    body["items"][0]["datastripIds"] = [scene["properties"]["archiveIdentifier"]]
    body["items"][0]["dataSourceIds"][0]["catalogItemId"] = scene["properties"]["id"]
    body["items"][0]["segmentKey"] = scene["properties"]["id"]
    body["aoi"][0]["geometry"] = TOULOUSE_AOI
    body["customerReference"] = "seed-order-1"
    response = client.ordering("POST", "/api/v1/orders", body)
    assert response.status_code == 201, response.text
    order = response.json()
    assert set(order) == set(reference("order-response.json"))
    assert order["salesOrderId"].startswith("SAL") and len(order["salesOrderId"]) == 11

    request = dict(
        reference("search-request-private-workspace.json"),
        workspace=LEGACY_WS,
        customerReference="seed-order-1",
    )
    deadline = time.time() + 5
    while not (answer := client.search(**request))["features"] and time.time() < deadline:
        time.sleep(0.05)
    sample = reference("search-response-private-workspace-delivered.json")
    assert set(answer) == set(sample)
    delivered, expected = answer["features"][0], sample["features"][0]
    assert set(delivered) == set(expected)
    assert set(delivered["properties"]) == set(expected["properties"])
    assert set(delivered["_links"]) == set(expected["_links"]) | {"download"}
    # the seed body orders pansharpened_natural_color: one image, so one object (no bundle)
    assert delivered["properties"]["productType"] == "pansharpened"
    assert isinstance(delivered["_links"]["imagesWms"], dict)
    assert set(expected["rights"]) <= set(delivered["rights"])
    props = delivered["properties"]
    assert props["processingLevel"] == "ORTHO" and props["productionStatus"] == "IN_CLOUD"
    assert props["internalReference"] == order["salesOrderId"]
    assert props["commercialReference"].startswith("WO_")
    assert props["contractId"] == body["contractId"]

"""The sandbox accepts exactly the option names its options endpoint answers (issue 16.1)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import LEGACY, TOULOUSE_AOI, Client, legacy_body, toulouse_scene


def _ortho(client: Client, dem_key: str) -> dict[str, Any]:
    body = legacy_body(toulouse_scene(client))
    options = body["optionsPerProductType"][0]["options"]
    options[0] = {"key": "processing_level", "value": "ortho"}
    options += [{"key": dem_key, "value": "best_available"},
                {"key": "projection_1", "value": "32631"}]
    return body


def test_legacy_options_name_the_dem_per_aoi(client: Client) -> None:
    r = client.ordering("POST", f"/api/v1/contracts/{LEGACY}/productTypes/PleiadesArchiveMono/"
                        "options", {"aoi": [{"polygonId": 1, "geometry": TOULOUSE_AOI}]})
    names = {o["name"] for o in r.json()["availableOptions"]}
    assert {"dem_1", "projection_1"} <= names and "dem" not in names


def test_the_documented_dem_1_is_accepted_on_a_legacy_contract(client: Client) -> None:
    r = client.ordering("POST", "/api/v1/prices", _ortho(client, "dem_1"))
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("key", ["dem", "dem_2"])
def test_a_name_the_options_answer_does_not_list_is_refused(client: Client, key: str) -> None:
    r = client.ordering("POST", "/api/v1/prices", _ortho(client, key))
    assert r.status_code == 400
    assert r.json()["errorCode"] == "E4004" and f"Option '{key}' is not available" in r.text

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from oneatlas_plan.sandbox.embedded import RunningSandbox, start_embedded
from tests.reference import reference_path

LEGACY = "Test_E2E_BR_1392-1375"
NEO = "CTR21000411"
LEGACY_WS = "1a7aaef1-839e-4eaa-826c-aabee39eac85"
NEO_WS = "5c0cbf3c-7b8c-4d0e-9a43-2f0b2f4b9e10"
TOULOUSE_AOI = {
    "type": "Polygon",
    "coordinates": [[[1.41, 43.58], [1.47, 43.58], [1.47, 43.63], [1.41, 43.63], [1.41, 43.58]]],
}
PNEO_AOI = {
    "type": "Polygon",
    "coordinates": [
        [[86.17, 42.28], [86.23, 42.28], [86.23, 42.32], [86.17, 42.32], [86.17, 42.28]]
    ],
}
SUMMER_2022 = "[2022-06-01T00:00:00.000Z,2022-08-31T23:59:59.999Z]"


def reference(name: str) -> Any:
    path = reference_path(name)
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    return path


class Client:
    """A minimal test client: token, JSON calls, ordering calls paced to the sandbox limits."""

    def __init__(self, sb: RunningSandbox) -> None:
        self.sb = sb
        self.base = sb.base_url
        self.session = requests.Session()
        self.interval = 1.05 / sb.config.effective_ordering_rps
        self._last = 0.0
        self.refresh()

    def refresh(self) -> None:
        r = self.session.post(
            self.url("/auth/realms/IDP/protocol/openid-connect/token"),
            data={"apikey": self.sb.api_key, "grant_type": "api_key", "client_id": "IDP"},
        )
        r.raise_for_status()
        self.session.headers["Authorization"] = "Bearer " + r.json()["access_token"]

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.url(path), **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.session.post(self.url(path), json=body, **kw)

    def search(self, **params: Any) -> dict[str, Any]:
        r = self.post("/api/v2/opensearch", params)
        assert r.status_code == 200, r.text
        return r.json()

    def ordering(self, method: str, path: str, body: Any = None, **kw: Any) -> requests.Response:
        wait = self._last + self.interval - time.time()
        if wait > 0:
            time.sleep(wait)
        try:
            return self.session.request(method, self.url(path), json=body, **kw)
        finally:
            self._last = time.time()

    def control(self, path: str, body: Any = None) -> Any:
        if body is None:
            return requests.get(self.url("/sandbox/v1/" + path)).json()
        return requests.post(self.url("/sandbox/v1/" + path), json=body).json()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with start_embedded(tmp_path_factory.mktemp("sandbox"), time_scale=200.0) as sb:
        yield sb


@pytest.fixture
def client(sandbox: RunningSandbox) -> Client:
    return Client(sandbox)


def find_scene(client: Client, **criteria: Any) -> dict[str, Any]:
    features = client.search(**criteria)["features"]
    assert features, f"no scene for {criteria}"
    return features[0]


def toulouse_scene(client: Client) -> dict[str, Any]:
    return find_scene(
        client,
        geometry=TOULOUSE_AOI,
        relation="contains",
        constellation="PHR",
        acquisitionDate=SUMMER_2022,
        cloudCover="[0,10]",
    )


def pneo_scene(client: Client) -> dict[str, Any]:
    return find_scene(
        client,
        workspace="public-pneo",
        geometry=PNEO_AOI,
        relation="contains",
        acquisitionDate="[2022-01-01T00:00:00Z,2023-12-31T23:59:59Z]",
    )


def legacy_body(
    scene: dict[str, Any],
    aoi: dict[str, Any] = TOULOUSE_AOI,
    reference_text: str = "test-order",
    **overrides: Any,
) -> dict[str, Any]:
    props = scene["properties"]
    body = {
        "aoi": [{"id": 1, "name": "Polygon 1", "geometry": copy.deepcopy(aoi)}],
        "contractId": LEGACY,
        "items": [
            {
                "productTypeId": "PleiadesArchiveMono",
                "aoiId": 1,
                "properties": [],
                "datastripIds": [props["archiveIdentifier"]],
                "notifications": [],
                "stations": [],
            }
        ],
        "primaryMarket": "NQUAL",
        "secondaryMarket": "",
        "customerReference": reference_text,
        "optionsPerProductType": [
            {
                "productTypeId": "PleiadesArchiveMono",
                "options": [
                    {"key": "processing_level", "value": "primary"},
                    {"key": "spectral_processing", "value": "bundle"},
                    {"key": "radiometric_processing", "value": "basic"},
                    {"key": "pixel_coding", "value": "12bits"},
                    {"key": "priority", "value": "standard"},
                    {"key": "licence", "value": "standard"},
                ],
            }
        ],
        "orderGroup": "",
        "delivery": {"type": "network"},
    }
    body.update(overrides)
    return body


def neo_body(scene: dict[str, Any], reference_text: str = "neo-order") -> dict[str, Any]:
    return {
        "aoi": [{"id": 1, "name": "Polygon 1", "geometry": copy.deepcopy(PNEO_AOI)}],
        "contractId": NEO,
        "items": [
            {
                "productTypeId": "PleiadesNeoArchiveMono",
                "aoiId": 1,
                "properties": [],
                "dataSourceIds": [
                    {"catalogId": "PublicMOC", "catalogItemId": scene["properties"]["id"]}
                ],
            }
        ],
        "primaryMarket": "NQUAL",
        "customerReference": reference_text,
        "endUsers": [{"endUserName": "Jane", "country": "FR"}],
        "optionsPerProductType": [
            {
                "productTypeId": "PleiadesNeoArchiveMono",
                "options": [
                    {"key": "processing_level", "value": "ortho"},
                    {"key": "spectral_processing", "value": "full_bundle"},
                    {"key": "dem_1", "value": "best_available"},
                    {"key": "projection_1", "value": "32645"},
                ],
            }
        ],
        "delivery": {"type": "network"},
    }


def key_structure(value: Any) -> Any:
    """Nested key sets (lists reduced to the structure of their first element)."""
    if isinstance(value, dict):
        return {k: key_structure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [key_structure(value[0])] if value and isinstance(value[0], dict | list) else []
    return None

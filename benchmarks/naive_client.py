"""The naive client the benchmarks compare against, written the way public scripts do it.

For each AOI, one after the other: search the archive for it, take the best scene that covers
it, then price that item; ``requests`` only, a fixed ``sleep`` after every ordering call to stay
under the limit (no merged searches, no grouping of AOIs into orders, no memory of earlier runs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests
from shapely.geometry import shape

TOKEN_PATH = "/auth/realms/IDP/protocol/openid-connect/token"


@dataclass
class NaiveResult:
    seconds: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    priced: int = 0
    unsatisfied: int = 0
    errors: int = 0

    def count(self, name: str) -> None:
        self.requests[name] = self.requests.get(name, 0) + 1

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


def _utm_epsg(lon: float, lat: float) -> str:
    zone = int((lon + 180) // 6) + 1
    return str((32600 if lat >= 0 else 32700) + zone)


def _price_body(aoi: dict[str, Any], feature: dict[str, Any], contract: str, name: str) -> dict:
    props = feature["properties"]
    centre = shape(aoi).centroid
    return {
        "contractId": contract,
        "aoi": [{"id": 1, "name": name, "geometry": aoi}],
        "items": [
            {
                "productTypeId": "PleiadesArchiveMono",
                "aoiId": 1,
                "dataSourceIds": [{"catalogId": "PublicMOC", "catalogItemId": props["id"]}],
                "datastripIds": [props["archiveIdentifier"]],
                "segmentKey": props["id"],
                "properties": [],
                "notifications": [],
                "stations": [],
            }
        ],
        "optionsPerProductType": [
            {
                "productTypeId": "PleiadesArchiveMono",
                "options": [
                    {"key": "spectral_processing", "value": "pansharpened_natural_color"},
                    {"key": "radiometric_processing", "value": "display"},
                    {"key": "image_format", "value": "dimap_geotiff"},
                    {"key": "pixel_coding", "value": "8bits"},
                    {"key": "processing_level", "value": "ortho"},
                    {"key": "licence", "value": "standard"},
                    {"key": "projection_1", "value": _utm_epsg(centre.x, centre.y)},
                    {"key": "dem_1", "value": "best_available"},
                ],
            }
        ],
        "primaryMarket": "AGRI",
        "secondaryMarket": "",
        "customerReference": name,
        "delivery": {"type": "network", "platformId": "PublicMOC"},
    }


def naive_plan(
    base_url: str,
    api_key: str,
    aois: list[tuple[str, dict[str, Any]]],
    *,
    contract: str,
    ordering_rps: float,
    cloud_max: float = 10,
) -> NaiveResult:
    """Search then price each AOI (a GeoJSON polygon) sequentially, searching its bounding box;
    ``sleep(1 / ordering_rps)`` after each price."""
    result = NaiveResult()
    started = time.perf_counter()
    session = requests.Session()
    token = session.post(
        base_url + TOKEN_PATH,
        data={"apikey": api_key, "grant_type": "api_key", "client_id": "IDP"},
        timeout=60,
    ).json()["access_token"]
    result.count("token")
    headers = {"Authorization": f"Bearer {token}"}
    for name, geometry in aois:
        aoi = shape(geometry)
        bounds = aoi.bounds
        search = session.post(
            base_url + "/api/v2/opensearch",
            json={
                "bbox": ",".join(str(v) for v in bounds),
                "constellation": "PHR",
                "acquisitionDate": "[2023-06-01T00:00:00.000Z,2023-08-31T23:59:59.999Z]",
                "cloudCover": f"[0,{cloud_max}]",
                "sortBy": "cloudCover,-acquisitionDate",
                "itemsPerPage": 50,
            },
            headers=headers,
            timeout=60,
        )
        result.count("search")
        features = search.json().get("features", []) if search.status_code == 200 else []
        best = next(
            (f for f in features if shape(f["geometry"]).buffer(0).contains(aoi)), None
        )
        if best is None:
            result.unsatisfied += 1
            continue
        body = _price_body(aoi.__geo_interface__, best, contract, name)
        response = session.post(base_url + "/api/v1/prices", json=body, headers=headers,
                                timeout=60)
        result.count("prices")
        if response.status_code == 201:
            result.priced += 1
        else:
            result.errors += 1
        time.sleep(1.0 / ordering_rps)  # stay under the ordering limit
    session.close()
    result.seconds = time.perf_counter() - started
    return result

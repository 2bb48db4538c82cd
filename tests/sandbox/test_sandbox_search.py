"""Search criteria, sorting, paging limits, catalog determinism and fixed catalog features."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from shapely.geometry import box, shape

from oneatlas_plan.sandbox.embedded import start_embedded

from .conftest import SUMMER_2022, TOULOUSE_AOI, Client, reference

YEAR_2022 = "[2022-01-01T00:00:00.000Z,2022-12-31T23:59:59.999Z]"
REGION = "1.0,43.2,2.2,44.0"  # ~100 km around Toulouse


def _props(answer: dict[str, Any], name: str) -> list[Any]:
    return [f["properties"][name] for f in answer["features"]]


@pytest.mark.parametrize(
    ("name", "value", "lo", "hi"),
    [
        ("cloudCover", "[0,10]", 0, 10),
        ("incidenceAngle", "[5,12.5]", 5, 12.5),
        ("snowCover", "[0,0]", 0, 0),
        ("resolution", "[0.6,0.8]", 0.6, 0.8),
    ],
)
def test_numeric_range_filters(client: Client, name: str, value: str, lo: float, hi: float) -> None:
    answer = client.search(
        bbox=REGION, acquisitionDate=YEAR_2022, itemsPerPage=200, **{name: value}
    )
    values = _props(answer, name)
    assert values and all(lo <= v <= hi for v in values)


def test_range_grammar_open_and_exclusive_ends(client: Client) -> None:
    low = _props(
        client.search(bbox=REGION, acquisitionDate=YEAR_2022, cloudCover="90]", itemsPerPage=100),
        "cloudCover",
    )
    assert low and all(v <= 90 for v in low)
    high = _props(
        client.search(bbox=REGION, acquisitionDate=YEAR_2022, cloudCover="[90", itemsPerPage=100),
        "cloudCover",
    )
    assert high and all(v >= 90 for v in high)
    excl = _props(
        client.search(
            bbox=REGION, acquisitionDate=YEAR_2022, cloudCover="]10,20[", itemsPerPage=100
        ),
        "cloudCover",
    )
    assert excl and all(10 < v < 20 for v in excl)


@pytest.mark.parametrize("name", ["acquisitionDate", "lastUpdateDate", "publicationDate"])
def test_date_filters(client: Client, name: str) -> None:
    answer = client.search(
        bbox=REGION, itemsPerPage=200, **{name: "[2022-03-01T00:00:00Z,2022-03-31T23:59:59.999Z]"}
    )
    dates = _props(answer, name)
    assert dates and all("2022-03-01" <= d[:10] <= "2022-03-31" for d in dates)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("constellation", "SPOT"),
        ("platform", "PHR1B"),
        ("processingLevel", "ALBUM"),
        ("productType", "mono"),
    ],
)
def test_list_filters(client: Client, name: str, value: str) -> None:
    answer = client.search(
        bbox=REGION, acquisitionDate=YEAR_2022, itemsPerPage=100, **{name: value}
    )
    assert answer["features"] and set(_props(answer, name)) == {value}


def test_list_filters_exclude(client: Client) -> None:
    assert client.search(bbox=REGION, processingLevel="SENSOR")["totalResults"] == 0
    both = client.search(
        bbox=REGION, acquisitionDate=YEAR_2022, constellation="PHR,SPOT", itemsPerPage=500
    )
    assert set(_props(both, "constellation")) == {"PHR", "SPOT"}


def test_workspace_by_name_and_id(client: Client) -> None:
    by_name = client.search(workspace="public-pneo", geometry="POINT(86.2 42.3)")
    by_id = client.search(
        workspace="3e88441b-adc9-4be6-bd80-59d4fb69d5a7", geometry="POINT(86.2 42.3)"
    )
    assert by_name == by_id and by_name["totalResults"] > 0
    assert set(_props(by_name, "constellation")) == {"PNEO"}
    assert client.search(geometry="POINT(86.2 42.3)", constellation="PNEO")["totalResults"] == 0


def test_bbox_and_geometry_forms(client: Client) -> None:
    region = box(1.0, 43.2, 2.2, 44.0)
    answer = client.search(bbox=REGION, acquisitionDate=YEAR_2022, itemsPerPage=100)
    assert all(shape(f["geometry"]).intersects(region) for f in answer["features"])
    wkt = client.search(geometry=region.wkt, acquisitionDate=YEAR_2022, itemsPerPage=100)
    geojson = client.search(
        geometry={"type": "Polygon", "coordinates": [list(region.exterior.coords)]},
        acquisitionDate=YEAR_2022,
        itemsPerPage=100,
    )
    assert wkt == geojson == answer


@pytest.mark.parametrize("relation", ["intersects", "contains", "within", "disjoint"])
def test_relations(client: Client, relation: str) -> None:
    area = shape(TOULOUSE_AOI) if relation != "within" else box(0.0, 42.5, 3.0, 45.0)
    answer = client.search(
        geometry=area.wkt, relation=relation, acquisitionDate=SUMMER_2022, itemsPerPage=100
    )
    assert answer["features"]
    assert all(getattr(shape(f["geometry"]), relation)(area) for f in answer["features"])


def test_identifier_filters(client: Client) -> None:
    scene = client.search(bbox=REGION, acquisitionDate=YEAR_2022, constellation="PHR")["features"][
        0
    ]
    props = scene["properties"]
    for name in ("id", "archiveIdentifier", "acquisitionIdentifier"):
        answer = client.search(**{name: props[name]})
        assert [f["properties"]["id"] for f in answer["features"]] == [props["id"]]
    r = client.get(f"/api/v1/opensearch?id={props['id']}")
    assert r.json()["features"][0] == scene
    assert client.search(customerReference="x")["totalResults"] == 0
    assert client.search(internalReference="SAL00000000")["totalResults"] == 0


@pytest.mark.parametrize(
    "sort", ["cloudCover", "-cloudCover", "acquisitionDate", "-lastUpdateDate", "incidenceAngle"]
)
def test_sorting(client: Client, sort: str) -> None:
    name = sort.lstrip("-")
    values = _props(
        client.search(bbox=REGION, acquisitionDate=YEAR_2022, sortBy=sort, itemsPerPage=300), name
    )
    assert values == sorted(values, reverse=sort.startswith("-"))


def test_default_sort_is_newest_first(client: Client) -> None:
    dates = _props(client.search(bbox=REGION, acquisitionDate=YEAR_2022), "acquisitionDate")
    assert dates == sorted(dates, reverse=True)


def test_paging_limits_and_window(client: Client) -> None:
    assert client.search(bbox=REGION)["itemsPerPage"] == 50
    assert client.post("/api/v2/opensearch", {"itemsPerPage": 501}).status_code == 400
    assert client.post("/api/v2/opensearch", {"startPage": 0}).status_code == 400
    ok = client.search(itemsPerPage=500, startPage=20, bbox=REGION)
    assert ok["startIndex"] == 9500 and ok["totalResults"] == 10_000
    deep = client.post("/api/v2/opensearch", {"itemsPerPage": 500, "startPage": 21, "bbox": REGION})
    assert deep.status_code == 400 and "10000" in deep.json()["message"]


def test_pages_are_consistent(client: Client) -> None:
    query = {"bbox": REGION, "acquisitionDate": YEAR_2022}
    whole = _props(client.search(itemsPerPage=60, **query), "id")
    pages = [_props(client.search(itemsPerPage=20, startPage=p, **query), "id") for p in (1, 2, 3)]
    assert whole == pages[0] + pages[1] + pages[2]


def test_get_and_post_agree(client: Client) -> None:
    params = {
        "bbox": REGION,
        "acquisitionDate": YEAR_2022,
        "cloudCover": "[0,30]",
        "itemsPerPage": 25,
        "sortBy": "cloudCover",
    }
    assert client.get("/api/v2/opensearch", params=params).json() == client.search(**params)


def test_catalog_is_deterministic(client: Client, tmp_path: Any) -> None:
    query = {"bbox": REGION, "acquisitionDate": YEAR_2022, "itemsPerPage": 100}
    first = client.post("/api/v2/opensearch", query).content
    assert client.post("/api/v2/opensearch", query).content == first
    with start_embedded(tmp_path / "other") as other:
        token = requests.post(
            other.base_url + "/auth/realms/IDP/protocol/openid-connect/token",
            data={"apikey": "sandbox-key", "grant_type": "api_key", "client_id": "IDP"},
        ).json()["access_token"]
        again = requests.post(
            other.base_url + "/api/v2/opensearch",
            json=query,
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    assert [f["properties"] for f in again["features"]] == [
        f["properties"] for f in client.search(**query)["features"]
    ]


def test_region_year_query_is_populated(client: Client) -> None:
    # How fast the sandbox answers is measured in benchmarks/, not asserted here.
    answer = client.search(bbox=REGION, acquisitionDate=YEAR_2022, itemsPerPage=500)
    assert answer["totalResults"] > 500
    footprints = [shape(f["geometry"]) for f in answer["features"]]
    lefts = {round(g.bounds[0], 3) for g in footprints}
    assert len(lefts) > 100  # footprints are not aligned on a grid
    widths_km = [(g.bounds[2] - g.bounds[0]) * 80 for g in footprints]
    assert min(widths_km) > 10 and max(widths_km) < 150


def test_cloud_free_scenes_where_the_issue_promises(client: Client) -> None:
    toulouse = client.search(
        geometry="POINT(1.44 43.60)",
        constellation="PHR",
        acquisitionDate=SUMMER_2022,
        cloudCover="[0,10]",
    )
    assert toulouse["totalResults"] >= 5
    spot = client.search(
        geometry="POINT(31.0 -4.6)",
        constellation="SPOT",
        acquisitionDate=YEAR_2022,
        cloudCover="[0,10]",
    )
    assert spot["totalResults"] >= 5
    pneo = client.search(
        workspace="public-pneo",
        geometry="POINT(86.2 42.3)",
        acquisitionDate="[2022-01-01T00:00:00Z,2023-12-31T23:59:59Z]",
        cloudCover="[0,10]",
    )
    assert pneo["totalResults"] >= 5


def test_bad_criteria_are_400(client: Client) -> None:
    for body in (
        {"sortBy": "nope"},
        {"relation": "touches"},
        {"bbox": "1,2,3"},
        {"geometry": "POLYGON((bad"},
        {"acquisitionDate": "[yesterday,]"},
    ):
        assert client.post("/api/v2/opensearch", body).status_code == 400, body


@pytest.mark.parametrize(
    "fixture", ["search-feature-spot-album.json", "search-response-phr-album-captured.json"]
)
def test_catalog_file_features_are_found(tmp_path: Any, fixture: str) -> None:
    import json

    doc = reference(fixture)
    if doc.get("type") != "FeatureCollection":
        doc = {"type": "FeatureCollection", "features": [doc]}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(doc))
    target = doc["features"][0]
    with start_embedded(tmp_path / "data", catalog_files=[path]) as sb:
        client = Client(sb)
        found = client.search(id=target["properties"]["id"])["features"]
        assert [f["properties"] for f in found] == [target["properties"]]
        assert found[0]["geometry"] == target["geometry"]
        assert found[0]["_links"]["quicklook"]["href"].startswith(sb.base_url)
        centroid = shape(target["geometry"]).centroid
        near = client.search(
            geometry=centroid.wkt,
            itemsPerPage=500,
            acquisitionDate=f"[{target['properties']['acquisitionDate'][:10]},"
            f"{target['properties']['acquisitionDate'][:10]}T23:59:59Z]",
        )
        assert target["properties"]["id"] in _props(near, "id")
        assert (
            client.get(f"/api/v1/items/{target['properties']['id']}/quicklook").status_code == 200
        )

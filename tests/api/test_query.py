from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from oneatlas_plan.api.query import (
    EARLIEST_ACQUISITION,
    SearchQuery,
    format_datetime,
    split_acquisition,
)

POLYGON = {"type": "Polygon", "coordinates": [[[1, 43], [2, 43], [2, 44], [1, 43]]]}


def test_minimal_body_matches_the_guide() -> None:
    assert SearchQuery(items_per_page=10).to_body() == {
        "itemsPerPage": 10, "startPage": 1, "workspace": "public",
    }


def test_every_criterion_in_airbus_syntax() -> None:
    query = SearchQuery(
        workspace="public-pneo",
        constellations=("PHR", "SPOT"),
        platforms=["PHR1A", "PHR1B"],  # type: ignore[arg-type]  # a list: coerced to a tuple
        acquired_from=datetime(2022, 6, 1, tzinfo=UTC),
        acquired_to=datetime(2022, 9, 30, 23, 59, 59, 999_999, tzinfo=UTC),
        cloud_cover_max=10,
        incidence_angle_max=30.5,
        snow_cover_max=5,
        resolution_min=0.5,
        resolution_max=1.5,
        processing_level="ALBUM",  # type: ignore[arg-type]  # a str: split into a tuple
        product_types=("mono", "bundle"),
        geometry=POLYGON,
        relation="intersects",
        sort_by=("cloudCover", "-acquisitionDate"),
        customer_reference="ref-1",
        internal_reference="SAL1",
    )
    assert query.to_body(start_page=3) == {
        "itemsPerPage": 500,
        "startPage": 3,
        "workspace": "public-pneo",
        "constellation": "PHR,SPOT",
        "platform": "PHR1A,PHR1B",
        "processingLevel": "ALBUM",
        "productType": "mono,bundle",
        "sortBy": "cloudCover,-acquisitionDate",
        "acquisitionDate": "[2022-06-01T00:00:00.000Z,2022-09-30T23:59:59.999Z]",
        "cloudCover": "[0,10]",
        "incidenceAngle": "[0,30.5]",
        "snowCover": "[0,5]",
        "resolution": "[0.5,1.5]",
        "geometry": POLYGON,
        "relation": "intersects",
        "customerReference": "ref-1",
        "internalReference": "SAL1",
    }


def test_bbox_open_ranges_and_timezones() -> None:
    paris = timezone(timedelta(hours=2))
    body = SearchQuery(
        bbox=(1.8292, 48.5821, 2.9718, 49.0811),
        acquired_from=datetime(2022, 6, 1, 2, 0, tzinfo=paris),
        resolution_max=1,
    ).to_body()
    assert body["bbox"] == "1.8292,48.5821,2.9718,49.0811"
    assert body["acquisitionDate"] == "[2022-06-01T00:00:00.000Z,]"
    assert body["resolution"] == "[,1]"
    assert format_datetime(datetime(2022, 1, 1, 0, 0, 0, 123_999)) == "2022-01-01T00:00:00.123Z"


@pytest.mark.parametrize("bad", [
    {"geometry": POLYGON, "bbox": (0, 0, 1, 1)},
    {"items_per_page": 501},
    {"cloud_cover_max": 101},
    {"relation": "touches"},
    {"acquired_from": datetime(2023, 1, 1), "acquired_to": datetime(2022, 1, 1)},
    {"unknown": 1},
])
def test_invalid_queries(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SearchQuery(**bad)  # type: ignore[arg-type]


def test_query_is_frozen() -> None:
    with pytest.raises(ValidationError):
        SearchQuery().workspace = "x"


def test_split_covers_the_range_without_overlap() -> None:
    start = datetime(2022, 1, 1, tzinfo=UTC)
    end = datetime(2022, 1, 3, tzinfo=UTC)
    older, newer = split_acquisition(SearchQuery(acquired_from=start, acquired_to=end),
                                     datetime.now(UTC)) or (None, None)
    assert older is not None and newer is not None
    assert older.acquired_from == start and newer.acquired_to == end
    assert older.acquired_to is not None
    assert newer.acquired_from == older.acquired_to + timedelta(milliseconds=1)
    same = SearchQuery(acquired_from=start, acquired_to=start)
    assert split_acquisition(same, datetime.now(UTC)) is None


def test_split_of_an_unbounded_query_uses_1986_and_now() -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    older, newer = split_acquisition(SearchQuery(), now) or (None, None)
    assert older is not None and newer is not None
    assert older.acquired_from == EARLIEST_ACQUISITION
    assert newer.acquired_to == now

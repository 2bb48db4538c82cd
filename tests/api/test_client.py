"""The client against a real local HTTP server (tests/api/conftest.py) with injected faults."""

from __future__ import annotations

import itertools
import json
import logging
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient
from oneatlas_plan.api.events import ApiEvent
from oneatlas_plan.api.gate import FileGate, gate_path
from oneatlas_plan.api.profiles import PRODUCTION_LIMITS, origin_of, resolve_endpoint
from oneatlas_plan.api.query import SearchQuery
from oneatlas_plan.api.retry import RetryPolicy
from oneatlas_plan.errors import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
)

from .conftest import (
    API_KEY,
    DROP,
    TOKEN_PATH,
    FakeOneAtlas,
    SleepRecorder,
    impatient_for,
    json_response,
    make_catalogue,
)

ORDER_BODY: dict[str, Any] = {"contractId": "C1", "customerReference": "op-1234", "items": []}
FAST = {"limits": {"ordering_rps": 200, "search_rps": 1000, "search_concurrency": 4,
                   "ban_seconds": 3}}
CONTRACTS = {"contracts": [{"contractId": "C1", "backendSource": "legacy"}]}


@pytest.fixture(autouse=True)
def _fast_limits(fake: FakeOneAtlas) -> None:
    fake.config = dict(FAST)


def test_token_shared_and_headers_sent(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.script("GET", "/api/v1/contracts", json_response(CONTRACTS))
    client = make_client()
    assert [c.contract_id for c in client.contracts()] == ["C1"]
    client.contracts()
    assert len(fake.tokens) == 1
    token_request = fake.received(TOKEN_PATH)[0]
    assert b"grant_type=api_key" in token_request.body and b"client_id=IDP" in token_request.body
    calls = fake.received("/api/v1/contracts")
    assert all(c.headers["Authorization"] == f"Bearer {fake.tokens[0]}" for c in calls)
    ids = [c.headers["X-Ads-Correlation-Id"] for c in calls]
    assert len(set(ids)) == 2 and all(uuid.UUID(i).version == 4 for i in ids)
    assert client.stats.requests["contracts"] == 2 and client.stats.requests["token"] == 1
    assert client.limits.ordering_rps == 200  # read from /sandbox/v1/config


def test_missing_sandbox_config_means_production_limits(fake: FakeOneAtlas,
                                                        make_client: Any) -> None:
    fake.config = None
    assert make_client().limits == PRODUCTION_LIMITS


def test_search_429_then_200_honours_retry_after(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.script("POST", "/api/v2/opensearch",
                json_response({"message": "Too many requests"}, 429, {"Retry-After": "0.02"}),
                json_response({"type": "FeatureCollection", "features": [], "totalResults": 0}))
    events: list[ApiEvent] = []
    client = make_client(on_event=events.append)
    assert client.search(SearchQuery()) == []
    retries = [e for e in events if e.kind == "retry"]
    assert [e.wait for e in retries] == [0.02]
    assert client.stats.rate_limited == 1 and client.stats.retries == 1


def test_502_is_retried_with_backoff(fake: FakeOneAtlas, make_client: Any) -> None:
    bad = json_response({"code": "BAD_GATEWAY"}, 502)
    fake.script("GET", "/api/v1/contracts", bad, bad, json_response(CONTRACTS))
    events: list[ApiEvent] = []
    client = make_client(on_event=events.append)
    client.contracts()
    waits = [e.wait for e in events if e.kind == "retry"]
    assert len(waits) == 2
    assert 0.005 <= waits[0] <= 0.01 and 0.01 <= waits[1] <= 0.02
    assert len(fake.received("/api/v1/contracts")) == 3


def test_persistent_5xx_gives_server_error_after_bounded_retries(fake: FakeOneAtlas,
                                                                  make_client: Any) -> None:
    fake.script("GET", "/api/v1/contracts", json_response({"code": "UNEXPECTED_SERVER_ERROR"}, 500))
    client = make_client()
    with pytest.raises(ServerError, match=r"contract list failed \(500 UNEXPECTED_SERVER_ERROR\)"):
        client.contracts()
    assert len(fake.received("/api/v1/contracts")) == 4  # 1 + 3 retries


def test_huge_retry_after_is_not_waited_for(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.script("POST", "/api/v2/opensearch", json_response({}, 429, {"Retry-After": "600"}))
    client = make_client()
    with pytest.raises(RateLimitedError, match="wait 10 min and run the command again"):
        client.search(SearchQuery())
    assert len(fake.received("/api/v2/opensearch")) == 1


def test_search_429_storm_says_how_many_requests_went_out(fake: FakeOneAtlas,
                                                          make_client: Any) -> None:
    fake.script("POST", "/api/v2/opensearch", json_response({"message": "Too many requests"}, 429))
    client = make_client()
    with pytest.raises(RateLimitedError) as caught:
        client.search(SearchQuery())
    assert "sent 4 times: the first try and 3 retries, each answered 429" in str(caught.value)
    assert len(fake.received("/api/v2/opensearch")) == 4


@pytest.mark.parametrize(("method", "path", "call"), [
    ("POST", "/api/v1/prices", lambda c: c.price(ORDER_BODY)),
    ("GET", "/api/v1/contracts", lambda c: c.contracts()),
    ("POST", "/api/v1/orders", lambda c: c.order(ORDER_BODY)),
])
def test_ordering_429_is_sent_once_and_stops_every_client_of_the_key(
    fake: FakeOneAtlas, make_client: Any, method: str, path: str, call: Any, tmp_path: Path
) -> None:
    fake.script(method, path, json_response({"message": "Too many requests"}, 429))
    fake.script("POST", "/api/v1/prices", json_response({"message": "Too many requests"}, 429))
    # two clients, as in two processes: one machine-wide gate file for the key and host
    gate_file = gate_path(tmp_path, origin_of(fake.base_url), API_KEY)
    first = make_client(gate=FileGate(gate_file))
    second = make_client(gate=FileGate(gate_file))
    with pytest.raises(RateLimitedError) as caught:
        call(first)
    text = str(caught.value)
    assert "rate limited (429): Too many requests" in text
    assert "This request was sent once, not retried" in text
    assert "nothing more was sent" not in text
    assert caught.value.retry_at is not None
    assert f"until {caught.value.retry_at:%Y-%m-%d %H:%M:%S} UTC" in text
    assert len(fake.received(path)) == 1
    assert first.stats.rate_limited == 1 and first.stats.retries == 0
    # every client of the key refrains until the ban is over: nothing is sent
    with pytest.raises(RateLimitedError, match="price not sent: OneAtlas answered 429") as held:
        second.price(ORDER_BODY)
    assert held.value.retry_at == caught.value.retry_at
    assert len(fake.received("/api/v1/prices")) == (1 if path == "/api/v1/prices" else 0)
    assert "prices" not in second.stats.requests


def test_order_drop_after_send_is_outcome_unknown_and_not_resent(fake: FakeOneAtlas,
                                                                 make_client: Any) -> None:
    fake.script("POST", "/api/v1/orders", DROP)
    client = make_client()
    with pytest.raises(OutcomeUnknownError) as caught:
        client.order(ORDER_BODY)
    assert caught.value.customer_reference == "op-1234"
    assert "op-1234" in str(caught.value) and "correlation" in str(caught.value)
    assert len(fake.received("/api/v1/orders")) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_order_5xx_is_outcome_unknown(fake: FakeOneAtlas, make_client: Any, status: int) -> None:
    fake.script("POST", "/api/v1/orders", json_response({"code": "UNEXPECTED"}, status))
    with pytest.raises(OutcomeUnknownError) as caught:
        make_client().order(ORDER_BODY)
    assert caught.value.status == status
    assert len(fake.received("/api/v1/orders")) == 1


def test_order_timeout_is_outcome_unknown(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.script("POST", "/api/v1/orders", json_response({"salesOrderId": "SAL1"}, 201))
    block = fake.block("/api/v1/orders")  # no answer until the client has given up
    session = impatient_for(fake.base_url, "/api/v1/orders")
    client = make_client(timeout=(30.0, 0.2), session=session)
    try:
        with pytest.raises(OutcomeUnknownError, match="no answer in time"):
            client.order(ORDER_BODY)
        block.wait_arrived()  # the server may see it after the client gave up (under load)
    finally:
        block.release()
        session.close()
    assert len(fake.received("/api/v1/orders")) == 1
    assert client.stats.requests["orders"] == 1  # never resent


def test_order_400_is_rejected_with_airbus_message(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.script("POST", "/api/v1/orders", json_response(
        {"errorCode": "E2203", "message": "Unable to access workspace 'ws-1'"}, 400))
    with pytest.raises(RequestRejectedError) as caught:
        make_client().order(ORDER_BODY)
    text = str(caught.value)
    assert text.startswith(
        "order rejected (400 E2203): Unable to access workspace 'ws-1' [correlation ")
    assert caught.value.correlation_id == fake.received("/api/v1/orders")[0].headers[
        "X-Ads-Correlation-Id"]


def test_order_and_quotation_success(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.script("POST", "/api/v1/orders", json_response(
        {"salesOrderId": "SAL21416909", "currency": "EUR", "totalAmount": 250.0}, 201))
    fake.script("POST", "/api/v1/quotations", json_response(
        {"quotationId": "QUO1", "currency": "EUR", "totalAmount": 7600}, 201))
    fake.script("PUT", "/api/v1/contracts/C 1/quotations/QUO1/accept", Response_204())
    client = make_client()
    assert client.order(ORDER_BODY).sales_order_id == "SAL21416909"
    assert client.quotation(ORDER_BODY).quotation_id == "QUO1"
    client.accept_quotation("C 1", "QUO1")
    assert client.stats.requests["accept_quotation"] == 1


def test_order_with_unreadable_success_body_is_outcome_unknown(fake: FakeOneAtlas,
                                                               make_client: Any) -> None:
    fake.script("POST", "/api/v1/orders", json_response({"unexpected": True}, 201))
    with pytest.raises(OutcomeUnknownError):
        make_client().order(ORDER_BODY)


def test_connection_refused_order_is_retried_then_server_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = SleepRecorder()
    client = OneAtlasClient(resolve_endpoint(f"http://127.0.0.1:{port}"), ApiKey(API_KEY),
                            sleep=sleeps, retry=RetryPolicy(retries=2, base_delay=0.01))
    client._tokens.get = lambda: "tok"  # type: ignore[method-assign]
    with pytest.raises(ServerError, match="could not connect"):
        client.order(ORDER_BODY)
    assert client.stats.requests["orders"] == 3  # provably never sent: safe to retry


def test_expired_token_is_renewed_once(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.script("GET", "/api/v1/contracts", json_response(CONTRACTS))
    client = make_client()
    client.contracts()
    fake.revoked.add(fake.tokens[0])
    events: list[ApiEvent] = []
    client._on_event = events.append
    client.contracts()
    assert len(fake.tokens) == 2
    assert [e.kind for e in events].count("token_rejected") == 1


def test_token_refused_twice_is_authentication_error(fake: FakeOneAtlas,
                                                     make_client: Any) -> None:
    fake.script("GET", "/api/v1/contracts",
                json_response({"message": "Authentication failed (cause: Token expired)"}, 401))
    with pytest.raises(AuthenticationError):
        make_client().contracts()
    assert len(fake.tokens) == 2


def test_token_renewed_at_90_percent_of_lifetime(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.expires_in = 100
    fake.script("GET", "/api/v1/contracts", json_response(CONTRACTS))
    now = [0.0]
    client = make_client(clock=lambda: now[0])
    client.contracts()
    now[0] = 89.0
    client.contracts()
    assert len(fake.tokens) == 1
    now[0] = 91.0
    client.contracts()
    assert len(fake.tokens) == 2


def test_bad_key_is_a_clear_non_retried_error(fake: FakeOneAtlas, make_client: Any) -> None:
    client = make_client(api_key="wrong-key-value")
    with pytest.raises(AuthenticationError) as caught:
        client.contracts()
    text = str(caught.value)
    assert "API key refused (403 invalid_grant)" in text and "ONEATLAS_API_KEY" in text
    assert "wrong-key-value" not in text
    assert len(fake.received(TOKEN_PATH)) == 1


def test_not_found(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.script("GET", "/api/v1/contracts/NOPE/productTypes", json_response(
        {"errorCode": "E2203", "message": "CIS contract 'NOPE' not found."}, 404))
    with pytest.raises(NotFoundError, match=r"product types not found \(404 E2203\): CIS contract"):
        make_client().product_types("NOPE")


def test_secrets_never_logged(fake: FakeOneAtlas, make_client: Any,
                              caplog: pytest.LogCaptureFixture) -> None:
    fake.script("GET", "/api/v1/contracts", json_response(CONTRACTS))
    fake.script("POST", "/api/v1/prices", json_response(
        {"message": f"echo {API_KEY}"}, 400))
    caplog.set_level(logging.DEBUG, logger="oneatlas_plan.api")
    client = make_client()
    client.contracts()
    with pytest.raises(RequestRejectedError) as caught:
        client.price(ORDER_BODY)
    assert API_KEY not in str(caught.value)
    text = caplog.text + repr(client) + str(client.stats.as_dict())
    assert "apikey=***" in text and "'Authorization': '***'" in text
    assert API_KEY not in text
    assert fake.tokens[0] not in text


def test_helper_endpoints(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.script("POST", "/api/v1/contracts/C1/productTypes/PleiadesArchiveMono/options",
                json_response({"availableOptions": [
                    {"name": "projection_1", "mandatory": "constraint", "defaultValue": "32631",
                     "constraint": {"condition": "processing_level:(ortho|projected)"},
                     "values": [{"id": "32631"}]}]}))
    fake.script("GET", "/api/v1/C1/properties", json_response(
        {"properties": [], "markets": [{"id": "AGRI", "label": "Agriculture"}]}))
    fake.script("GET", "/api/v1/C1/deliveryTypes", json_response(
        {"deliveryTypes": [{"deliveryTypeId": "network", "label": "FTP + My Data"}]}))
    fake.script("GET", "/api/v1/me", json_response({"id": "u", "contract": {"workspaceId": "w"}}))
    fake.script("POST", "/api/v1/prices", json_response({"totalAmount": 250, "currency": "EUR"}))
    client = make_client()
    geometry = {"type": "Polygon", "coordinates": []}
    options = client.product_options("C1", "PleiadesArchiveMono", geometry)
    assert options[0].default_value == "32631"
    sent = fake.received("/api/v1/contracts/C1/productTypes/PleiadesArchiveMono/options")[0]
    assert json.loads(sent.body) == {"aoi": [{"polygonId": 1, "geometry": geometry}]}
    assert client.markets("C1")[0].id == "AGRI"
    assert client.delivery_types("C1")[0].delivery_type_id == "network"
    me = client.me()
    assert me.contract is not None and me.contract.workspace_id == "w"
    assert client.price(ORDER_BODY).total_amount == 250


def test_search_orders_pages(fake: FakeOneAtlas, make_client: Any) -> None:
    lines = [{"customerReference": f"r{i}", "status": "IN_PROGRESS"} for i in range(5)]

    def page(request: Any) -> Any:
        paging = request.get_json()["paging"]
        start, size = paging["startIndex"], paging["itemsPerPage"]
        return json_response({"paging": {"totalResults": 5}, "features": lines[start:start + size]})

    fake.script("POST", "/api/v2/orders/search", page)
    found = make_client().search_orders("(status:IN_PROGRESS)", items_per_page=2)
    assert [line.customer_reference for line in found] == ["r0", "r1", "r2", "r3", "r4"]
    assert len(fake.received("/api/v2/orders/search")) == 3


def test_search_reads_every_page(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.catalogue = make_catalogue(1203)
    client = make_client()
    found = client.search(SearchQuery())
    assert len(found) == 1203 and len({f.id for f in found}) == 1203
    assert client.stats.requests["search"] == 3


def test_scene_pages_come_one_at_a_time_in_page_order(fake: FakeOneAtlas,
                                                      make_client: Any) -> None:
    fake.catalogue = make_catalogue(1203)
    client = make_client()
    pages = client.scene_pages(SearchQuery())
    first = next(pages)
    assert len(first) == 500 and client.stats.requests["search"] == 1  # read as it arrives
    rest = list(pages)
    assert [len(p) for p in rest] == [500, 203]
    ids = [f.id for page in [first, *rest] for f in page]
    assert ids == [f.id for f in client.search_scenes(SearchQuery())]


def test_search_beyond_the_10000_window_splits_and_deduplicates(fake: FakeOneAtlas,
                                                                make_client: Any) -> None:
    fake.catalogue = make_catalogue(23_456)
    events: list[ApiEvent] = []
    client = make_client(on_event=events.append)
    found = client.search(SearchQuery())
    assert len(found) == 23_456
    assert {f.id for f in found} == {f["properties"]["id"] for f in fake.catalogue}
    dates = [f.properties.acquisition_date or "" for f in found]
    assert dates == sorted(dates, reverse=True)  # newest first, like Airbus's default sort
    assert any(e.kind == "search_split" for e in events)


def test_search_many_runs_concurrently_within_the_limit(fake: FakeOneAtlas,
                                                        make_client: Any) -> None:
    fake.catalogue = make_catalogue(10)
    fake.together = 2  # the first two searches only return once both are in flight
    client = make_client()  # PATIENT: no client retry before the handshake ends
    results = client.search_many([SearchQuery(items_per_page=5)] * 12)
    assert not fake.apart
    assert [len(r) for r in results] == [10] * 12
    assert 2 <= fake.max_in_flight["search"] <= 4


def test_ordering_requests_are_serialised_and_spaced(fake: FakeOneAtlas,
                                                     make_client: Any) -> None:
    fake.config = {"limits": {"ordering_rps": 20, "search_rps": 100, "search_concurrency": 8}}
    fake.script("POST", "/api/v1/prices", json_response({"totalAmount": 1}))
    client = make_client(sleep=__import__("time").sleep)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: client.price(ORDER_BODY), range(6)))
    times = sorted(s.at for s in fake.received("/api/v1/prices"))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.05 * 0.98
    assert fake.max_in_flight["/api/v1/prices"] == 1


def test_download_applies_auth_range_and_refuses_foreign_hosts(fake: FakeOneAtlas,
                                                               make_client: Any) -> None:
    from werkzeug.wrappers import Response

    payload = b"0123456789"

    def serve(request: Any) -> Response:
        start = int(request.headers.get("Range", "bytes=0-")[6:].rstrip("-"))
        headers = {"X-Ads-Checksum-Value": "abc", "X-Ads-Checksum-Method": "md5"}
        if start:
            headers["Content-Range"] = f"bytes {start}-9/10"
        return Response(payload[start:], status=206 if start else 200, headers=headers)

    fake.script("GET", "/api/v1/items/i1/download", serve)
    client = make_client()
    with pytest.raises(ApiError, match="refusing to download"):
        client.open_download("https://evil.example.com/api/v1/items/i1/download")
    with client.open_download(f"{fake.base_url}/api/v1/items/i1/download") as download:
        assert download.checksum == "abc" and download.offset == 0
        assert b"".join(download.iter_chunks(4)) == payload
    with client.open_download(f"{fake.base_url}/api/v1/items/i1/download", offset=4) as download:
        assert download.offset == 4 and download.total_size == 10
        assert b"".join(download.iter_chunks()) == payload[4:]
    seen = fake.received("/api/v1/items/i1/download")
    assert seen[1].headers["Range"] == "bytes=4-"
    assert seen[1].headers["Authorization"].startswith("Bearer tok-")
    assert client.stats.requests["download"] == 2


def Response_204() -> Any:
    from werkzeug.wrappers import Response

    return Response(status=204)


def test_clients_of_one_process_share_the_ordering_budget(fake: FakeOneAtlas,
                                                          make_client: Any) -> None:
    import time

    fake.config = {"limits": {"ordering_rps": 20, "search_rps": 100, "search_concurrency": 8}}
    fake.script("POST", "/api/v1/prices", json_response({"totalAmount": 1}))
    first, second = make_client(sleep=time.sleep), make_client(sleep=time.sleep)
    for _ in range(3):
        first.price(ORDER_BODY)
        second.price(ORDER_BODY)
    times = [s.at for s in fake.received("/api/v1/prices")]
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.05 * 0.98

"""The client against the real sandbox (``oneatlas_plan.sandbox.embedded``), same code path as
production with the sandbox's (time-scaled) limits."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient, new_session
from oneatlas_plan.api.events import ApiEvent
from oneatlas_plan.api.gate import FileGate, gate_path
from oneatlas_plan.api.models import Feature
from oneatlas_plan.api.orders import Aoi, OrderItem, OrderRequest
from oneatlas_plan.api.profiles import origin_of, resolve_endpoint
from oneatlas_plan.api.query import SearchQuery
from oneatlas_plan.api.retry import RetryPolicy
from oneatlas_plan.errors import (
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    RequestRejectedError,
)
from tests.api.conftest import impatient_for
from tests.holds import hold, release, wait_until_held

embedded = pytest.importorskip("oneatlas_plan.sandbox.embedded",
                               reason="the sandbox (oneatlas_plan.sandbox.embedded) is not built")

LEGACY = "Test_E2E_BR_1392-1375"
AOI = {"type": "Polygon", "coordinates": [[[1.41, 43.58], [1.47, 43.58], [1.47, 43.63],
                                           [1.41, 43.63], [1.41, 43.58]]]}
PHR_2022 = SearchQuery(constellations=("PHR",), geometry=AOI, processing_level=("ALBUM",),
                       acquired_from=datetime(2022, 1, 1), acquired_to=datetime(2023, 1, 1))


@pytest.fixture
def sandbox(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    options = getattr(request, "param", {})
    running = embedded.start_embedded(tmp_path, **{"time_scale": 20, **options})
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def connect(sandbox: Any) -> Iterator[Callable[..., OneAtlasClient]]:
    clients: list[OneAtlasClient] = []

    def build(key: str = "sandbox-key", **options: Any) -> OneAtlasClient:
        options.setdefault("retry", RetryPolicy(retries=8, base_delay=0.01, max_delay=0.1))
        client = OneAtlasClient(resolve_endpoint(sandbox.base_url), ApiKey(key), **options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def control(sandbox: Any, name: str) -> Any:
    response = requests.get(f"{sandbox.base_url}/sandbox/v1/{name}", timeout=10)
    response.raise_for_status()
    return response.json()


def order_request(client: OneAtlasClient, feature: Feature, reference: str,
                  **overrides: str) -> OrderRequest:
    options = client.product_options(LEGACY, "PleiadesArchiveMono", AOI)
    chosen = {o.name: o.default_value for o in options if o.mandatory == "true" and o.default_value}
    chosen.update(overrides)
    assert feature.datastrip_id
    return OrderRequest(
        contract_id=LEGACY,
        aois=(Aoi(id=1, name="aoi", geometry=AOI),),
        items=(OrderItem(product_type_id="PleiadesArchiveMono", aoi_id=1,
                         datastrip_ids=(feature.datastrip_id,)),),
        primary_market="NQUAL",
        customer_reference=reference,
        options={"PleiadesArchiveMono": chosen},
    )


def test_catalogue_look_ups_and_price(connect: Callable[..., OneAtlasClient]) -> None:
    client = connect()
    assert client.limits.ordering_rps == pytest.approx(20)  # read from /sandbox/v1/config
    assert {c.contract_id for c in client.contracts()} >= {LEGACY, "CTR21000411"}
    assert any(p.product_type_id == "PleiadesArchiveMono" for p in client.product_types(LEGACY))
    features = client.search(PHR_2022)
    assert features and all(f.properties.constellation == "PHR" for f in features)
    price = client.price(order_request(client, features[0], "price-1").to_body())
    assert price.total_amount > 0 and price.currency == "EUR"


class _Clocks:
    """The client's clock and the sandbox's wall clock, moved together by the test."""

    def __init__(self, sandbox: Any) -> None:
        self.base_url = sandbox.base_url
        self.now = 1_000_000_000.0
        self.advance(0.0)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        requests.post(
            f"{self.base_url}/sandbox/v1/faults", json={"frozen_time": self.now}, timeout=10
        ).raise_for_status()


@pytest.mark.parametrize("sandbox", [{"token_ttl": 2}], indirect=True)
def test_token_renewed_before_expiry_mid_run(
    sandbox: Any, connect: Callable[..., OneAtlasClient]
) -> None:
    clocks = _Clocks(sandbox)
    events: list[ApiEvent] = []
    client = connect(on_event=events.append, clock=clocks)
    for _ in range(13):  # 2.6 s of the 2-s token's life, in steps of 0.2 s
        client.contracts()
        clocks.advance(0.2)
    kinds = [e.kind for e in events]
    assert kinds.count("token") == 2 and "token_rejected" not in kinds


@pytest.mark.parametrize("sandbox", [{"token_ttl": 2}], indirect=True)
def test_expired_token_401_is_renewed_once(
    sandbox: Any, connect: Callable[..., OneAtlasClient]
) -> None:
    clocks = _Clocks(sandbox)
    events: list[ApiEvent] = []
    client = connect(on_event=events.append, clock=lambda: 0.0)  # never renews on its own
    client.contracts()
    clocks.advance(2.1)  # the sandbox now sees the token as expired
    assert client.contracts()
    kinds = [e.kind for e in events]
    assert kinds.count("token_rejected") == 1 and kinds.count("token") == 2


@pytest.mark.parametrize("sandbox", [{"token_ttl": 2, "time_scale": 0.4}], indirect=True)
def test_a_token_that_expires_while_waiting_for_the_turn_is_renewed_before_sending(
    sandbox: Any, connect: Callable[..., OneAtlasClient]
) -> None:
    """The ordering interval (2.5 s here) is longer than the token's life (2 s): the token
    taken before the wait is stale when the turn comes, and each retry would wait again."""
    clocks = _Clocks(sandbox)
    events: list[ApiEvent] = []
    client = connect(on_event=events.append, clock=clocks, sleep=clocks.advance)
    assert client.limits.ordering_interval == pytest.approx(2.5, rel=0.01)
    client.contracts()
    client.product_types(LEGACY)
    client.contracts()
    kinds = [e.kind for e in events]
    assert "token_rejected" not in kinds, kinds
    # a token for each request after a wait (each wait outlives the last one), none refused
    assert kinds.count("token") >= 3
    assert clocks.now >= 1_000_000_000.0 + 2 * 2.5  # the waits did happen (on the test clock)


def test_ordering_storm_stays_within_the_limits(sandbox: Any,
                                                connect: Callable[..., OneAtlasClient]) -> None:
    client = connect()
    feature = client.search(PHR_2022)[0]
    body = order_request(client, feature, "storm").to_body()
    requests.post(f"{sandbox.base_url}/sandbox/v1/reset-stats", timeout=10)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: client.price(body), range(12)))
    stats = control(sandbox, "stats")
    assert stats["bans"] == 0 and stats["too_many_requests"] == 0
    assert stats["max_concurrent_ordering"] == 1
    arrivals = sorted(e["arrived"] for e in stats["ordering_requests"])
    assert len(arrivals) == 12
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= (1 / 20) * 0.98
    assert client.stats.rate_limited == 0


def test_search_storm_has_no_429(sandbox: Any, connect: Callable[..., OneAtlasClient]) -> None:
    client = connect()
    results = client.search_many([PHR_2022] * 24)
    assert len({len(r) for r in results}) == 1
    assert control(sandbox, "stats")["too_many_requests"] == 0
    assert client.stats.rate_limited == 0


@pytest.mark.parametrize("sandbox", [{"error_rate": 0.3, "fault_seed": 7}], indirect=True)
def test_thirty_percent_5xx_is_absorbed_by_retries(connect: Callable[..., OneAtlasClient]) -> None:
    client = connect()
    for _ in range(5):
        assert client.contracts()
        assert client.search(PHR_2022)
    assert client.stats.retries > 0


@pytest.mark.parametrize("sandbox", [{"drop_next_orders": 1}], indirect=True)
def test_commit_then_drop_is_outcome_unknown_with_one_ledger_entry(
    sandbox: Any, connect: Callable[..., OneAtlasClient]
) -> None:
    client = connect()
    feature = client.search(PHR_2022)[0]
    body = order_request(client, feature, "op-drop-1").to_body()
    with pytest.raises(OutcomeUnknownError) as caught:
        client.order(body)
    assert caught.value.customer_reference == "op-drop-1"
    assert client.stats.requests["orders"] == 1
    ledger = [o for o in control(sandbox, "ledger") if o["customerReference"] == "op-drop-1"]
    assert len(ledger) == 1 and ledger[0]["salesOrderId"]


def test_order_succeeds(sandbox: Any, connect: Callable[..., OneAtlasClient]) -> None:
    client = connect()
    feature = client.search(PHR_2022)[0]
    answer = client.order(order_request(client, feature, "op-ok-1").to_body())
    assert answer.sales_order_id and answer.sales_order_id.startswith("SAL")
    assert [o["salesOrderId"] for o in control(sandbox, "ledger")] == [answer.sales_order_id]


@pytest.mark.campaign  # ~20 s of CPU (10,000+ features served and parsed); test_client.py
# covers the window splitting with a fake in the default suite
def test_more_than_10000_results_are_all_returned(connect: Callable[..., OneAtlasClient]) -> None:
    query = SearchQuery(constellations=("PHR", "SPOT"), bbox=(0, 43, 2, 44.5),
                        acquired_from=datetime(2021, 1, 1), acquired_to=datetime(2023, 1, 1))
    client = connect()
    assert client.search_page(query).total_results == 10_000  # the window is full
    features = client.search(query)
    assert len(features) > 10_000
    assert len({f.id for f in features}) == len(features)


def test_bad_key(connect: Callable[..., OneAtlasClient]) -> None:
    client = connect(key="not-the-key")
    with pytest.raises(AuthenticationError) as caught:
        client.contracts()
    assert "not-the-key" not in str(caught.value)
    assert client.stats.requests["token"] == 1


def test_contract_not_found(connect: Callable[..., OneAtlasClient]) -> None:
    with pytest.raises(NotFoundError) as caught:
        connect().product_types("NO-SUCH-CONTRACT")
    assert caught.value.status == 404 and "correlation" in str(caught.value)


def test_option_rejected(connect: Callable[..., OneAtlasClient]) -> None:
    client = connect()
    feature = client.search(PHR_2022)[0]
    body = order_request(client, feature, "op-bad", image_format="bmp").to_body()
    with pytest.raises(RequestRejectedError) as caught:
        client.price(body)
    assert caught.value.status == 400 and caught.value.server_message
    with pytest.raises(RequestRejectedError):
        client.order(body)
    assert client.stats.requests["orders"] == 1  # a 4xx is final: never resent


class GateClock:
    """The gates' clock, frozen except while a gate sleeps: whatever the machine's load does
    to the real clock, a turn that must wait asks ``sleep`` for the whole wait, and
    ``before_next_sleep`` sees that moment. Each sleep also really sleeps (at least what was
    asked), so the pacing the sandbox measures stays real."""

    def __init__(self) -> None:
        self.now = 0.0
        self.before_next_sleep: Callable[[float], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        hook, self.before_next_sleep = self.before_next_sleep, None
        if hook is not None:
            hook(seconds)
        time.sleep(seconds)
        self.now += seconds


def test_after_an_order_timeout_no_ordering_request_meets_it_at_airbus(
    sandbox: Any, connect: Callable[..., OneAtlasClient], tmp_path: Path
) -> None:
    # Airbus holds the order's answer (committed, not sent) until the client has given up
    # after its 0.4 s read timeout. Airbus may still be processing it: the next ordering
    # request, from this or another process of the key, waits until the doubt period (one
    # read timeout after giving up) and the interval have passed. Sending it at once would
    # make two concurrent ordering requests: a ban.
    gate_file = gate_path(tmp_path, origin_of(sandbox.base_url), "sandbox-key")
    clock = GateClock()
    session = impatient_for(sandbox.base_url, "/api/v1/orders")  # setup never times out
    impatient = connect(timeout=(30.0, 0.4), session=session,
                        gate=FileGate(gate_file, clock=clock, sleep=clock.sleep))
    other_process = connect(gate=FileGate(gate_file, clock=clock, sleep=clock.sleep))
    interval = other_process.profile.limits.ordering_interval
    feature = impatient.search(PHR_2022)[0]
    body = order_request(impatient, feature, "slow-1").to_body()
    requests.post(f"{sandbox.base_url}/sandbox/v1/reset-stats", timeout=10).raise_for_status()
    hold(sandbox.base_url, "orders")
    waits: list[float] = []

    def airbus_finishes_within_the_doubt_period(seconds: float) -> None:
        """The other process's turn waits: the order is still at Airbus (the client may have
        given up before the sandbox even read it) and nothing else has been sent; Airbus
        answers now, within the doubt period."""
        waits.append(seconds)
        (entry,) = wait_until_held(sandbox.base_url)
        assert (entry["endpoint"], entry["status"]) == ("orders", 201)
        (request,) = control(sandbox, "stats")["ordering_requests"]
        assert (request["endpoint"], request["completed"]) == ("orders", None)
        release(sandbox.base_url)
        wait_until_completed(sandbox)

    try:
        with pytest.raises(OutcomeUnknownError, match="no answer in time"):
            impatient.order(body)
        clock.before_next_sleep = airbus_finishes_within_the_doubt_period
        other_process.price(body)
    finally:
        release(sandbox.base_url)
        session.close()
    assert waits == [pytest.approx(0.4 + interval)]  # the doubt period, then the interval
    stats = control(sandbox, "stats")
    order, price = sorted(stats["ordering_requests"], key=lambda e: e["arrived"])
    assert (order["endpoint"], price["endpoint"]) == ("orders", "prices")
    assert stats["too_many_requests"] == 0 and stats["max_concurrent_ordering"] == 1
    assert price["arrived"] - order["completed"] >= interval  # the interval, after it ended
    assert len(control(sandbox, "ledger")) == 1  # the order was created, once


def wait_until_completed(sandbox: Any) -> None:
    """Until every ordering request the sandbox received has been answered (a handshake)."""
    deadline = time.monotonic() + 60
    while any(e["completed"] is None for e in control(sandbox, "stats")["ordering_requests"]):
        assert time.monotonic() < deadline, "a released request was never answered"
        time.sleep(0.01)


def test_one_kept_alive_connection_carries_every_call(
    sandbox: Any, connect: Callable[..., OneAtlasClient]
) -> None:
    client = connect()
    assert client._session.trust_env is False  # the environment was read once, up front
    feature = client.search(PHR_2022)[0]
    body = order_request(client, feature, "alive").to_body()
    for _ in range(5):
        client.price(body)
        client.contracts()
    assert client.stats.total >= 14  # config, token, search, options, 5 prices, 5 contracts
    # this client's one connection, plus the one that asks for the stats
    assert control(sandbox, "stats")["tcp_connections"] == 2


def test_proxies_from_the_environment_are_resolved_once_per_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "data.example.com")
    session = new_session(["https://order.example.com", "https://data.example.com"], 4)
    assert session.trust_env is False
    assert session.proxies == {"https://order.example.com": "http://proxy.invalid:3128"}
    session.close()

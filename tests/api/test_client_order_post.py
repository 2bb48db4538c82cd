"""The order POST as Airbus sees it, and the answers that must never lead to a second order
(mutants of api/client.py that tests/api/test_client.py let through: docs/mutation-testing.md)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from werkzeug.wrappers import Response

from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient
from oneatlas_plan.api.profiles import resolve_endpoint
from oneatlas_plan.api.retry import RetryPolicy
from oneatlas_plan.errors import ApiError, OutcomeUnknownError, RequestRejectedError

from .conftest import API_KEY, FakeOneAtlas, SleepRecorder, json_response

BODY: dict[str, Any] = {"contractId": "C1", "customerReference": "oap-1234_x", "items": [1]}
FAST = {"limits": {"ordering_rps": 200, "search_rps": 1000, "search_concurrency": 4,
                   "ban_seconds": 3}}


@pytest.fixture(autouse=True)
def _fast_limits(fake: FakeOneAtlas) -> None:
    fake.config = dict(FAST)


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/quotations"])
def test_the_body_is_posted_once_as_given(
    fake: FakeOneAtlas, make_client: Any, path: str
) -> None:
    fake.script("POST", path, json_response({"salesOrderId": "SAL1", "quotationId": "QUO1"}, 201))
    client = make_client()
    (client.order if path.endswith("orders") else client.quotation)(BODY)
    (seen,) = fake.received(path)
    assert seen.method == "POST"
    assert json.loads(seen.body) == BODY


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/quotations"])
def test_the_amount_charged_is_read_exactly(
    fake: FakeOneAtlas, make_client: Any, path: str
) -> None:
    # what apply records as spent and compares with the plan: never through a binary float
    fake.script("POST", path, Response(
        '{"salesOrderId": "SAL1", "quotationId": "QUO1", "currency": "EUR",'
        ' "totalAmount": 12345678901234567.89}', status=201, content_type="application/json"))
    client = make_client()
    answer = (client.order if path.endswith("orders") else client.quotation)(BODY)
    assert answer.total_amount == Decimal("12345678901234567.89")  # a float: ...567.9 at best


def test_a_408_on_the_order_post_is_outcome_unknown_not_rejected(
    fake: FakeOneAtlas, make_client: Any
) -> None:
    # Airbus may have processed it: recording it "rejected" would order it again next time.
    fake.script("POST", "/api/v1/orders", json_response({"message": "Request Timeout"}, 408))
    with pytest.raises(OutcomeUnknownError) as caught:
        make_client().order(BODY)
    assert caught.value.customer_reference == BODY["customerReference"]
    assert len(fake.received("/api/v1/orders")) == 1


def test_a_409_on_the_order_post_is_rejected(fake: FakeOneAtlas, make_client: Any) -> None:
    fake.script("POST", "/api/v1/orders", json_response({"message": "Conflict"}, 409))
    with pytest.raises(RequestRejectedError):
        make_client().order(BODY)
    assert len(fake.received("/api/v1/orders")) == 1


def test_a_tls_failure_on_the_order_post_is_outcome_unknown_and_never_resent(
    fake: FakeOneAtlas,
) -> None:
    # urllib3 raises the same SSLError for a failed handshake and for a TLS failure while the
    # answer is read, so it never proves the order did not leave: it is not sent again. Here
    # https:// meets the plain-HTTP fake, whose answer to the TLS hello breaks the handshake.
    client = OneAtlasClient(resolve_endpoint(fake.base_url.replace("http:", "https:")),
                            ApiKey(API_KEY), sleep=SleepRecorder(),
                            retry=RetryPolicy(retries=2, base_delay=0.01))
    client._tokens.get = lambda: "tok"  # type: ignore[method-assign]
    try:
        with pytest.raises(OutcomeUnknownError) as caught:
            client.order(BODY)
    finally:
        client.close()
    assert caught.value.customer_reference == BODY["customerReference"]
    assert client.stats.requests["orders"] == 1
    assert fake.seen == []  # the TLS hello never became a request: only the handshake failed


class _CountingGate:
    """A process-local gate that counts the turns it opens and when the body was encoded."""

    def __init__(self, events: list[str]) -> None:
        from oneatlas_plan.api.gate import LocalGate

        self._gate = LocalGate()
        self.events = events

    def turn(self, interval: float) -> Any:
        self.events.append("turn")
        return self._gate.turn(interval)

    def banned_until(self) -> Any:
        return self._gate.banned_until()

    def close(self) -> None:
        pass


def test_the_body_is_encoded_before_the_turn_at_the_gate(
    fake: FakeOneAtlas, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the turn covers the exchange only: encoding happens in the interval the gate waits
    import requests.models

    events: list[str] = []
    # complexjson (json, or simplejson when installed) is missing from the requests stubs
    complexjson = requests.models.complexjson  # type: ignore[attr-defined]
    dumps = complexjson.dumps

    def recorded(value: Any, *args: Any, **kwargs: Any) -> str:
        if value == BODY:  # the fake server shares the json module
            events.append("encode")
        return str(dumps(value, *args, **kwargs))

    monkeypatch.setattr(complexjson, "dumps", recorded)
    fake.script("POST", "/api/v1/orders", json_response({"salesOrderId": "SAL1"}, 201))
    make_client(gate=_CountingGate(events)).order(BODY)
    assert events == ["encode", "turn"]
    assert json.loads(fake.received("/api/v1/orders")[0].body) == BODY


def test_a_body_that_cannot_be_encoded_takes_no_turn_and_sends_nothing(
    fake: FakeOneAtlas, make_client: Any
) -> None:
    events: list[str] = []
    with pytest.raises(ApiError, match=r"could not be encoded.*nothing was sent"):
        make_client(gate=_CountingGate(events)).order({**BODY, "items": [float("nan")]})
    assert events == [] and fake.received("/api/v1/orders") == []

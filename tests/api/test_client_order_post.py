"""The order POST as Airbus sees it, and the answers that must never lead to a second order
(mutants of api/client.py that tests/api/test_client.py let through: docs/mutation-testing.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from oneatlas_plan.errors import ApiError, OutcomeUnknownError, RequestRejectedError

from .conftest import FakeOneAtlas, json_response

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
    dumps = requests.models.complexjson.dumps

    def recorded(value: Any, *args: Any, **kwargs: Any) -> str:
        if value == BODY:  # the fake server shares the json module
            events.append("encode")
        return str(dumps(value, *args, **kwargs))

    monkeypatch.setattr(requests.models.complexjson, "dumps", recorded)
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

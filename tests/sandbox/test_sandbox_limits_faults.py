"""Rate limits and bans, fault knobs, token expiry, persistence, CLI and curl."""

from __future__ import annotations

import itertools
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from oneatlas_plan.sandbox.cli import sandbox as sandbox_group
from oneatlas_plan.sandbox.embedded import start_embedded
from oneatlas_plan.sandbox.store import read_ledger
from tests.holds import hold, release, wait_until_held

from .conftest import LEGACY_WS, Client, legacy_body, toulouse_scene


def test_config_endpoint_reports_scaled_limits(tmp_path: Path) -> None:
    with start_embedded(tmp_path, time_scale=20.0) as sb:
        config = requests.get(sb.base_url + "/sandbox/v1/config").json()
    assert config["limits"]["ordering_rps"] == 20.0
    assert config["limits"]["ordering_concurrency"] == 1
    assert config["limits"]["search_rps"] == 2000.0
    assert config["limits"]["ban_seconds"] == 30.0
    assert config["time_scale"] == 20.0 and config["api_key_hint"].startswith("sandbox-")


def test_ordering_rate_limit_bans_then_recovers(tmp_path: Path) -> None:
    with start_embedded(tmp_path, time_scale=20.0, ban_seconds=16.0) as sb:  # ban 0.8 s
        client = Client(sb)
        body = legacy_body(toulouse_scene(client))
        now = 1_000_000_000.0
        client.control("faults", {"frozen_time": now})  # the sandbox's clock, moved by hand
        first = client.post("/api/v1/prices", body)
        second = client.post("/api/v1/prices", body)
        assert (first.status_code, second.status_code) == (201, 429)
        assert second.json()["message"] == "Too many requests"
        client.control("faults", {"frozen_time": now + 0.1})  # rate respected, key banned
        assert client.post("/api/v1/prices", body).status_code == 429
        stats = client.control("stats")
        assert stats["bans"] == 1 and stats["too_many_requests"] == 2
        client.control("faults", {"frozen_time": now + 0.81})  # the 0.8-s ban is over
        assert client.post("/api/v1/prices", body).status_code == 201


def test_parallel_ordering_requests_are_refused(tmp_path: Path) -> None:
    with start_embedded(tmp_path, time_scale=20.0, ban_seconds=2.0) as sb:
        client = Client(sb)
        body = legacy_body(toulouse_scene(client))
        hold(sb.base_url, "orders", stage="received")  # the first order stays in flight
        results: list[int] = []
        first = threading.Thread(
            target=lambda: results.append(client.post("/api/v1/orders", body).status_code)
        )
        first.start()
        try:
            (in_flight,) = wait_until_held(sb.base_url)
            assert in_flight["endpoint"] == "orders" and in_flight["stage"] == "received"
            second = requests.post(
                client.url("/api/v1/orders"), json=body, headers=client.session.headers, timeout=30
            )
            assert client.control("ledger") == []  # the first is not acted on yet
        finally:
            release(sb.base_url)
            first.join(timeout=60)
        assert results == [201] and second.status_code == 429
        assert second.json()["hint"] == "concurrency"
        stats = client.control("stats")
        assert stats["max_concurrent_ordering"] == 2
        assert [e["status"] for e in stats["ordering_requests"]] == [201, 429]
        assert len(client.control("ledger")) == 1


def test_paced_client_stats_prove_limits_honoured(client: Client) -> None:
    client.control("reset-stats", {})
    scene = toulouse_scene(client)
    for _ in range(4):
        assert client.ordering("POST", "/api/v1/prices", legacy_body(scene)).status_code == 201
    stats = client.control("stats")
    entries = stats["ordering_requests"]
    assert stats["max_concurrent_ordering"] == 1 and len(entries) == 4
    interval = 1.0 / client.control("config")["limits"]["ordering_rps"]
    for previous, current in itertools.pairwise(entries):
        assert current["arrived"] >= previous["completed"]
        assert current["arrived"] - previous["arrived"] >= interval * 0.98


def test_search_rate_limit(tmp_path: Path) -> None:
    with start_embedded(tmp_path, time_scale=0.05) as sb:  # 5 searches per second
        client = Client(sb)
        client.control("faults", {"frozen_time": 1_000_000_000.0})  # all 7 in one instant
        codes = [
            client.post(
                "/api/v2/opensearch", {"itemsPerPage": 1, "bbox": "1,43,1.1,43.1"}
            ).status_code
            for _ in range(7)
        ]
        client.control("faults", {"frozen_time": 1_000_000_001.0})  # one second later
        after = client.post("/api/v2/opensearch", {"itemsPerPage": 1, "bbox": "1,43,1.1,43.1"})
    assert codes == [200] * 5 + [429] * 2
    assert after.status_code == 200


def test_error_rate_fails_before_side_effects(tmp_path: Path) -> None:
    with start_embedded(tmp_path, time_scale=200.0) as sb:
        client = Client(sb)
        body = legacy_body(toulouse_scene(client))
        client.control("faults", {"error_rate": 1.0})
        responses = [client.ordering("POST", "/api/v1/orders", body) for _ in range(6)]
        assert {r.status_code for r in responses} <= {500, 502, 503}
        for r in responses:
            assert (
                r.json() == {"code": "UNEXPECTED_SERVER_ERROR"}
                if r.status_code == 500
                else "message" in r.json() and "correlationId" in r.json()
            )
        search = client.post("/api/v2/opensearch", {})
        assert search.status_code in (500, 502, 503) and "message" in search.json()
        assert client.control("ledger") == []
        client.control("faults", {"error_rate": 0.0})
        assert client.ordering("POST", "/api/v1/orders", body).status_code == 201


def test_latency_and_jitter(tmp_path: Path) -> None:
    with start_embedded(tmp_path, latency_ms=150, jitter_ms=20) as sb:
        client = Client(sb)
        started = time.perf_counter()
        client.get("/api/v1/contracts")
        assert time.perf_counter() - started >= 0.12


def test_token_expiry_bodies(tmp_path: Path) -> None:
    with start_embedded(tmp_path, token_ttl=0.3) as sb:
        client = Client(sb)
        client.control("faults", {"frozen_time": 1_000_000_000.0})
        client.refresh()  # a token issued at the frozen instant
        assert client.get("/api/v1/contracts").status_code == 200
        client.control("faults", {"frozen_time": 1_000_000_000.4})
        order = client.post("/api/v1/prices", {})
        assert order.status_code == 401
        assert order.json() == {"message": "Authentication failed (cause: Token expired)"}
        search = client.post("/api/v2/opensearch", {})
        assert search.status_code == 401
        assert {"correlationId", "message", "timestamp"} <= set(search.json())
        client.refresh()
        assert client.post("/api/v2/opensearch", {"itemsPerPage": 1}).status_code == 200


def test_token_endpoint_errors(client: Client) -> None:
    url = client.url("/auth/realms/IDP/protocol/openid-connect/token")
    bad_key = requests.post(
        url, data={"apikey": "nope", "grant_type": "api_key", "client_id": "IDP"}
    )
    assert bad_key.status_code == 403 and "message" in bad_key.json()
    assert (
        requests.post(
            url, data={"apikey": "sandbox-key", "grant_type": "password", "client_id": "IDP"}
        ).status_code
        == 400
    )
    assert requests.get(client.url("/api/v1/contracts")).status_code == 401


def test_commit_then_drop(tmp_path: Path) -> None:
    with start_embedded(tmp_path, time_scale=200.0, drop_next_orders=1) as sb:
        client = Client(sb)
        body = legacy_body(toulouse_scene(client), reference_text="dropped-1")
        with pytest.raises(requests.ConnectionError):
            client.ordering("POST", "/api/v1/orders", body)
        ledger = client.control("ledger")
        assert [o["customerReference"] for o in ledger] == ["dropped-1"]
        assert ledger[0]["salesOrderId"].startswith("SAL")
        assert client.ordering("POST", "/api/v1/orders", body).status_code == 201
        client.control("faults", {"drop_probability": 1.0})
        with pytest.raises(requests.ConnectionError):
            client.ordering("POST", "/api/v1/orders", body)
        assert len(client.control("ledger")) == 3
        assert client.control("stats")["dropped_connections"] == 2


def test_held_answer_lets_a_client_die_after_commit(tmp_path: Path) -> None:
    with start_embedded(tmp_path, time_scale=200.0) as sb:
        client = Client(sb)
        body = legacy_body(toulouse_scene(client), reference_text="slow-1")
        hold(sb.base_url, "orders")  # committed, then the answer waits for the release
        with pytest.raises(requests.ReadTimeout):
            client.ordering("POST", "/api/v1/orders", body, timeout=(30, 0.2))
        (in_flight,) = wait_until_held(sb.base_url)
        assert (in_flight["customerReference"], in_flight["status"]) == ("slow-1", 201)
        assert [o["customerReference"] for o in client.control("ledger")] == ["slow-1"]
        assert release(sb.base_url) == [in_flight["id"]]


def _open_connections(base_url: str, until: int | None = None) -> int:
    """The sandbox's open connections (this one's included); with ``until``, poll until
    that many are left (the sandbox closes a connection once it reads the peer's end)."""
    deadline = time.monotonic() + 60  # bounds a failure only
    while True:
        count = int(requests.get(base_url + "/sandbox/v1/stats", timeout=10).json()[
            "open_connections"])
        if until is None or count == until:
            return count
        assert time.monotonic() < deadline, f"{count} connections open, not {until}"
        time.sleep(0.01)


def test_a_dead_client_connection_stays_open_until_what_it_sent_is_answered(
    tmp_path: Path,
) -> None:
    # A client killed right after sending: the sandbox still acts on its request, and its
    # connection counts as open until then (the crash tests wait on this after a kill).
    with start_embedded(tmp_path, time_scale=200.0) as sb:
        client = Client(sb)
        body = json.dumps(legacy_body(toulouse_scene(client), reference_text="dead-1"))
        client.session.close()
        _open_connections(sb.base_url, until=1)
        hold(sb.base_url, "orders", stage="received")  # read, not acted on
        host, port = sb.base_url.removeprefix("http://").split(":")
        authorization = client.session.headers["Authorization"]
        assert isinstance(authorization, str)  # the "Bearer …" str the Client set
        with socket.create_connection((host, int(port)), timeout=10) as dead:
            dead.sendall(
                f"POST /api/v1/orders HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: {authorization}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                f"{body}".encode()
            )
        wait_until_held(sb.base_url)
        assert _open_connections(sb.base_url) >= 2  # the dead one, held, and this one
        assert client.control("ledger") == []
        release(sb.base_url)
        _open_connections(sb.base_url, until=1)
        assert [o["customerReference"] for o in client.control("ledger")] == ["dead-1"]


def test_order_delay_answers_after_commit(tmp_path: Path) -> None:
    with start_embedded(tmp_path, time_scale=200.0, order_delay_ms=300) as sb:
        client = Client(sb)
        body = legacy_body(toulouse_scene(client), reference_text="slow-2")
        started = time.perf_counter()
        assert client.ordering("POST", "/api/v1/orders", body).status_code == 201
        assert time.perf_counter() - started >= 0.3
        assert [o["customerReference"] for o in client.control("ledger")] == ["slow-2"]


def _post_in_thread(client: Client, body: dict[str, Any], times: int = 1) -> tuple[
    threading.Thread, list[int]
]:
    codes: list[int] = []

    def post() -> None:
        for _ in range(times):
            codes.append(client.ordering("POST", "/api/v1/orders", body).status_code)

    thread = threading.Thread(target=post)
    thread.start()
    return thread, codes


def test_hold_at_received_acts_only_once_released(tmp_path: Path) -> None:
    with start_embedded(tmp_path, time_scale=200.0) as sb:
        client = Client(sb)
        body = legacy_body(toulouse_scene(client), reference_text="held-1")
        hold(sb.base_url, "orders", "quotations", stage="received")
        assert client.control("held")["armed"] == [
            {"endpoints": ["orders", "quotations"], "stage": "received", "remaining": 1}
        ]
        thread, codes = _post_in_thread(client, body)
        try:
            (entry,) = wait_until_held(sb.base_url)
            assert {k: v for k, v in entry.items() if k not in ("id", "heldAt")} == {
                "endpoint": "orders",
                "stage": "received",
                "method": "POST",
                "path": "/api/v1/orders",
                "customerReference": "held-1",
            }
            assert client.control("held")["armed"] == []  # the one hold is taken
            assert client.control("ledger") == []  # received, not acted on
            assert codes == []
        finally:
            released = release(sb.base_url, [entry["id"]])
            thread.join(timeout=60)
        assert released == [entry["id"]] and codes == [201]
        assert [o["customerReference"] for o in client.control("ledger")] == ["held-1"]
        assert client.control("held") == {"armed": [], "held": []}


def test_hold_counts_requests_and_releases_them_one_by_one(tmp_path: Path) -> None:
    with start_embedded(tmp_path, time_scale=200.0) as sb:
        client = Client(sb)
        body = legacy_body(toulouse_scene(client), reference_text="held-2")
        hold(sb.base_url, "orders", count=2)  # stage "handled" by default
        thread, codes = _post_in_thread(client, body, times=3)
        try:
            (first,) = wait_until_held(sb.base_url)
            assert (first["stage"], first["status"]) == ("handled", 201)
            assert len(client.control("ledger")) == 1 and codes == []  # committed, unanswered
            assert client.control("held")["armed"][0]["remaining"] == 1
            assert release(sb.base_url, [first["id"]]) == [first["id"]]
            (second,) = wait_until_held(sb.base_url)
            assert second["id"] != first["id"] and len(client.control("ledger")) == 2
            assert codes == [201]
            assert release(sb.base_url, [first["id"]]) == []  # already gone
        finally:
            release(sb.base_url)
            thread.join(timeout=60)
        assert codes == [201, 201, 201]  # the third was not held: the hold counted two
        assert client.control("held") == {"armed": [], "held": []}


@pytest.mark.parametrize(
    "body",
    [
        {"endpoints": ["nope"]},
        {"endpoints": ["ctl_faults"]},
        {"endpoints": []},
        {"endpoints": ["orders"], "stage": "later"},
        {"endpoints": ["orders"], "count": 0},
        {"endpoints": ["orders"], "count": "2"},
        {"endpoints": ["orders"], "for": 3},
        ["orders"],
    ],
)
def test_hold_validates(client: Client, body: Any) -> None:
    response = requests.post(client.url("/sandbox/v1/hold"), json=body)
    assert response.status_code == 400, response.text
    assert client.control("held")["armed"] == []


def test_release_validates(client: Client) -> None:
    for body in ({"ids": "1"}, {"ids": [True]}, {"all": True}):
        assert requests.post(client.url("/sandbox/v1/release"), json=body).status_code == 400


@pytest.mark.parametrize("path", ["hold", "release", "faults"])
def test_control_bodies_that_are_not_json_get_a_400(client: Client, path: str) -> None:
    response = requests.post(client.url(f"/sandbox/v1/{path}"), data=b"{nope")
    assert response.status_code == 400 and "Malformed JSON" in response.json()["message"]


def test_stopping_the_sandbox_releases_held_requests(tmp_path: Path) -> None:
    sb = start_embedded(tmp_path, time_scale=200.0)
    try:
        client = Client(sb)
        body = legacy_body(toulouse_scene(client))
        hold(sb.base_url, "orders", stage="received")
        thread, codes = _post_in_thread(client, body)
        wait_until_held(sb.base_url)
    finally:
        sb.stop()
    thread.join(timeout=60)
    assert not thread.is_alive() and codes == [503]  # answered, nothing acted on
    assert read_ledger(tmp_path) == []


def test_faults_endpoint_validates(client: Client) -> None:
    current = client.control("faults")
    assert set(current) >= {
        "error_rate",
        "latency_ms",
        "jitter_ms",
        "token_ttl",
        "drop_next_orders",
        "drop_probability",
        "order_delay_ms",
        "delivery_delay_s",
    }
    bad = requests.post(client.url("/sandbox/v1/faults"), json={"nope": 1})
    assert bad.status_code == 400


def test_persistence_across_restarts_and_ledger_cli(tmp_path: Path) -> None:
    with start_embedded(tmp_path, time_scale=200.0) as sb:
        client = Client(sb)
        first = client.ordering(
            "POST",
            "/api/v1/orders",
            legacy_body(toulouse_scene(client), reference_text="persist-1"),
        )
        first_id = first.json()["salesOrderId"]
    with start_embedded(tmp_path, time_scale=200.0) as sb:
        client = Client(sb)
        delivered = client.search(workspace=LEGACY_WS, customerReference="persist-1")
        assert [f["properties"]["internalReference"] for f in delivered["features"]] == [first_id]
        second = client.ordering(
            "POST",
            "/api/v1/orders",
            legacy_body(toulouse_scene(client), reference_text="persist-2"),
        )
        assert int(second.json()["salesOrderId"][3:]) == int(first_id[3:]) + 1
    result = CliRunner().invoke(sandbox_group, ["ledger", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    ledger = json.loads(result.output)
    assert [o["customerReference"] for o in ledger] == ["persist-1", "persist-2"]
    assert ledger[0]["body"]["customerReference"] == "persist-1"


def _serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    code = "from oneatlas_plan.sandbox.cli import sandbox; sandbox()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", "0", "--data-dir", str(tmp_path), *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    second = proc.stdout.readline()
    assert second.strip() == "API key: sandbox-key"
    return proc, first.strip().rsplit(" ", 1)[-1]


def test_serve_command_and_curl(tmp_path: Path) -> None:
    proc, base = _serve(tmp_path, "--time-scale", "20")
    try:
        assert base.startswith("http://127.0.0.1:")
        assert requests.get(base + "/sandbox/v1/config").json()["limits"]["ordering_rps"] == 20.0
        if shutil.which("curl") is None:
            pytest.skip("curl not installed")
        token = json.loads(
            subprocess.run(
                [
                    "curl",
                    "-sS",
                    "-X",
                    "POST",
                    base + "/auth/realms/IDP/protocol/openid-connect/token",
                    "-d",
                    "apikey=sandbox-key",
                    "-d",
                    "grant_type=api_key",
                    "-d",
                    "client_id=IDP",
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )["access_token"]
        answer: dict[str, Any] = json.loads(
            subprocess.run(
                [
                    "curl",
                    "-sS",
                    "-X",
                    "POST",
                    base + "/api/v2/opensearch",
                    "-H",
                    f"Authorization: Bearer {token}",
                    "-H",
                    "Content-Type: application/json",
                    "-d",
                    json.dumps({"itemsPerPage": 10, "startPage": 1, "workspace": "public"}),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        assert len(answer["features"]) == 10 and answer["totalResults"] == 10_000
    finally:
        proc.terminate()
        proc.communicate(timeout=10)

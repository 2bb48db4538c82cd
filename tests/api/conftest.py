"""A small scriptable OneAtlas look-alike (werkzeug, loopback, port 0) for fault-injection tests.

Every route can be given a script: a list of replies served in turn (the last one repeats).
A reply is a werkzeug Response, a callable ``(request) -> Response``, or :data:`DROP` (read the
request, then close the connection without answering). ``block(path)`` holds the requests to a
path until the test releases them (a handshake, never a delay to outlast).

Clients get a generous timeout (:data:`PATIENT`): under load a loopback answer can take seconds,
and only a test about timeouts should ever see one; such a test makes its request wait for
sure (``block``) and is impatient for that request alone (:func:`impatient_for`).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient, new_session
from oneatlas_plan.api.profiles import resolve_endpoint
from oneatlas_plan.api.retry import RetryPolicy

API_KEY = "test-key-0123456789"
TOKEN_PATH = "/auth/realms/IDP/protocol/openid-connect/token"
DROP = object()
PATIENT = (30.0, 30.0)  # (connect, read) seconds: never reached by a loopback answer


def reference_json(name: str) -> Any:
    from tests.reference import reference_json as located

    return located(name)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers or {},
                    content_type="application/json")


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Block:
    """Requests wait here until the test releases them; ``wait_arrived`` is the handshake that
    one is waiting. The fixture releases every block at the end, so nothing hangs."""

    def __init__(self) -> None:
        self._arrived = threading.Event()
        self._released = threading.Event()

    def wait(self) -> None:
        self._arrived.set()
        self._released.wait()

    def wait_arrived(self, timeout: float = 60) -> None:
        assert self._arrived.wait(timeout), f"no request reached the block within {timeout} s"

    def release(self) -> None:
        self._released.set()


@dataclass
class FakeOneAtlas:
    """State of the fake server; tests script routes and read what was received."""

    base_url: str = ""
    expires_in: float = 3600.0
    config: dict[str, Any] | None = None
    scripts: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    blocked: dict[str, Block] = field(default_factory=dict)
    # The first ``together`` searches wait for each other (a handshake: they can only all
    # pass if the client has them in flight at once; otherwise the wait times out, and
    # ``apart`` says so, whatever the client's retries do next).
    together: int = 0
    arrivals: int = 0
    apart: bool = False
    _barrier: threading.Barrier | None = field(default=None, repr=False)
    catalogue: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, method: str, path: str, *replies: Any) -> None:
        self.scripts[(method, path)] = list(replies)

    def block(self, path: str) -> Block:
        """Hold every request to ``path`` (after recording it) until ``release()``."""
        self.blocked[path] = Block()
        return self.blocked[path]

    def _meet(self, kind: str) -> None:
        if kind != "search" or not self.together:
            return
        with self.lock:
            self.arrivals += 1
            if self.arrivals > self.together:
                return
            if self._barrier is None:
                self._barrier = threading.Barrier(self.together)
            barrier = self._barrier
        try:
            barrier.wait(timeout=20)
        except threading.BrokenBarrierError:
            self.apart = True
            raise

    def received(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    # ------------------------------------------------------------------ serving

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data()
        kind = "search" if request.path.endswith("opensearch") else request.path
        with self.lock:
            self.seen.append(Seen(request.method, request.path, dict(request.headers), body,
                                  time.monotonic()))
            self.in_flight[kind] = self.in_flight.get(kind, 0) + 1
            self.max_in_flight[kind] = max(self.max_in_flight.get(kind, 0), self.in_flight[kind])
        try:
            self._meet(kind)
            block = self.blocked.get(request.path)
            if block is not None:
                block.wait()
            reply = self._reply(request)
            if reply is DROP:
                sock: socket.socket = environ["werkzeug.socket"]
                sock.shutdown(socket.SHUT_RDWR)
                start_response("200 OK", [])
                return []
            return reply(environ, start_response)
        finally:
            with self.lock:
                self.in_flight[kind] -= 1

    def _reply(self, request: Request) -> Any:
        key = (request.method, request.path)
        if request.path == TOKEN_PATH and key not in self.scripts:
            return self._token(request)
        if request.path == "/sandbox/v1/config":
            return json_response(self.config) if self.config else json_response({}, 404)
        denied = self._check_auth(request) if request.path != TOKEN_PATH else None
        if denied is not None:
            return denied
        script = self.scripts.get(key)
        if script:
            reply = script.pop(0) if len(script) > 1 else script[0]
            return reply(request) if callable(reply) and not isinstance(reply, Response) else reply
        if request.path == "/api/v2/opensearch":
            return self._search(request)
        return json_response({"message": f"no route {request.path}"}, 404)

    def _token(self, request: Request) -> Response:
        if request.form.get("apikey") != API_KEY or request.form.get("grant_type") != "api_key":
            return json_response({"error": "invalid_grant", "error_description": "Invalid key"},
                                 403)
        with self.lock:
            token = f"tok-{len(self.tokens) + 1}-abcdef"
            self.tokens.append(token)
        return json_response({"access_token": token, "expires_in": self.expires_in,
                              "refresh_expires_in": 0, "token_type": "Bearer"})

    def _check_auth(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        if token not in self.tokens or token in self.revoked:
            return json_response({"message": "Authentication failed (cause: Token expired)"}, 401)
        return None

    def _search(self, request: Request) -> Response:
        """Date-range filtering with a 10,000-result window, like Airbus."""
        body = request.get_json()
        items = self.catalogue
        rng = body.get("acquisitionDate")
        if rng:
            low, _, high = rng.strip("[]").partition(",")
            items = [f for f in items
                     if (not low or f["properties"]["acquisitionDate"] >= low)
                     and (not high or f["properties"]["acquisitionDate"] <= high)]
        size, page = body.get("itemsPerPage", 50), body.get("startPage", 1)
        start = (page - 1) * size
        if start + size > 10_000:
            return json_response({"message": "Result window is too large"}, 400)
        return json_response({"type": "FeatureCollection", "error": False,
                              "totalResults": min(len(items), 10_000), "startIndex": start,
                              "itemsPerPage": size, "features": items[start:start + size]})


def make_catalogue(count: int, *, duplicates: int = 0) -> list[dict[str, Any]]:
    """``count`` features, one every 7 minutes from 2022-01-01, newest first."""
    origin = datetime(2022, 1, 1, tzinfo=UTC)
    features: list[dict[str, Any]] = []
    for index in range(count):
        when = origin + timedelta(minutes=7 * index)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
        features.append({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            "properties": {"id": f"item-{index:06d}", "acquisitionDate": stamp},
            "_links": {},
        })
    features.sort(key=lambda f: f["properties"]["acquisitionDate"], reverse=True)
    return features


@pytest.fixture
def fake() -> Iterator[FakeOneAtlas]:
    state = FakeOneAtlas()
    server = make_server("127.0.0.1", 0, state, threaded=True)
    state.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        for block in state.blocked.values():
            block.release()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class SleepRecorder:
    """Records requested sleeps; sleeps for real only up to ``cap`` seconds."""

    def __init__(self, cap: float = 0.0) -> None:
        self.calls: list[float] = []
        self.cap = cap

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.cap:
            time.sleep(min(seconds, self.cap))


@pytest.fixture
def make_client(fake: FakeOneAtlas) -> Iterator[Callable[..., OneAtlasClient]]:
    clients: list[OneAtlasClient] = []

    def build(**options: Any) -> OneAtlasClient:
        options.setdefault("sleep", SleepRecorder())
        options.setdefault("retry", RetryPolicy(retries=3, base_delay=0.01, max_delay=0.05))
        options.setdefault("timeout", PATIENT)
        key = ApiKey(options.pop("api_key", API_KEY))
        client = OneAtlasClient(resolve_endpoint(fake.base_url), key, **options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


class _ImpatientFor(HTTPAdapter):
    """Sends requests to one path with the client's own timeout, every other one with
    :data:`PATIENT`."""

    def __init__(self, path: str) -> None:
        super().__init__(max_retries=0)
        self._path = path

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        if urlsplit(request.url or "").path != self._path:
            timeout = PATIENT
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                            proxies=proxies)


def impatient_for(base_url: str, path: str) -> requests.Session:
    """A session for a client whose (short) timeout is what the test is about: only requests
    to ``path`` are sent with it; the token, the limits and every other request get
    :data:`PATIENT`, so they cannot time out under load. The client still believes its
    timeout (its doubt period after giving up is that timeout). The caller closes it."""
    session = new_session([base_url], 4)
    session.mount(base_url, _ImpatientFor(path))
    return session

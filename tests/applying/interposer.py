"""The sandbox over real HTTP, with a WSGI layer in front that can change what "Airbus" answers.

Everything reaches the real sandbox app unless a test asked otherwise for the next request(s)
to a path: ``answer`` replies in its place (the sandbox never sees the request, so nothing is
created), ``rewrite`` lets the sandbox answer and then edits the JSON body (a price that rose
between plan and apply), ``ask`` edits the JSON request before the sandbox reads it (a search
that also returns near misses). ``posts`` counts what the client sent, per path, ``sent`` lists
the JSON bodies.
"""

from __future__ import annotations

import io
import json
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from oneatlas_plan.sandbox.embedded import make_config
from oneatlas_plan.sandbox.server import build_app, serve_in_thread
from tests.conftest import API_KEY, ROOT, World

ORDERING = ("/api/v1/orders", "/api/v1/quotations")  # legacy orders; Pléiades Neo quotations
PRICES = "/api/v1/prices"
TOO_MANY = {"message": "Too many requests", "hint": "rate", "internalCode": 429}

Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class _Answer:
    paths: frozenset[str]
    status: int
    body: dict[str, Any]
    left: int
    skip: int = 0  # requests to let through to the sandbox first


@dataclass
class _Rewrite:
    paths: frozenset[str]
    change: Rewrite
    left: int | None  # None: every request


class Interposer:
    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._answers: list[_Answer] = []
        self._rewrites: list[_Rewrite] = []
        self._asks: list[_Rewrite] = []
        self._posts: Counter[str] = Counter()
        self._bodies: dict[str, list[Any]] = {}

    def answer(
        self,
        paths: str | Iterable[str],
        status: int,
        body: dict[str, Any],
        times: int = 1,
        after: int = 0,
    ) -> None:
        """The next ``times`` POSTs to any of ``paths`` (once ``after`` of them have reached the
        sandbox) get this answer instead of the sandbox's."""
        wanted = frozenset([paths] if isinstance(paths, str) else paths)
        with self._lock:
            self._answers.append(_Answer(wanted, status, body, times, after))

    def rewrite(
        self, paths: str | Iterable[str], change: Rewrite, times: int | None = None
    ) -> None:
        wanted = frozenset([paths] if isinstance(paths, str) else paths)
        with self._lock:
            self._rewrites.append(_Rewrite(wanted, change, times))

    def ask(self, paths: str | Iterable[str], change: Rewrite) -> None:
        """Every POST to ``paths`` reaches the sandbox as ``change(request body)``."""
        wanted = frozenset([paths] if isinstance(paths, str) else paths)
        with self._lock:
            self._asks.append(_Rewrite(wanted, change, None))

    def posts(self, *paths: str) -> int:
        with self._lock:
            return sum(self._posts[p] for p in paths)

    def sent(self, path: str) -> list[Any]:
        """The JSON bodies POSTed to ``path`` so far, as the sandbox received them."""
        with self._lock:
            return list(self._bodies.get(path, []))

    def _take(self, method: str, path: str) -> tuple[_Answer | None, _Rewrite | None]:
        with self._lock:
            if method == "POST":
                self._posts[path] += 1
                answer = next((a for a in self._answers if path in a.paths and a.left > 0), None)
                if answer is not None and answer.skip > 0:
                    answer.skip -= 1
                elif answer is not None:
                    answer.left -= 1
                    return answer, None
            rewrite = next(
                (r for r in self._rewrites if path in r.paths and (r.left is None or r.left > 0)),
                None,
            )
            if rewrite is not None and rewrite.left is not None:
                rewrite.left -= 1
            return None, rewrite

    def _edit_request(self, environ: dict[str, Any]) -> None:
        if environ["REQUEST_METHOD"] != "POST":
            return
        path = environ["PATH_INFO"]
        with self._lock:
            asks = [a for a in self._asks if path in a.paths]
        raw = Request(environ).get_data()
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            body = json.loads(raw)
        except ValueError:  # empty, or a form (the token request): passed on as it came
            return
        for ask in asks:
            body = ask.change(body)
        with self._lock:
            self._bodies.setdefault(path, []).append(body)
        if asks:
            data = json.dumps(body).encode()
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self._edit_request(environ)
        answer, rewrite = self._take(environ["REQUEST_METHOD"], environ["PATH_INFO"])
        if answer is not None:
            Request(environ).get_data()  # read the body, as a server would
            reply = Response(json.dumps(answer.body), answer.status,
                             content_type="application/json")
            return reply(environ, start_response)
        if rewrite is not None:
            real = Response.from_app(self._app, environ)
            if real.status_code < 300:
                data = rewrite.change(json.loads(real.get_data()))
                real = Response(json.dumps(data), real.status_code,
                                content_type="application/json")
            return real(environ, start_response)
        return self._app(environ, start_response)


@dataclass
class Airbus:
    world: World
    wire: Interposer


@pytest.fixture
def airbus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Airbus]:
    """Like the ``world`` fixture, with an :class:`Interposer` in front of the sandbox."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "specs", project / "specs")
    monkeypatch.chdir(project)
    monkeypatch.setenv("ONEATLAS_API_KEY", API_KEY)
    monkeypatch.delenv("ONEATLAS_ENDPOINT", raising=False)
    monkeypatch.delenv("ONEATLAS_STATE", raising=False)
    app = build_app(make_config(API_KEY, time_scale=50), tmp_path / "sandbox-data")
    wire = Interposer(app)
    server, thread = serve_in_thread(wire, "127.0.0.1", 0)
    try:
        yield Airbus(World(f"http://127.0.0.1:{server.server_port}", project), wire)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        app.close()

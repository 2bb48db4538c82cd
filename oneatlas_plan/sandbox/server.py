"""Serving the sandbox app with werkzeug's threaded server on loopback."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

from .app import SandboxApp
from .config import SandboxConfig
from .faults import CLOSE_AFTER_RESPONSE

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class QuietHandler(WSGIRequestHandler):
    """Request handler that does not log every request to stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logging.getLogger("oneatlas_plan.sandbox").debug("%s %s", self.requestline, code)


class _BodyOnly(io.RawIOBase):
    """The request's body and nothing more: werkzeug drains its input after each response,
    which on a kept-alive connection would swallow the next request."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream = stream
        self._left = length

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self._left:
            size = self._left
        data: bytes = self._stream.read(size) if size > 0 else b""
        self._left -= len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        data = self._stream.read(min(len(buffer), self._left))
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        limit = self._left if size is None or size < 0 else min(size, self._left)
        data: bytes = self._stream.readline(limit) if limit > 0 else b""
        self._left -= len(data)
        return data


class KeepAliveHandler(QuietHandler):
    """HTTP/1.1 with kept-alive connections, as Airbus's hosts answer (werkzeug's development
    server closes every connection). Each accepted connection is counted in the stats."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle kept-alive connection is closed after this many seconds
    _keep_alive = False

    def setup(self) -> None:
        super().setup()
        # headers and body leave in separate writes: without this, Nagle's algorithm holds the
        # body back until the client's delayed ACK (40 ms) on a kept-alive connection
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self) -> None:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        self._keep_alive = not chunked and not self.close_connection
        if self._keep_alive:
            length = int(self.headers.get("Content-Length") or 0)
            connection_reader = self.rfile
            self.rfile = _BodyOnly(connection_reader, length)  # type: ignore[assignment]
            try:
                super().run_wsgi()
                self.rfile.read()  # a body the app did not read (a 429) is not a request
            finally:
                self.rfile = connection_reader
        else:
            super().run_wsgi()

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == CLOSE_AFTER_RESPONSE.lower():
            self.close_connection = True  # a simulated network cut: nothing more on this one
            return
        if keyword.lower() == "connection" and value.lower() == "close" and self._keep_alive:
            return
        super().send_header(keyword, value)

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        self.close_connection = True


class _CountingServer(ThreadedWSGIServer):
    """Counts connections (``tcp_connections``, ``open_connections`` in the stats) when they
    are accepted, in the accepting thread: a connection accepted before the one asking for
    the stats is counted in its answer, even if its own thread has not run yet."""

    def _limiter(self) -> Any:
        app = getattr(self, "app", None)  # a test may wrap the app: then nothing is counted
        return app.limiter if isinstance(app, SandboxApp) else None

    def process_request(self, request: Any, client_address: Any) -> None:
        limiter = self._limiter()
        if limiter is not None:
            limiter.connection_opened()
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            limiter = self._limiter()
            if limiter is not None:
                limiter.connection_closed()


def load_catalog(path: Path) -> list[dict[str, Any]]:
    """Fixed features from a GeoJSON FeatureCollection (or a single Feature) file."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    features = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
    out = []
    for feature in features or []:
        if (
            not isinstance(feature, dict)
            or "geometry" not in feature
            or "id" not in feature.get("properties", {})
        ):
            raise ValueError(f"{path}: every feature needs a geometry and properties.id")
        out.append(feature)
    return out


def build_app(config: SandboxConfig, data_dir: Path) -> SandboxApp:
    fixed: list[dict[str, Any]] = []
    for name in config.catalog_files:
        fixed.extend(load_catalog(Path(name)))
    return SandboxApp(config, data_dir, fixed)


def serve_in_thread(
    app: WSGIApplication, host: str = "127.0.0.1", port: int = 0
) -> tuple[BaseWSGIServer, threading.Thread]:
    if host not in LOOPBACK:
        raise ValueError(f"the sandbox only listens on loopback, not {host!r}")
    server = _CountingServer(host, port, app, handler=KeepAliveHandler)
    # a short poll interval: stop() (shutdown) waits for the loop to notice, up to that long
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="oneatlas-sandbox",
        daemon=True,
    )
    thread.start()
    return server, thread

"""Serving the sandbox app with werkzeug's threaded server on loopback."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import SandboxApp
from .config import SandboxConfig

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class QuietHandler(WSGIRequestHandler):
    """Request handler that does not log every request to stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logging.getLogger("oneatlas_plan.sandbox").debug("%s %s", self.requestline, code)


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
    app: SandboxApp, host: str = "127.0.0.1", port: int = 0
) -> tuple[BaseWSGIServer, threading.Thread]:
    if host not in LOOPBACK:
        raise ValueError(f"the sandbox only listens on loopback, not {host!r}")
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="oneatlas-sandbox", daemon=True)
    thread.start()
    return server, thread

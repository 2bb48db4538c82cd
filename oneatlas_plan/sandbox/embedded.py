"""Start the sandbox in-process (background thread, ephemeral port) for ``--sandbox`` and tests."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from types import TracebackType
from typing import Any

from .config import Faults, SandboxConfig
from .server import build_app, serve_in_thread

_FAULT_KEYS = {f.name for f in fields(Faults)}
_CONFIG_KEYS = {f.name for f in fields(SandboxConfig)} - {"faults", "lock", "api_key"}


def make_config(api_key: str = "sandbox-key", **options: Any) -> SandboxConfig:
    """A SandboxConfig from keyword options (config fields and fault knobs)."""
    unknown = set(options) - _FAULT_KEYS - _CONFIG_KEYS
    if unknown:
        raise TypeError(f"unknown sandbox options: {', '.join(sorted(unknown))}")
    faults = Faults(**{k: v for k, v in options.items() if k in _FAULT_KEYS})
    config = {k: v for k, v in options.items() if k in _CONFIG_KEYS}
    if "catalog_files" in config:
        config["catalog_files"] = tuple(str(p) for p in config["catalog_files"])
    return SandboxConfig(api_key=api_key, faults=faults, **config)


class RunningSandbox:
    """A sandbox serving in a background thread; stop it with ``.stop()`` or ``with``."""

    def __init__(
        self, data_dir: Path, config: SandboxConfig, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.data_dir = data_dir
        self.config = config
        self.app = build_app(config, data_dir)
        self._server, self._thread = serve_in_thread(self.app, host, port)
        self.host = host
        self.port = int(self._server.server_port)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    def stop(self) -> None:
        self.app.holds.close()  # a request still held would keep its thread (and client) waiting
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.app.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_embedded(
    data_dir: Path, *, api_key: str = "sandbox-key", **options: Any
) -> RunningSandbox:
    """Start the sandbox on ``127.0.0.1:<ephemeral>`` with its world stored in ``data_dir``.

    ``options`` are SandboxConfig fields (``seed``, ``time_scale``, ``ordering_rps``,
    ``search_rps``, ``ban_seconds``, ``limits_enabled``, ``catalog_files``, ``fault_seed``, …)
    and fault knobs (``error_rate``, ``latency_ms``, ``jitter_ms``, ``token_ttl``,
    ``drop_next_orders``, ``drop_probability``, ``order_delay_ms``, ``delivery_delay_s``,
    ``corrupt_downloads``, ``truncate_downloads_at``, ``ignore_ranges``).
    """
    return RunningSandbox(Path(data_dir), make_config(api_key, **options))

"""The application context: everything a command needs from its environment, built once.

Core functions never see click; they receive the client, paths and callbacks this object
hands out. The embedded sandbox (``--sandbox``) is started here on first need and stopped
when the command ends.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from oneatlas_plan._secrets import redact
from oneatlas_plan.errors import ConfigError

if TYPE_CHECKING:
    from oneatlas_plan.api.client import OneAtlasClient
    from oneatlas_plan.api.gate import OrderingGate
    from oneatlas_plan.api.profiles import EndpointProfile
    from oneatlas_plan.applying.session import Workspace
    from oneatlas_plan.state.backends import StateBackend

SANDBOX_DIR_NAME = ".oneatlas-sandbox"
SANDBOX_LABEL = "sandbox"
TIMEOUT_ENV = "ONEATLAS_HTTP_TIMEOUT"


def http_timeout(environ: dict[str, str]) -> tuple[float, float]:
    """``$ONEATLAS_HTTP_TIMEOUT``: ``CONNECT,READ`` seconds (or one number for both); the
    client's defaults otherwise. An ordering request cut off mid-flight holds the key back
    for CONNECT + 2 x READ (the ordering gate), so shorter timeouts mean shorter holds."""
    from oneatlas_plan.api.retry import DEFAULT_TIMEOUT  # not on the start-up path

    text = environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    parts = [part.strip() for part in text.split(",")]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(0 < value <= 3600 for value in values):
        raise ConfigError(f"{TIMEOUT_ENV}={text!r}: expected CONNECT,READ seconds (or one number "
                          "for both), each above 0 and at most 3600, e.g. 10,120")
    return (values[0], values[-1])


@dataclass
class AppContext:
    endpoint: str | None
    use_sandbox: bool
    state: StateBackend
    api_key_file: Path | None
    verbose: int
    environ: dict[str, str]
    _sandbox: Any = field(default=None, repr=False)
    _client: OneAtlasClient | None = field(default=None, repr=False)
    _gate: OrderingGate | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.use_sandbox and self.endpoint not in (None, SANDBOX_LABEL):
            raise ConfigError("--sandbox and --endpoint cannot be used together")

    @property
    def endpoint_label(self) -> str:
        """What plans and state record as the endpoint: stable across sandbox restarts."""
        if self.use_sandbox or self.endpoint == SANDBOX_LABEL:
            return SANDBOX_LABEL
        return self.endpoint or "production"

    @property
    def flags(self) -> str:
        """The endpoint/state flags of this run, for hints to repeat (`` --sandbox --state s``)."""
        import shlex

        parts = []
        if self.use_sandbox:
            parts.append("--sandbox")
        elif self.endpoint and "ONEATLAS_ENDPOINT" not in self.environ:
            parts += ["--endpoint", self.endpoint]
        location = self.state.location
        if location != "oneatlas-state.json" and "ONEATLAS_STATE" not in self.environ:
            parts += ["--state", location]
        return "".join(f" {shlex.quote(part)}" for part in parts)

    @property
    def sandbox_data_dir(self) -> Path:
        return self.state.local_dir / SANDBOX_DIR_NAME

    @property
    def spec_cache_dir(self) -> Path:
        """Beside a state file; in the per-user cache directory for a database state."""
        from oneatlas_plan.api.gate import runtime_dir
        from oneatlas_plan.spec.cache import SPEC_CACHE_DIR_NAME, spec_cache_dir
        from oneatlas_plan.state.backends import FileBackend

        if isinstance(self.state, FileBackend):
            return spec_cache_dir(self.state.local_dir)
        return runtime_dir(self.environ) / SPEC_CACHE_DIR_NAME

    def client(self) -> OneAtlasClient:
        """The one OneAtlas client of this command (created on first use)."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def workspace(self, lock_timeout: float = 30.0) -> Workspace:
        """What the plan/apply use cases need from this context."""
        import click

        from oneatlas_plan.applying.session import Workspace

        return Workspace(
            endpoint=self.endpoint_label,
            state=self.state,
            client=self.client,
            warn=lambda message: click.echo(redact(f"Warning: {message}"), err=True),
            lock_timeout=lock_timeout,
            spec_cache=self.spec_cache_dir,
        )

    def _make_client(self) -> OneAtlasClient:
        from oneatlas_plan.api.auth import ApiKey, load_api_key
        from oneatlas_plan.api.client import OneAtlasClient
        from oneatlas_plan.api.gate import runtime_dir
        from oneatlas_plan.api.profiles import origin_of

        if self.endpoint_label == SANDBOX_LABEL:
            # The embedded sandbox lives in this process: no other process can reach it, so
            # the client's own per-process gate is enough.
            sandbox = self._start_sandbox()
            return OneAtlasClient(self._profile(sandbox.base_url), ApiKey(sandbox.api_key))
        profile = self._profile(self.endpoint or "production")
        api_key = load_api_key(self.environ, self.api_key_file)
        # The state's backend offers the gate its users share: the machine's lock file
        # beside a state file, the key's row in a state database.
        self._gate = self.state.ordering_gate(origin_of(profile.order), api_key.reveal(),
                                              runtime_dir(self.environ))
        return OneAtlasClient(profile, api_key, gate=self._gate,
                              timeout=http_timeout(self.environ))

    @staticmethod
    def _profile(endpoint: str) -> EndpointProfile:
        from oneatlas_plan.api.profiles import resolve_endpoint

        return resolve_endpoint(endpoint)

    def _start_sandbox(self) -> Any:
        if self._sandbox is None:
            from oneatlas_plan.sandbox.embedded import start_embedded

            self._sandbox = start_embedded(self.sandbox_data_dir)
        return self._sandbox

    def __enter__(self) -> AppContext:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._client is not None:
            self._client.close()
        if self._gate is not None:
            self._gate.close()
        if self._sandbox is not None:
            self._sandbox.stop()


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is when a record is emitted.

    A plain ``StreamHandler`` keeps the stream of the first run in the process; a later run
    in the same process (tests, an embedding program) whose stderr is another stream would
    write into the first one, closed by then.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(verbose: int) -> None:
    """-v: info from the tool; -vv: debug, including the (redacted) HTTP request log."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logger = logging.getLogger("oneatlas_plan")
    logger.setLevel(level)
    if not any(getattr(h, "_oneatlas", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
        handler._oneatlas = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False

"""API key handling and the shared access-token cache (no HTTP here)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from oneatlas_plan import _files
from oneatlas_plan.api.models import Token
from oneatlas_plan.errors import ConfigError

API_KEY_ENV = "ONEATLAS_API_KEY"
TOKEN_PATH = "/auth/realms/IDP/protocol/openid-connect/token"
RENEW_FRACTION = 0.9  # renew at 90 % of expires_in, like Airbus's own client
MAX_KEY_FILE_BYTES = 64 * 1024  # a key is a few hundred bytes; bounds a runaway file


class ApiKey:
    """An API key whose ``repr``/``str`` never show the secret; :meth:`reveal` does."""

    __slots__ = ("_secret",)

    def __init__(self, secret: str) -> None:
        secret = secret.strip()
        if not secret:
            raise ConfigError("the OneAtlas API key is empty")
        self._secret = secret

    def reveal(self) -> str:
        """The secret itself: only for the token request body."""
        return self._secret

    def __repr__(self) -> str:
        return "ApiKey('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._secret == self._secret

    def __hash__(self) -> int:
        return hash(("ApiKey", self._secret))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("ApiKey cannot be pickled")


def load_api_key(environ: Mapping[str, str], key_file: Path | None) -> ApiKey:
    """The key from ``key_file`` when given, else from ``ONEATLAS_API_KEY``.

    Raises :class:`ConfigError` (naming both sources) when neither gives a key.
    """
    if key_file is not None:
        try:
            text = _files.read_regular(Path(key_file), MAX_KEY_FILE_BYTES).decode("utf-8")
        except OSError as error:
            raise ConfigError(
                f"cannot read API key file {key_file}: {error.strerror or error}"
            ) from None
        except UnicodeDecodeError as error:  # (the bytes themselves are never shown)
            raise ConfigError(
                f"API key file {key_file} is not UTF-8 text (invalid byte at offset "
                f"{error.start})"
            ) from None
        if not text.strip():
            raise ConfigError(f"API key file {key_file} is empty")
        return ApiKey(text.strip().splitlines()[0])
    value = environ.get(API_KEY_ENV, "").strip()
    if value:
        return ApiKey(value)
    raise ConfigError(
        f"no OneAtlas API key: set {API_KEY_ENV} or pass --api-key-file PATH"
    )


class TokenCache:
    """One access token shared by every thread, fetched on first need.

    ``fetch`` performs the token request (owned by the client). The token is renewed once
    ``RENEW_FRACTION`` of its lifetime has passed, or after :meth:`invalidate` (a 401).
    """

    def __init__(self, fetch: Callable[[], Token], clock: Callable[[], float]) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self.fetch_count = 0

    def get(self) -> str:
        """A valid access token (fetching a new one at most once at a time)."""
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                started = self._clock()
                token = self._fetch()
                self.fetch_count += 1
                self._token = token.access_token.get_secret_value()
                self._renew_at = started + max(token.expires_in, 0.0) * RENEW_FRACTION
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (refused with 401) unless another thread already renewed it."""
        with self._lock:
            if self._token == token:
                self._token = None

    def secrets(self) -> list[str]:
        """Values that must be scrubbed from any text shown to users."""
        return [self._token] if self._token else []

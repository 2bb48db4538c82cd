"""The one HTTP status → exception table and error-message formatting (pure functions)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from oneatlas_plan.errors import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
)

MAX_MESSAGE = 300


@dataclass(frozen=True)
class ErrorBody:
    """What Airbus says in an error body (``message``/``errorCode``, Keycloak or plain text)."""

    message: str | None
    code: str | None


def parse_error_body(text: str) -> ErrorBody:
    """Read ``{"message", "errorCode"}``, ``{"code"}``, ``{"error", "error_description"}``
    or plain text."""
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        message = (
            data.get("message")
            or data.get("error_description")
            or data.get("hint")
            or data.get("error")
        )
        code = data.get("errorCode") or data.get("code")
        if code is None and isinstance(data.get("error"), str) and message != data["error"]:
            code = data["error"]
        return ErrorBody(_clip(str(message)) if message else None, str(code) if code else None)
    if isinstance(data, str):
        return ErrorBody(_clip(data), None)
    plain = text.strip()
    return ErrorBody(_clip(plain) if plain and not plain.startswith("<") else None, None)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (API key, token) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def error_class(status: int) -> type[ApiError]:
    """The exception for a final (not retried) HTTP error status."""
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitedError
    if status in (401,):
        return AuthenticationError
    if status >= 500 or status == 408:
        return ServerError
    return RequestRejectedError


_VERBS = {404: "not found", 429: "rate limited", 401: "refused (not authenticated)"}


def describe(
    label: str, status: int | None, body: ErrorBody, correlation_id: str, *, verb: str | None = None
) -> str:
    """``order rejected (400 E2203): Unable to access workspace '…' [correlation 8c1…]``."""
    if verb is None:
        verb = _VERBS.get(status or 0) or ("failed" if (status or 500) >= 500 else "rejected")
    head = f"{label} {verb}"
    if status is not None:
        head += f" ({status}{' ' + body.code if body.code else ''})"
    text = f"{head}: {body.message}" if body.message else head
    return f"{text} [correlation {correlation_id}]"


def error_for_status(
    label: str, status: int, body: ErrorBody, correlation_id: str, *, hint: str = ""
) -> ApiError:
    """Build the mapped exception (``hint`` is appended to the message)."""
    message = describe(label, status, body, correlation_id)
    if hint:
        message = f"{message}\n{hint}"
    return error_class(status)(
        message,
        status=status,
        error_code=body.code,
        server_message=body.message,
        correlation_id=correlation_id,
    )

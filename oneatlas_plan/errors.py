"""The one exception hierarchy and the exit-code table.

Every expected failure derives from :class:`ToolError`; the CLI's single error boundary
(``oneatlas_plan.cli``) turns it into a message on stderr and ``exit_code``. Anything else
is a bug and exits with :attr:`ExitCode.INTERNAL`.

Messages must never contain an API key or a token.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (documented in the README)."""

    OK = 0  # success; with `plan --detailed-exitcode`: no changes
    ERROR = 1  # an expected error: bad input, API error, refused plan, failed order
    CHANGES = 2  # `plan --detailed-exitcode` only: the plan has changes
    USAGE = 64  # bad command line (click's UsageError; EX_USAGE from sysexits.h)
    INTERNAL = 70  # a bug: unexpected exception (EX_SOFTWARE)
    INTERRUPTED = 130  # Ctrl-C


class ToolError(Exception):
    """Base of every expected error. ``str(error)`` is the message shown to the user."""

    exit_code: ExitCode = ExitCode.ERROR


class InputError(ToolError):
    """A spec, plan or state file the user gave cannot be used."""


class SpecError(InputError):
    """One or more problems in spec files; ``problems`` holds each located message."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = len(problems)
        summary = f"{count} problem{'s' if count != 1 else ''} found"
        super().__init__("\n".join([*problems, summary]))


class ConfigError(ToolError):
    """Bad tool configuration: endpoint, API key source, options."""


class PlanError(ToolError):
    """A plan cannot be made or applied (tampered, stale, unsupported version...)."""


class StateError(ToolError):
    """The state file is corrupt, locked, or cannot be written."""


class StateLockedError(StateError):
    """Another process holds the state lock."""


class ApiError(ToolError):
    """An error reported by (or while talking to) OneAtlas.

    ``status`` is the HTTP status (None when no response came back), ``error_code`` and
    ``server_message`` come from Airbus's error body, ``correlation_id`` from the
    ``X-Ads-Correlation-Id`` sent with the request.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        server_message: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.server_message = server_message
        self.correlation_id = correlation_id
        super().__init__(message)


class AuthenticationError(ApiError):
    """The API key was refused (never retried)."""


class NotFoundError(ApiError):
    """404: contract, item or resource does not exist."""


class RequestRejectedError(ApiError):
    """A 4xx that proves the server created nothing (bad body, bad option...)."""


class RateLimitedError(ApiError):
    """429 after retries, or a ban on the ordering endpoints: resumable later.

    ``retry_at`` (aware datetime) is when the ordering API may be used again, when known."""

    def __init__(self, message: str, *, retry_at: datetime | None = None,
                 **kwargs: object) -> None:
        self.retry_at = retry_at
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class ServerError(ApiError):
    """5xx or transport failure on an idempotent request, after retries."""


class OutcomeUnknownError(ApiError):
    """A non-idempotent request (an order) may have reached Airbus but no answer came back.

    It must never be retried blindly: ``apply`` records the order as ``unknown`` and
    reconciles it by ``customer_reference``.
    """

    def __init__(self, message: str, *, customer_reference: str, **kwargs: object) -> None:
        self.customer_reference = customer_reference
        super().__init__(message, **kwargs)  # type: ignore[arg-type]

"""Progress events the client reports through ``on_event`` (never printed by the client)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "request",  # a request is about to be sent
    "retry",  # a retryable failure; waiting ``wait`` seconds
    "token",  # a new access token was fetched
    "token_rejected",  # a 401: the token is renewed and the request sent once more
    "search_page",  # one search page read
    "search_split",  # a search over 10,000 results was split by acquisition date
]


@dataclass(frozen=True)
class ApiEvent:
    kind: EventKind
    endpoint: str
    message: str = ""
    attempt: int = 0
    wait: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

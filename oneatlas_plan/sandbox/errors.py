"""Airbus-style error answers raised inside handlers and turned into responses by the app."""

from __future__ import annotations

import time
import uuid
from typing import Any


class ApiFailure(Exception):
    """An error answer: HTTP status plus the exact JSON body to send."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", str(body)))
        self.status = status
        self.body = body


def order_error(status: int, code: str, message: str) -> ApiFailure:
    """PPO style: ``{"errorCode": "...", "message": "..."}``."""
    return ApiFailure(status, {"errorCode": code, "message": message})


def api_error(status: int, message: str, hint: str = "") -> ApiFailure:
    """Generic ``ApiError`` body used by search, access and data endpoints."""
    return ApiFailure(
        status,
        {
            "correlationId": str(uuid.uuid4()),
            "hint": hint,
            "internalCode": status,
            "message": message,
            "timestamp": int(time.time() * 1000),
        },
    )

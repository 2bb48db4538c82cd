from __future__ import annotations

from oneatlas_plan.api.failures import ErrorBody, error_for_status, parse_error_body, scrub
from oneatlas_plan.errors import (
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
)


def test_parse_airbus_keycloak_and_plain_bodies() -> None:
    assert parse_error_body('{"errorCode":"E2203","message":"CIS contract \'x\' not found."}') == (
        ErrorBody("CIS contract 'x' not found.", "E2203")
    )
    assert parse_error_body('{"code":"UNEXPECTED_SERVER_ERROR"}') == (
        ErrorBody(None, "UNEXPECTED_SERVER_ERROR")
    )
    assert parse_error_body('{"error":"invalid_grant","error_description":"Invalid key"}') == (
        ErrorBody("Invalid key", "invalid_grant")
    )
    assert parse_error_body("Too many requests") == ErrorBody("Too many requests", None)
    assert parse_error_body("<html>Bad gateway</html>") == ErrorBody(None, None)
    assert parse_error_body("") == ErrorBody(None, None)


def test_message_format_and_mapping() -> None:
    body = ErrorBody("Unable to access workspace 'ws'", "E2203")
    error = error_for_status("order", 400, body, "8c1f")
    assert isinstance(error, RequestRejectedError)
    assert str(error) == (
        "order rejected (400 E2203): Unable to access workspace 'ws' [correlation 8c1f]"
    )
    assert error.status == 400 and error.error_code == "E2203" and error.correlation_id == "8c1f"
    assert isinstance(error_for_status("x", 404, body, "c"), NotFoundError)
    assert isinstance(error_for_status("x", 429, body, "c"), RateLimitedError)
    assert isinstance(error_for_status("x", 503, body, "c"), ServerError)
    assert isinstance(error_for_status("x", 401, body, "c"), AuthenticationError)
    assert isinstance(error_for_status("x", 422, body, "c"), RequestRejectedError)
    assert str(error_for_status("search", 502, ErrorBody(None, None), "c")) == (
        "search failed (502) [correlation c]"
    )


def test_scrub() -> None:
    assert scrub("key abcd1234 and tok xyz987", ["abcd1234", "xyz987", ""]) == "key *** and tok ***"

"""The WSGI application: routing, authentication, limits, faults and the endpoint handlers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import handlers
from .auth import TokenIssuer
from .config import SandboxConfig
from .errors import ApiFailure, api_error
from .faults import DropConnection, FaultInjector, drop_socket
from .holds import HANDLED, RECEIVED, Holds
from .limits import ORDERING, SEARCH, Limiter
from .orders import OrderService
from .search import Archive
from .store import Store

TOKEN_EXPIRED = {"message": "Authentication failed (cause: Token expired)"}

# endpoint name -> (path, methods, group, auth style)
ROUTES: tuple[tuple[str, str, tuple[str, ...], str, str], ...] = (
    ("token", "/auth/realms/IDP/protocol/openid-connect/token", ("POST",), "token", "none"),
    ("search_v1", "/api/v1/opensearch", ("GET", "POST"), SEARCH, "generic"),
    ("search_v2", "/api/v2/opensearch", ("GET", "POST"), SEARCH, "generic"),
    ("quicklook", "/api/v1/items/<item_id>/quicklook", ("GET",), "access", "generic"),
    ("thumbnail", "/api/v1/items/<item_id>/thumbnail", ("GET",), "access", "generic"),
    ("download", "/api/v1/items/<item_id>/download", ("GET",), "access", "generic"),
    ("me", "/api/v1/me", ("GET",), "data", "generic"),
    ("contracts", "/api/v1/contracts", ("GET",), "order", "order"),
    ("contract", "/api/v1/contracts/<cid>", ("GET",), "order", "order"),
    ("product_types", "/api/v1/contracts/<cid>/productTypes", ("GET",), "order", "order"),
    ("options", "/api/v1/contracts/<cid>/productTypes/<pt>/options", ("POST",), "order", "order"),
    ("properties", "/api/v1/<cid>/properties", ("GET",), "order", "order"),
    ("contract_properties", "/api/v1/contracts/<cid>/properties", ("GET",), "order", "order"),
    ("all_properties", "/api/v1/properties", ("GET",), "order", "order"),
    ("delivery_types", "/api/v1/<cid>/deliveryTypes", ("GET",), "order", "order"),
    ("prices", "/api/v1/prices", ("POST",), ORDERING, "order"),
    ("orders", "/api/v1/orders", ("POST",), ORDERING, "order"),
    ("quotations", "/api/v1/quotations", ("POST",), ORDERING, "order"),
    ("accept", "/api/v1/contracts/<cid>/quotations/<qid>/accept", ("PUT",), ORDERING, "order"),
    ("refuse", "/api/v1/contracts/<cid>/quotations/<qid>/refuse", ("PUT",), ORDERING, "order"),
    ("orders_search", "/api/v2/orders/search", ("POST",), "order", "order"),
    ("ctl_config", "/sandbox/v1/config", ("GET",), "control", "none"),
    ("ctl_ledger", "/sandbox/v1/ledger", ("GET",), "control", "none"),
    ("ctl_stats", "/sandbox/v1/stats", ("GET",), "control", "none"),
    ("ctl_faults", "/sandbox/v1/faults", ("GET", "POST"), "control", "none"),
    ("ctl_reset", "/sandbox/v1/reset-stats", ("POST",), "control", "none"),
    ("ctl_hold", "/sandbox/v1/hold", ("POST",), "control", "none"),
    ("ctl_held", "/sandbox/v1/held", ("GET",), "control", "none"),
    ("ctl_release", "/sandbox/v1/release", ("POST",), "control", "none"),
)
_META = {name: (group, auth) for name, _, _, group, auth in ROUTES}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers,
        content_type="application/json",
    )


class SandboxApp:
    """One sandbox world (config + data dir) as a WSGI callable."""

    def __init__(
        self,
        config: SandboxConfig,
        data_dir: Path,
        fixed_features: list[dict[str, Any]] | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.store = Store(data_dir)
        self.archive = Archive(seed=config.seed, fixed=fixed_features)
        self.tokens = TokenIssuer(self.store.secret(), config.api_key)
        self.limiter = Limiter(config, clock=self.now)
        self.faults = FaultInjector(config.faults, config.fault_seed)
        self.orders = OrderService(self.store, self.archive, clock=self.now)
        self.holds = Holds(name for name, (group, _) in _META.items() if group != "control")
        self.url_map = Map(
            [
                Rule(path, endpoint=name, methods=list(methods))
                for name, path, methods, _, _ in ROUTES
            ]
        )

    def close(self) -> None:
        self.holds.close()
        self.store.close()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except DropConnection:
            drop_socket(environ)
            raise ConnectionAbortedError("sandbox: connection dropped after commit") from None
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed:
            return _failure(api_error(405, "Method not allowed on this resource"))
        except NotFound:
            return _failure(api_error(404, f"Resource not found: {request.path}"))
        except HTTPException as exc:
            return _failure(api_error(exc.code or 400, exc.description or "Bad request"))
        group, auth_style = _META[str(endpoint)]
        if group == "control":
            try:
                return getattr(handlers, str(endpoint))(self, request, **args)
            except ApiFailure as failure:  # e.g. a body that is not JSON
                return _failure(failure)
        return self._guarded(str(endpoint), group, auth_style, request, dict(args))

    def _guarded(
        self, endpoint: str, group: str, auth_style: str, request: Request, args: dict[str, Any]
    ) -> Response:
        stats = self.limiter.stats
        stats.requests[endpoint] += 1
        self.faults.delay()
        response = self._authorised(endpoint, group, auth_style, request, args)
        stats.statuses[str(response.status_code)] += 1
        return response

    def _authorised(
        self, endpoint: str, group: str, auth_style: str, request: Request, args: dict[str, Any]
    ) -> Response:
        subject = ""
        if auth_style != "none":
            check = self.tokens.check(request.headers.get("Authorization"), self.now())
            if not check.ok:
                return _unauthorised(check.reason, auth_style)
            subject = check.subject
        if group not in (ORDERING, SEARCH):
            return self._handle(endpoint, group, request, args)
        verdict = self.limiter.enter(group, subject, endpoint)
        status = 429
        try:
            if not verdict.allowed:
                return _failure(api_error(429, "Too many requests", hint=verdict.reason))
            response = self._handle(endpoint, group, request, args)
            status = response.status_code
            return response
        except DropConnection:
            status = 0
            self.limiter.stats.dropped += 1
            raise
        finally:
            self.limiter.leave(group, verdict, status)

    def _handle(
        self, endpoint: str, group: str, request: Request, args: dict[str, Any]
    ) -> Response:
        if not self.holds.hold(endpoint, RECEIVED, lambda: _held_detail(request)):
            return _failure(api_error(503, "The sandbox is shutting down"))
        injected = self.faults.maybe_error(ordering=auth_is_order(endpoint))
        if injected is not None:
            self.limiter.stats.injected_errors += 1
            return _failure(injected)
        try:
            response = getattr(handlers, endpoint)(self, request, **args)
        except ApiFailure as failure:
            response = _failure(failure)
        self.holds.hold(
            endpoint, HANDLED, lambda: {**_held_detail(request), "status": response.status_code}
        )
        return response

    def base_url(self, request: Request) -> str:
        return request.host_url

    def now(self) -> float:
        """The sandbox's wall clock: real (moved by ``clock_offset_s``), or frozen where a test
        set ``frozen_time``."""
        faults = self.config.faults
        return faults.frozen_time or time.time() + faults.clock_offset_s


def auth_is_order(endpoint: str) -> bool:
    return _META[endpoint][1] == "order"


def _held_detail(request: Request) -> dict[str, Any]:
    """How ``GET /sandbox/v1/held`` shows a held request; reading its whole body first."""
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except (ValueError, HTTPException):  # not JSON, or the client went away mid-body
        body = None
    reference = body.get("customerReference") if isinstance(body, dict) else None
    detail: dict[str, Any] = {"method": request.method, "path": request.path}
    if isinstance(reference, str):
        detail["customerReference"] = reference
    return detail


def _failure(failure: ApiFailure) -> Response:
    return json_response(failure.body, failure.status)


def _unauthorised(reason: str, style: str) -> Response:
    if style == "order":
        cause = {"expired": "Token expired", "missing": "Missing bearer token"}.get(
            reason, "Invalid token"
        )
        body = (
            TOKEN_EXPIRED
            if reason == "expired"
            else {"message": f"Authentication failed (cause: {cause})"}
        )
        return json_response(body, 401)
    return _failure(
        api_error(
            401,
            "User is not authenticated",
            hint="Token expired" if reason == "expired" else reason,
        )
    )

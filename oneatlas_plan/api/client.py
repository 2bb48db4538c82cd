"""The OneAtlas client: the one object that owns the HTTP session and every network concern.

Auth (shared token, renewal), retries, rate limits, the status → exception mapping, request
counting and redacted request logging all live here. Request bodies come from the pure builders
in :mod:`oneatlas_plan.api.query` and :mod:`oneatlas_plan.api.orders`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlsplit

import requests
import urllib3.exceptions
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from oneatlas_plan._secrets import register_secret
from oneatlas_plan.api.auth import TOKEN_PATH, ApiKey, TokenCache
from oneatlas_plan.api.events import ApiEvent, EventKind
from oneatlas_plan.api.failures import (
    ErrorBody,
    describe,
    error_for_status,
    parse_error_body,
    scrub,
)
from oneatlas_plan.api.gate import OrderingGate, Turn, local_gate
from oneatlas_plan.api.models import (
    Contract,
    DeliveryType,
    Feature,
    Market,
    Me,
    OrderLine,
    OrderResponse,
    PriceResponse,
    ProductionOption,
    ProductType,
    SceneFeature,
    SearchPage,
    Token,
    scene_page,
)
from oneatlas_plan.api.orders import options_body, orders_search_body
from oneatlas_plan.api.profiles import (
    SERVICES,
    EndpointProfile,
    Limits,
    Service,
    limits_from_config,
    origin_of,
)
from oneatlas_plan.api.query import RESULT_WINDOW, SearchQuery, newest_first, split_acquisition
from oneatlas_plan.api.ratelimit import RateLimiter, shared_limiter
from oneatlas_plan.api.retry import (
    DEFAULT_TIMEOUT,
    RETRY_STATUSES,
    RetryPolicy,
    parse_retry_after,
    retry_wait,
)
from oneatlas_plan.errors import (
    ApiError,
    AuthenticationError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
)

log = logging.getLogger("oneatlas_plan.api")

Limiter = Literal["ordering", "search", "none"]
ModelT = TypeVar("ModelT", bound=BaseModel)
FeatureT = TypeVar("FeatureT", Feature, SceneFeature)
PageFetch = Callable[[SearchQuery, int], tuple[list[FeatureT], int]]  # page -> features, total
EventCallback = Callable[[ApiEvent], None]
Timeout = float | tuple[float, float]

CORRELATION_HEADER = "X-Ads-Correlation-Id"
CHECKSUM_HEADER = "X-Ads-Checksum-Value"
LOG_BODY_LIMIT = 2000


@dataclass(frozen=True)
class Endpoint:
    """One kind of call: ``name`` keys :attr:`OneAtlasClient.stats`, ``label`` starts messages.

    Non-idempotent endpoints are never retried once the request may have been sent.
    """

    name: str
    label: str
    service: Service
    limiter: Limiter
    idempotent: bool = True


TOKEN = Endpoint("token", "authentication", "auth", "none")
SEARCH = Endpoint("search", "search", "search", "search")
CONTRACTS = Endpoint("contracts", "contract list", "order", "ordering")
PRODUCT_TYPES = Endpoint("product_types", "product types", "order", "ordering")
PRODUCT_OPTIONS = Endpoint("product_options", "production options", "order", "ordering")
MARKETS = Endpoint("markets", "markets", "order", "ordering")
DELIVERY_TYPES = Endpoint("delivery_types", "delivery types", "order", "ordering")
ME = Endpoint("me", "account (/me)", "data", "none")
PRICES = Endpoint("prices", "price", "order", "ordering")
ORDERS = Endpoint("orders", "order", "order", "ordering", idempotent=False)
QUOTATIONS = Endpoint("quotations", "quotation", "order", "ordering", idempotent=False)
ACCEPT = Endpoint("accept_quotation", "quotation acceptance", "order", "ordering", False)
REFUSE = Endpoint("refuse_quotation", "quotation refusal", "order", "ordering", False)
ORDERS_SEARCH = Endpoint("orders_search", "order tracking", "order", "ordering")
DOWNLOAD = Endpoint("download", "download", "access", "none")
MONEY_ENDPOINTS = frozenset({PRICES, ORDERS, QUOTATIONS, ORDERS_SEARCH})
SANDBOX_CONFIG = Endpoint("sandbox_config", "sandbox config", "order", "none")


@dataclass
class ClientStats:
    """Requests sent per endpoint name (every attempt counts), retries, 429s, token fetches."""

    requests: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    rate_limited: int = 0
    token_fetches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, endpoint: str, *, retry: bool = False, status: int | None = None) -> None:
        with self._lock:
            if endpoint:
                self.requests[endpoint] += 1
            if retry:
                self.retries += 1
            if status == 429:
                self.rate_limited += 1

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(sorted(self.requests.items())),
                "total": sum(self.requests.values()),
                "retries": self.retries,
                "rate_limited": self.rate_limited,
                "token_fetches": self.token_fetches,
            }


class Download(AbstractContextManager["Download"]):
    """An open streaming download: headers now, bytes through :meth:`iter_chunks`.

    ``offset`` is where the body starts in the file: the requested offset after a
    ``206 Partial Content``, 0 when the server ignored the ``Range`` header.
    """

    def __init__(self, response: requests.Response, requested_offset: int) -> None:
        self._response = response
        self.status = response.status_code
        self.headers: dict[str, str] = dict(response.headers)
        self.offset = requested_offset if response.status_code == 206 else 0
        self.bytes_read = 0

    @property
    def checksum(self) -> str | None:
        """``X-Ads-Checksum-Value`` (an MD5 hex digest per ``X-Ads-Checksum-Method``)."""
        return self._response.headers.get(CHECKSUM_HEADER)

    @property
    def checksum_method(self) -> str | None:
        return self._response.headers.get("X-Ads-Checksum-Method")

    @property
    def content_length(self) -> int | None:
        """Length of this response's body."""
        value = self._response.headers.get("Content-Length")
        return int(value) if value and value.isdigit() else None

    @property
    def total_size(self) -> int | None:
        """Size of the whole file (from ``Content-Range`` or ``offset + Content-Length``)."""
        content_range = self._response.headers.get("Content-Range", "")
        total = content_range.rpartition("/")[2]
        if total.isdigit():
            return int(total)
        length = self.content_length
        return self.offset + length if length is not None else None

    def iter_chunks(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The body as it arrives, at most ``chunk_size`` bytes a block (``read1``: a block is
        handed over as soon as bytes are there, so a cut connection loses nothing received);
        a broken stream raises :class:`ServerError` (resume later)."""
        raw = self._response.raw
        try:
            while True:
                chunk = raw.read1(chunk_size, decode_content=True)
                if not chunk:
                    return
                self.bytes_read += len(chunk)
                yield chunk
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            raise ServerError(
                f"download interrupted after {self.offset + self.bytes_read} bytes "
                f"({type(error).__name__}); it can be resumed",
                status=self.status,
            ) from None

    def close(self) -> None:
        self._response.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _request_not_sent(error: requests.RequestException) -> bool:
    """Whether a transport failure proves the request never left (refused, DNS, connect
    timeout): only then may a non-idempotent request be sent again."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if not isinstance(error, requests.ConnectionError):
        return False
    if isinstance(error, requests.exceptions.SSLError):
        return False
    reason: object = error.args[0] if error.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def _transport_reason(error: requests.RequestException) -> str:
    if _request_not_sent(error):
        return "could not connect"
    if isinstance(error, requests.Timeout):
        return "no answer in time"
    if isinstance(error, requests.ConnectionError):
        return "connection dropped"
    return type(error).__name__


def new_session(bases: Sequence[str], pool_size: int) -> requests.Session:
    """A session keeping one connection alive per host (more only for concurrent searches),
    with the environment (proxies, ``no_proxy``, CA bundle) resolved once for ``bases``.

    ``requests`` otherwise re-reads the environment and ``~/.netrc`` on every request (a
    netrc entry would even replace the bearer token); here ``trust_env`` is turned off after
    the settings for each base URL have been read."""
    session = requests.Session()
    proxies: dict[str, str] = {}
    verify: bool | str = True
    for base in bases:
        found = session.merge_environment_settings(base, {}, None, None, None)
        proxy = requests.utils.select_proxy(base, found["proxies"])
        if proxy:
            parts = urlsplit(base)
            proxies[f"{parts.scheme}://{parts.hostname}"] = proxy
        verify = found["verify"] if found["verify"] is not None else True
    session.trust_env = False
    session.proxies.update(proxies)
    session.verify = verify
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "oneatlas-plan"
    return session


def _path(*parts: str) -> str:
    return "".join("/" + quote(part, safe="") for part in parts)


class OneAtlasClient:
    """Talks to OneAtlas for one endpoint profile with one API key.

    Thread-safe: searches may run concurrently (:meth:`search_many`) within a per-process
    search budget; every call to the ordering host takes a turn at ``gate`` (chosen by the
    caller: :class:`~oneatlas_plan.api.gate.FileGate` for every process of the machine; by
    default a gate shared by this process only). ``sleep`` and ``clock`` are injectable for
    tests.
    """

    def __init__(
        self,
        profile: EndpointProfile,
        api_key: ApiKey,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_event: EventCallback | None = None,
        retry: RetryPolicy | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        rng: random.Random | None = None,
        gate: OrderingGate | None = None,
    ) -> None:
        self._profile = profile
        self._api_key = api_key
        register_secret(api_key.reveal())
        self._owns_session = session is None
        self._session = session if session is not None else new_session(
            sorted({profile.base(service) for service in SERVICES}), 32)
        self._sleep = sleep
        self._clock = clock
        self._on_event = on_event
        self._retry = retry or RetryPolicy()
        self._timeout = timeout
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._tokens = TokenCache(self._fetch_token, clock)
        self._setup_lock = threading.Lock()
        self._gate = gate
        self._search_limiter: RateLimiter | None = None
        self.stats = ClientStats()

    # ------------------------------------------------------------------ lifecycle

    @property
    def profile(self) -> EndpointProfile:
        """The profile, with sandbox limits once they have been read."""
        self._ensure_ready()
        return self._profile

    @property
    def limits(self) -> Limits:
        return self.profile.limits

    def close(self) -> None:
        """Close the HTTP session (when the client created it)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> OneAtlasClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OneAtlasClient(profile={self._profile.name!r})"

    # ------------------------------------------------------------------ search

    def search(self, query: SearchQuery) -> list[Feature]:
        """Every feature matching ``query``: all pages, and above Airbus's 10,000-result window
        the acquisition range is split and the parts merged (de-duplicated by id)."""
        return _unique(self._search_all(query, self._feature_page))

    def search_scenes(self, query: SearchQuery) -> list[SceneFeature]:
        """:meth:`search`, each feature read only for what planning uses (light, no pydantic)."""
        return _unique(self._search_all(query, self._scene_page))

    def scene_pages(self, query: SearchQuery) -> Iterator[list[SceneFeature]]:
        """The pages of :meth:`search_scenes` in page order, each as it arrives, nothing kept
        (the caller drops what it does not need; ids may repeat across pages)."""
        return self._pages(query, self._scene_page)

    def search_many(self, queries: Sequence[SearchQuery]) -> list[list[Feature]]:
        """:meth:`search` for each query, concurrently within the search limits."""
        if not queries:
            return []
        workers = min(self.limits.search_concurrency, len(queries))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="oneatlas-search") as pool:
            return list(pool.map(self.search, queries))

    def search_page(self, query: SearchQuery, start_page: int = 1) -> SearchPage:
        """One raw page of results."""
        response = self._search_request(query, start_page)
        page = self._model(SEARCH, response, SearchPage)
        self._page_event(start_page, len(page.features), page.total_results)
        return page

    def _search_request(self, query: SearchQuery, start_page: int) -> requests.Response:
        return self._send(SEARCH, "POST", self._url("search", "/api/v2/opensearch"),
                          json_body=query.to_body(start_page))

    def _page_event(self, start_page: int, features: int, total: int) -> None:
        self._emit("search_page", SEARCH, f"page {start_page}", data={
            "page": start_page, "features": features, "total": total})

    def _feature_page(self, query: SearchQuery, start_page: int) -> tuple[list[Feature], int]:
        page = self.search_page(query, start_page)
        return page.features, page.total_results

    def _scene_page(self, query: SearchQuery, start_page: int) -> tuple[list[SceneFeature], int]:
        response = self._search_request(query, start_page)
        try:
            features, total = scene_page(self._json(SEARCH, response))
        except ValueError as error:
            raise self._shape_error(SEARCH, response, error) from None
        self._page_event(start_page, len(features), total)
        return features, total

    def find_delivered(
        self,
        workspace_id: str,
        customer_reference: str | None = None,
        internal_reference: str | None = None,
    ) -> list[Feature]:
        """Delivered products in the private workspace, by customer and/or internal reference
        (the salesOrderId)."""
        query = SearchQuery(
            workspace=workspace_id,
            customer_reference=customer_reference,
            internal_reference=internal_reference,
        )
        return self.search(query)

    def _search_all(self, query: SearchQuery, fetch: PageFetch[FeatureT]) -> list[FeatureT]:
        return [feature for page in self._pages(query, fetch) for feature in page]

    def _pages(self, query: SearchQuery, fetch: PageFetch[FeatureT]) -> Iterator[list[FeatureT]]:
        """Every page of ``query``, in page order, each as soon as it and those before it are
        in (above the 10,000-result window: the pages of each half of the acquisition range)."""
        first, total = fetch(query, 1)
        if total >= RESULT_WINDOW:
            yield from self._search_split(query, total, fetch)
            return
        yield first
        size = query.items_per_page
        if len(first) < size:
            return
        if not total:  # no count given: read page by page until a short page
            yield from self._pages_until_short(query, 2, fetch)
            return
        numbers = range(2, math.ceil(total / size) + 1)
        workers = min(self.limits.search_concurrency, len(numbers))
        if workers <= 1:
            yield from (fetch(query, n)[0] for n in numbers)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="oneatlas-page") as pool:
            yield from pool.map(lambda number: fetch(query, number)[0], numbers)

    def _pages_until_short(
        self, query: SearchQuery, start: int, fetch: PageFetch[FeatureT]
    ) -> Iterator[list[FeatureT]]:
        for number in range(start, RESULT_WINDOW // query.items_per_page + 1):
            page = fetch(query, number)[0]
            yield page
            if len(page) < query.items_per_page:
                break

    def _search_split(
        self, query: SearchQuery, total: int, fetch: PageFetch[FeatureT]
    ) -> Iterator[list[FeatureT]]:
        halves = split_acquisition(query, datetime.now(UTC))
        if halves is None:
            raise ApiError(
                f"search has {total}+ results acquired within one millisecond; OneAtlas returns "
                "at most 10,000 per query: narrow it (area, cloud cover, platforms)"
            )
        older, newer = halves
        self._emit("search_split", SEARCH, f"{total}+ results: splitting the acquisition range",
                   data={"total": total})
        ordered = (newer, older) if newest_first(query) else (older, newer)
        for half in ordered:
            yield from self._pages(half, fetch)

    # ------------------------------------------------------------------ contract look-ups

    def contracts(self) -> list[Contract]:
        data = self._get_json(CONTRACTS, "order", "/api/v1/contracts")
        return self._list(CONTRACTS, data, "contracts", Contract)

    def product_types(self, contract_id: str) -> list[ProductType]:
        path = "/api/v1/contracts" + _path(contract_id, "productTypes")
        data = self._get_json(PRODUCT_TYPES, "order", path)
        return self._list(PRODUCT_TYPES, data, "productTypes", ProductType)

    def product_options(
        self,
        contract_id: str,
        product_type_id: str,
        aoi_geometry: Mapping[str, Any],
        *,
        polygon_id: int = 1,
    ) -> list[ProductionOption]:
        """Options for one product type and AOI (projection defaults depend on the AOI)."""
        path = "/api/v1/contracts" + _path(contract_id, "productTypes", product_type_id, "options")
        response = self._send(PRODUCT_OPTIONS, "POST", self._url("order", path),
                              json_body=options_body(aoi_geometry, polygon_id))
        data = self._json(PRODUCT_OPTIONS, response)
        return self._list(PRODUCT_OPTIONS, data, "availableOptions", ProductionOption)

    def markets(self, contract_id: str) -> list[Market]:
        data = self._get_json(MARKETS, "order", "/api/v1" + _path(contract_id, "properties"))
        return self._list(MARKETS, data, "markets", Market)

    def delivery_types(self, contract_id: str) -> list[DeliveryType]:
        path = "/api/v1" + _path(contract_id, "deliveryTypes")
        data = self._get_json(DELIVERY_TYPES, "order", path)
        return self._list(DELIVERY_TYPES, data, "deliveryTypes", DeliveryType)

    def me(self) -> Me:
        response = self._send(ME, "GET", self._url("data", "/api/v1/me"))
        return self._model(ME, response, Me)

    # ------------------------------------------------------------------ price / order

    def price(self, body: Mapping[str, Any]) -> PriceResponse:
        """``POST /api/v1/prices`` (idempotent: retried)."""
        response = self._send(PRICES, "POST", self._url("order", "/api/v1/prices"),
                              json_body=body)
        return self._model(PRICES, response, PriceResponse)

    def order(self, body: Mapping[str, Any]) -> OrderResponse:
        """``POST /api/v1/orders``. Never re-sent once it may have reached Airbus: a lost answer
        raises :class:`OutcomeUnknownError` carrying ``body["customerReference"]``."""
        return self._create(ORDERS, "/api/v1/orders", body)

    def quotation(self, body: Mapping[str, Any]) -> OrderResponse:
        """``POST /api/v1/quotations`` (Pléiades Neo); same guarantees as :meth:`order`."""
        return self._create(QUOTATIONS, "/api/v1/quotations", body)

    def accept_quotation(
        self, contract_id: str, quotation_id: str, *, customer_reference: str = ""
    ) -> None:
        path = "/api/v1/contracts" + _path(contract_id, "quotations", quotation_id, "accept")
        self._send(ACCEPT, "PUT", self._url("order", path),
                   customer_reference=customer_reference).close()

    def refuse_quotation(
        self, contract_id: str, quotation_id: str, *, customer_reference: str = ""
    ) -> None:
        path = "/api/v1/contracts" + _path(contract_id, "quotations", quotation_id, "refuse")
        self._send(REFUSE, "PUT", self._url("order", path),
                   customer_reference=customer_reference).close()

    def search_orders(self, q: str, *, items_per_page: int = 100) -> list[OrderLine]:
        """Every order line matching ``q`` (see :func:`orders.orders_search_q`)."""
        lines: list[OrderLine] = []
        url = self._url("order", "/api/v2/orders/search")
        while True:
            body = orders_search_body(q, start_index=len(lines), items_per_page=items_per_page)
            data = self._json(ORDERS_SEARCH, self._send(ORDERS_SEARCH, "POST", url, json_body=body))
            key = next((k for k in ("features", "contracts", "items") if k in data), "features")
            page = self._list(ORDERS_SEARCH, data, key, OrderLine)
            lines.extend(page)
            total = (data.get("paging") or {}).get("totalResults")
            done = not isinstance(total, int) or len(lines) >= total
            if len(page) < items_per_page or done:
                return lines

    def _create(self, endpoint: Endpoint, path: str, body: Mapping[str, Any]) -> OrderResponse:
        reference = str(body.get("customerReference", ""))
        response = self._send(endpoint, "POST", self._url("order", path), json_body=body,
                              customer_reference=reference)
        correlation = response.request.headers.get(CORRELATION_HEADER, "")
        try:
            return OrderResponse.model_validate(_decode(endpoint, response))
        except (ValueError, ValidationError):
            raise OutcomeUnknownError(
                f"{endpoint.label} answered {response.status_code} with an unreadable body; it "
                f"may exist: reconcile by customer reference {reference!r} "
                f"[correlation {correlation}]",
                customer_reference=reference,
                status=response.status_code,
                correlation_id=correlation,
            ) from None

    # ------------------------------------------------------------------ download

    def open_download(self, href: str, offset: int = 0) -> Download:
        """Open a ``_links.download`` href as a stream, from byte ``offset`` (``Range``).

        The token is only ever sent to the profile's own hosts: another host is refused. A
        path (``/api/v1/items/…``, as the state keeps them) is on the access service.
        """
        if href.startswith("/"):
            href = self._url("access", href)
        if origin_of(href) not in self._profile.origins():
            raise ApiError(
                f"refusing to download from {origin_of(href)}: not a host of endpoint "
                f"{self._profile.name!r}, and the access token must not be sent elsewhere"
            )
        headers = {"Range": f"bytes={offset}-"} if offset > 0 else {}
        response = self._send(DOWNLOAD, "GET", href, headers=headers, stream=True,
                              accept="*/*")
        return Download(response, offset)

    # ------------------------------------------------------------------ plumbing

    def _url(self, service: Service, path: str) -> str:
        return self._profile.url(service, path)

    def _ensure_ready(self) -> RateLimiter:
        """Discover the sandbox's limits (once) and set up the search budget and the gate."""
        limiter = self._search_limiter
        if limiter is not None:
            return limiter
        with self._setup_lock:
            if self._search_limiter is None:
                if self._profile.discover_limits:
                    self._profile = self._profile.with_limits(self._discover_limits())
                limits = self._profile.limits
                fingerprint = self._key_fingerprint()
                if self._gate is None:
                    self._gate = local_gate((origin_of(self._profile.order), fingerprint),
                                            clock=self._clock, sleep=self._sleep)
                self._search_limiter = shared_limiter(
                    (origin_of(self._profile.search), fingerprint, "search"),
                    limits.search_interval, limits.search_concurrency,
                    clock=self._clock, sleep=self._sleep)
            return self._search_limiter

    def _slot(self, endpoint: Endpoint) -> AbstractContextManager[Turn | None]:
        """A turn at the gate (ordering host), a search slot, or nothing."""
        limiter = self._ensure_ready()
        if endpoint.limiter == "ordering":
            if self._gate is None:
                raise RuntimeError("the ordering gate is made with the limiters")
            return self._gate.turn(self._profile.limits.ordering_interval)
        if endpoint.limiter == "search":
            return limiter.slot()
        return nullcontext(None)

    def _key_fingerprint(self) -> str:
        return hashlib.sha256(self._api_key.reveal().encode()).hexdigest()[:16]

    def _discover_limits(self) -> Limits:
        """Read ``{base}/sandbox/v1/config`` once; anything unexpected → production limits."""
        self.stats.record(SANDBOX_CONFIG.name)
        try:
            response = self._session.get(self._profile.config_url, timeout=self._timeout,
                                         headers={"Accept": "application/json"})
            config = response.json() if response.status_code == 200 else None
        except (requests.RequestException, ValueError):
            config = None
        limits = limits_from_config(config)
        log.debug("limits for %s: %s", self._profile.name, limits)
        return limits

    def _fetch_token(self) -> Token:
        form = {"apikey": self._api_key.reveal(), "grant_type": "api_key", "client_id": "IDP"}
        response = self._send(TOKEN, "POST", self._url("auth", TOKEN_PATH), form=form,
                              authenticated=False)
        token = self._model(TOKEN, response, Token)
        register_secret(token.access_token.get_secret_value())
        with self.stats._lock:
            self.stats.token_fetches += 1
        self._emit("token", TOKEN, f"access token valid {token.expires_in:.0f} s")
        return token

    def _get_json(self, endpoint: Endpoint, service: Service, path: str) -> Any:
        return self._json(endpoint, self._send(endpoint, "GET", self._url(service, path)))

    def _send(
        self,
        endpoint: Endpoint,
        method: str,
        url: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        accept: str = "application/json",
        authenticated: bool = True,
        customer_reference: str = "",
    ) -> requests.Response:
        """Send with auth, limits and retries; returns a 2xx response or raises ApiError."""
        attempt = 0
        renewed = False
        while True:
            token = self._tokens.get() if authenticated else None
            correlation = str(uuid.uuid4())
            request_headers = {"Accept": accept, CORRELATION_HEADER: correlation, **(headers or {})}
            if token:
                request_headers["Authorization"] = f"Bearer {token}"
            # Encoded before the turn: on the ordering host the wait for the interval is the
            # time to do it, and the turn covers the exchange only.
            prepared, settings = self._prepare(endpoint, method, url, json_body, form,
                                               request_headers, stream)
            failure: requests.RequestException | None = None
            with self._slot(endpoint) as turn:
                if turn is not None and turn.banned():
                    raise self._banned(endpoint, turn, attempt)
                if token:
                    # the wait for the turn may have outlived the token (renewed when due)
                    token = self._fresh_token(token, prepared, request_headers)
                self.stats.record(endpoint.name, retry=attempt > 0)
                self._log_request(method, url, request_headers, json_body, form, attempt)
                if turn is not None:
                    turn.sent(self._in_flight_allowance())
                started = time.perf_counter()
                try:
                    response = self._session.send(prepared, **settings)
                except requests.RequestException as error:
                    failure = error
                    if turn is not None and isinstance(error, requests.ReadTimeout):
                        # we stopped waiting, Airbus may not have: hold the next turn back
                        # (a connection the other side closed has ended the exchange)
                        turn.in_doubt(self._read_timeout())
                else:
                    if turn is not None and response.status_code == 429:
                        turn.ban(self._ban_seconds(response))
            if failure is not None:
                wait = self._transport_failure(endpoint, failure, attempt, correlation,
                                               customer_reference)
                self._wait(endpoint, attempt, wait, _transport_reason(failure))
                attempt += 1
                continue
            log.debug("<- %s %s %s %.3fs [correlation %s]", response.status_code, method, url,
                      time.perf_counter() - started, correlation)
            if response.status_code < 300:
                return response
            if response.status_code == 401 and token and not renewed:
                response.close()
                self._tokens.invalidate(token)
                renewed = True
                self._emit("token_rejected", endpoint, "401: renewing the access token")
                continue
            wait = self._status_failure(endpoint, response, attempt, correlation,
                                        customer_reference)
            self._wait(endpoint, attempt, wait, f"HTTP {response.status_code}")
            attempt += 1

    def _fresh_token(
        self, token: str, prepared: requests.PreparedRequest, headers: dict[str, str]
    ) -> str:
        """The token to send now: ``token``, or its renewal when it fell due meanwhile
        (the request's headers are updated)."""
        current = self._tokens.get()
        if current != token:
            headers["Authorization"] = prepared.headers["Authorization"] = f"Bearer {current}"
        return current

    def _prepare(
        self,
        endpoint: Endpoint,
        method: str,
        url: str,
        json_body: Mapping[str, Any] | None,
        form: Mapping[str, str] | None,
        headers: Mapping[str, str],
        stream: bool,
    ) -> tuple[requests.PreparedRequest, dict[str, Any]]:
        """The request as ``Session.request`` would send it, and its send settings."""
        request = requests.Request(method.upper(), url, headers=dict(headers), json=json_body,
                                   data=dict(form) if form is not None else {})
        try:
            prepared = self._session.prepare_request(request)
        except (requests.exceptions.InvalidJSONError, ValueError) as error:
            raise ApiError(
                f"{endpoint.label}: the request could not be encoded ({error}); nothing was sent"
            ) from None
        settings = self._session.merge_environment_settings(prepared.url, {}, stream, None,
                                                            None)
        return prepared, {"timeout": self._timeout, "allow_redirects": True, **settings}

    def _read_timeout(self) -> float:
        return self._timeout[1] if isinstance(self._timeout, tuple) else self._timeout

    def _in_flight_allowance(self) -> float:
        """How long a request sent now may still run at Airbus if this process is cut off
        before its answer: as long as this client would wait for it (connect, read), then in
        doubt as after a timeout (read again)."""
        connect = self._timeout[0] if isinstance(self._timeout, tuple) else self._timeout
        return connect + 2 * self._read_timeout()

    def _ban_seconds(self, response: requests.Response) -> float:
        """How long a 429 forbids the ordering API: the documented ban, or a longer
        ``Retry-After``."""
        retry_after = parse_retry_after(response.headers.get("Retry-After")) or 0.0
        return max(self._profile.limits.ban_seconds, retry_after)

    def _wait(self, endpoint: Endpoint, attempt: int, wait: float, reason: str) -> None:
        self._emit("retry", endpoint, f"{reason}; retrying in {wait:.1f} s", attempt=attempt + 1,
                   wait=wait)
        log.info("%s: %s; retry %d in %.1f s", endpoint.label, reason, attempt + 1, wait)
        self._sleep(wait)

    def _fraction(self) -> float:
        with self._rng_lock:
            return self._rng.random()

    def _transport_failure(
        self,
        endpoint: Endpoint,
        error: requests.RequestException,
        attempt: int,
        correlation: str,
        customer_reference: str,
    ) -> float:
        """Seconds to wait before retrying, or raise.

        An ordering request that may still be in progress is retried (when idempotent) only
        after its doubt period: the gate holds the next turn back until then."""
        reason = _transport_reason(error)
        if not endpoint.idempotent and not _request_not_sent(error):
            raise OutcomeUnknownError(
                f"{endpoint.label} outcome unknown: {reason} after the request was sent; it "
                f"may have been created. Do not resend: reconcile by customer reference "
                f"{customer_reference!r} [correlation {correlation}]",
                customer_reference=customer_reference,
                correlation_id=correlation,
            ) from None
        if attempt >= self._retry.retries:
            raise ServerError(
                f"{endpoint.label} failed: {reason} ({origin_of(self._url(endpoint.service, ''))}) "
                f"after {attempt + 1} attempts [correlation {correlation}]",
                correlation_id=correlation,
            ) from None
        return retry_wait(attempt, self._retry, self._fraction(), None)

    def _status_failure(
        self,
        endpoint: Endpoint,
        response: requests.Response,
        attempt: int,
        correlation: str,
        customer_reference: str,
    ) -> float:
        """Seconds to wait before retrying, or raise the mapped exception."""
        status = response.status_code
        body = parse_error_body(self._scrub(response.text))
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        response.close()
        self.stats.record("", status=status)
        if endpoint is TOKEN and status in (400, 401, 403):
            raise AuthenticationError(
                describe("OneAtlas API key", status, body, correlation, verb="refused") +
                "\nCheck ONEATLAS_API_KEY or --api-key-file (the key may be revoked).",
                status=status, error_code=body.code, server_message=body.message,
                correlation_id=correlation,
            )
        if status == 401:
            raise AuthenticationError(
                describe(endpoint.label, status, body, correlation) +
                "\nA fresh access token was refused too; check the API key.",
                status=status, error_code=body.code, server_message=body.message,
                correlation_id=correlation,
            )
        if status == 429 and endpoint.limiter == "ordering":
            # never retried: a second request during the ban would only prolong it
            raise self._rate_limited(endpoint, status, body, correlation, attempt)
        if not endpoint.idempotent:
            self._non_idempotent_failure(endpoint, status, body, correlation, customer_reference)
        if status in RETRY_STATUSES and attempt < self._retry.retries:
            if retry_after is not None and retry_after > self._retry.max_retry_after:
                raise self._rate_limited(endpoint, status, body, correlation, attempt,
                                         retry_after)
            return retry_wait(attempt, self._retry, self._fraction(), retry_after)
        if status == 429:
            raise self._rate_limited(endpoint, status, body, correlation, attempt, retry_after)
        raise error_for_status(endpoint.label, status, body, correlation)

    def _non_idempotent_failure(
        self, endpoint: Endpoint, status: int, body: ErrorBody, correlation: str, reference: str
    ) -> None:
        if status >= 500 or status == 408:
            raise OutcomeUnknownError(
                describe(endpoint.label, status, body, correlation, verb="outcome unknown") +
                f"\nIt may have been created: do not resend; reconcile by customer reference "
                f"{reference!r}.",
                customer_reference=reference, status=status, error_code=body.code,
                server_message=body.message, correlation_id=correlation,
            )
        raise error_for_status(endpoint.label, status, body, correlation)

    def _rate_limited(
        self,
        endpoint: Endpoint,
        status: int,
        body: ErrorBody,
        correlation: str,
        attempt: int,
        retry_after: float | None = None,
    ) -> RateLimitedError:
        """A 429 that ends the call. On the ordering host the ban is already recorded in the
        gate (every process sharing it stops too)."""
        sent = "sent once, not retried" if attempt == 0 else (
            f"sent {attempt + 1} times: the first try and {attempt} "
            f"retr{'y' if attempt == 1 else 'ies'}, each answered 429")
        if endpoint.limiter == "ordering":
            until = self._gate.banned_until() if self._gate is not None else None
            return RateLimitedError(
                describe(endpoint.label, status, body, correlation) +
                f"\nThis request was {sent}. OneAtlas rate-limits the ordering API per API key "
                f"and may ban it for {_duration(self._profile.limits.ban_seconds)}: "
                + _paused_until(until),
                status=status, error_code=body.code, server_message=body.message,
                correlation_id=correlation, retry_at=until,
            )
        wait = retry_after if retry_after else self._profile.limits.ban_seconds
        return RateLimitedError(
            describe(endpoint.label, status, body, correlation) +
            f"\nThis request was {sent}. OneAtlas is rate-limiting this API key on the "
            f"{endpoint.label}: wait {_duration(wait)} and run the command again: it resumes "
            "where it stopped.",
            status=status, error_code=body.code, server_message=body.message,
            correlation_id=correlation,
        )

    def _banned(self, endpoint: Endpoint, turn: Turn, attempt: int) -> RateLimitedError:
        """The gate holds a ban: refuse without sending anything."""
        sent = "" if attempt == 0 else f" (after {attempt} earlier attempts)"
        return RateLimitedError(
            f"{endpoint.label} not sent{sent}: OneAtlas answered 429 to an ordering request "
            f"made with this API key, and a request during the ban would prolong it: "
            + _paused_until(turn.banned_until),
            retry_at=turn.banned_until,
        )

    def _json(self, endpoint: Endpoint, response: requests.Response) -> Any:
        correlation = response.request.headers.get(CORRELATION_HEADER, "")
        try:
            return _decode(endpoint, response)
        except ValueError:
            raise ServerError(
                f"{endpoint.label} answered {response.status_code} with a body that is not JSON "
                f"[correlation {correlation}]",
                status=response.status_code, correlation_id=correlation,
            ) from None

    def _model(
        self, endpoint: Endpoint, response: requests.Response, model: type[ModelT]
    ) -> ModelT:
        data = self._json(endpoint, response)
        try:
            return model.model_validate(data)
        except ValidationError as error:
            raise self._shape_error(endpoint, response, error) from None

    def _list(
        self, endpoint: Endpoint, data: Any, key: str, model: type[ModelT]
    ) -> list[ModelT]:
        raw = data.get(key, []) if isinstance(data, dict) else data
        try:
            return [model.model_validate(entry) for entry in raw or []]
        except (ValidationError, TypeError) as error:
            raise ServerError(
                f"{endpoint.label}: unexpected response shape under {key!r}: "
                f"{_first_problem(error)}"
            ) from None

    def _shape_error(
        self, endpoint: Endpoint, response: requests.Response, error: ValueError
    ) -> ServerError:
        correlation = response.request.headers.get(CORRELATION_HEADER, "")
        return ServerError(
            f"{endpoint.label}: unexpected response shape: {_first_problem(error)} "
            f"[correlation {correlation}]",
            status=response.status_code, correlation_id=correlation,
        )

    def _scrub(self, text: str) -> str:
        return scrub(text, [self._api_key.reveal(), *self._tokens.secrets()])

    def _emit(self, kind: EventKind, endpoint: Endpoint, message: str, *, attempt: int = 0,
              wait: float = 0.0, data: dict[str, Any] | None = None) -> None:
        if self._on_event is not None:
            self._on_event(ApiEvent(kind, endpoint.name, message, attempt, wait, data or {}))

    def _log_request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json_body: Mapping[str, Any] | None,
        form: Mapping[str, str] | None,
        attempt: int,
    ) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            return
        shown = {k: ("***" if k.lower() == "authorization" else v) for k, v in headers.items()}
        if form is not None:
            body = "&".join(f"{k}={'***' if k == 'apikey' else v}" for k, v in form.items())
        elif json_body is not None:
            body = json.dumps(json_body, sort_keys=True)[:LOG_BODY_LIMIT]
        else:
            body = ""
        log.debug("-> %s %s attempt=%d headers=%s body=%s", method, url, attempt + 1, shown,
                  self._scrub(body))


def _decode(endpoint: Endpoint, response: requests.Response) -> Any:
    """The JSON body; on the endpoints that carry money, numbers with a fraction or exponent
    are read as ``Decimal`` (never through a binary float)."""
    if endpoint in MONEY_ENDPOINTS:
        return json.loads(response.content, parse_float=Decimal)
    return response.json()


def _paused_until(until: datetime | None) -> str:
    when = f"{until:%Y-%m-%d %H:%M:%S} UTC" if until else "the ban is over"
    return (f"no ordering request is sent with this key from this machine until {when}. "
            "Run the command again after that: it resumes where it stopped.")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _first_problem(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        location = ".".join(str(part) for part in first.get("loc", ()))
        return f"{location}: {first.get('msg')}"
    return str(error)


def _unique(features: Sequence[FeatureT]) -> list[FeatureT]:
    seen: set[str] = set()
    result: list[FeatureT] = []
    for feature in features:
        if feature.id not in seen:
            seen.add(feature.id)
            result.append(feature)
    return result


__all__ = [
    "ApiEvent",
    "ClientStats",
    "Download",
    "Endpoint",
    "OneAtlasClient",
]

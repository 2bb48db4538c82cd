"""OneAtlas API access: the only package that imports ``requests``.

Importing this package is cheap; import the submodules you need.

Public API
----------
``oneatlas_plan.api.profiles``
    ``Limits(ordering_rps=1.0, ordering_concurrency=1, search_rps=100.0, search_concurrency=8,
    ban_seconds=600.0, safety_margin=0.05)`` (``safety_margin``: searches only; the ordering
    interval adds ``pacing_margin(interval)``, derived from the clocks);
    ``EndpointProfile(name, auth, search, access, order, data, limits, discover_limits)`` with
    ``.url(service, path)``, ``.base(service)``, ``.origins()``;
    ``resolve_endpoint(value: str) -> EndpointProfile`` ("production" or a base URL; a
    non-loopback ``http://`` URL raises ``ConfigError``); ``production_profile()``.
``oneatlas_plan.api.auth``
    ``ApiKey(secret)`` (``repr``/``str`` show ``***``; ``.reveal()``);
    ``load_api_key(environ: Mapping[str, str], key_file: Path | None) -> ApiKey``.
``oneatlas_plan.api.query``
    ``SearchQuery`` (frozen) with ``.to_body(start_page=1) -> dict``; ``PUBLIC_WORKSPACE``,
    ``PUBLIC_PNEO_WORKSPACE``, ``RESULT_WINDOW``, ``split_acquisition(query, now)``.
``oneatlas_plan.api.orders``
    ``Aoi(id, name, geometry)``, ``OrderItem(product_type_id, aoi_id, datastrip_ids=(),
    data_source_ids=(), catalog_id="PublicMOC", segment_key=None, comments=None)``,
    ``OrderRequest(...).to_body() -> dict`` (prices, orders and quotations),
    ``email_notification(addresses)``, ``options_body(aoi_geometry, polygon_id=1)``,
    ``orders_search_q(contract_id=, customer_reference=, quotation_id=, quotation_status=,
    status=, source="archive") -> str``, ``orders_search_body(q, start_index=0,
    items_per_page=100)``.
``oneatlas_plan.api.models``
    ``Feature`` (``.id``, ``.datastrip_id``, ``.links_named(name)``, ``.link(name)``,
    ``.download_href``), ``SearchPage``, ``Contract``, ``ProductType``, ``ProductionOption``
    (``.is_required(selected)``, ``.applies(selected)``, ``.aoi_id``, ``.base_name``),
    ``Market``, ``DeliveryType``, ``PriceResponse``, ``OrderResponse``, ``OrderLine``, ``Me``,
    ``Token``.
``oneatlas_plan.api.client``
    ``OneAtlasClient(profile, api_key, *, session=None, sleep=time.sleep,
    clock=time.monotonic, on_event=None, retry=None, timeout=(10.0, 120.0), rng=None,
    gate=None)``:
    ``search``, ``search_many``, ``search_page``, ``find_delivered``, ``contracts``,
    ``product_types``, ``product_options``, ``markets``, ``delivery_types``, ``me``, ``price``,
    ``order``, ``quotation``, ``accept_quotation``, ``refuse_quotation``, ``search_orders``,
    ``open_download`` (→ ``Download``), ``close``; ``stats`` (``ClientStats``).
``oneatlas_plan.api.gate``
    ``OrderingGate`` (Protocol: ``turn(interval)`` → context manager of ``Turn``,
    ``banned_until()``); ``FileGate(path)`` (every process of the user, fcntl lock),
    ``LocalGate()`` / ``local_gate(scope)`` (one process); ``machine_gate(directory, origin,
    api_key)``, ``runtime_dir(environ)``. See docs/ARCHITECTURE.md, "Ordering gate".
``oneatlas_plan.api.retry``
    ``RetryPolicy(retries=5, base_delay=0.5, max_delay=30.0, max_retry_after=120.0)``;
    ``DEFAULT_TIMEOUT`` (connect, read seconds).
``oneatlas_plan.api.events``
    ``ApiEvent(kind, endpoint, message, attempt, wait, data)`` passed to ``on_event``.

Errors raised are those of :mod:`oneatlas_plan.errors`: ``AuthenticationError`` (bad key, never
retried), ``NotFoundError`` (404), ``RequestRejectedError`` (other 4xx: nothing was created),
``RateLimitedError`` (429 on the ordering host, never retried, or a ban recorded in the gate;
search 429 after retries; ``retry_at`` when known: resume later), ``ServerError``
(5xx or transport failure after retries), ``OutcomeUnknownError`` (an order or quotation may
have been created: reconcile by ``customer_reference``). Messages carry Airbus's ``message``,
``errorCode`` and the request's ``X-Ads-Correlation-Id``, never the key or a token.
"""

"""Endpoint handlers: ``(app, request, **path_args) -> Response``; they raise ApiFailure."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wrappers import Request, Response

from .criteria import CriteriaError, parse_criteria
from .delivery import part_names, part_zip_name, product_zip, public_feature
from .errors import api_error, order_error
from .faults import CLOSE_AFTER_RESPONSE, DropConnection
from .features import derived_uuid
from .geo import GeometryError, parse_geometry
from .holds import HANDLED
from .images import png
from .options import available_options
from .store import ledger
from .world import CONTRACTS, MARKETS, PRIVATE_WORKSPACES, Contract

if TYPE_CHECKING:
    from .app import SandboxApp


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    from .app import json_response

    return json_response(body, status, headers)


def _body(request: Request, *, order_style: bool = True) -> Any:
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError as exc:
        if order_style:
            raise order_error(400, "E4000", f"Malformed JSON body: {exc}") from exc
        raise api_error(400, f"Malformed JSON body: {exc}") from exc


def _contract(cid: str) -> Contract:
    if cid not in CONTRACTS:
        raise order_error(404, "E2203", f"CIS contract '{cid}' not found.")
    return CONTRACTS[cid]


# --- auth ----------------------------------------------------------------------------------------


def token(app: SandboxApp, request: Request) -> Response:
    form = request.form
    if form.get("grant_type") != "api_key":
        raise api_error(400, "Unsupported grant_type (expected 'api_key')")
    if form.get("client_id") != "IDP":
        raise api_error(400, "Invalid client_id (expected 'IDP')")
    if form.get("apikey") != app.config.api_key:
        raise api_error(403, "Invalid API key")
    return _json(app.tokens.issue(app.config.faults.token_ttl, app.now()))


# --- search and access ---------------------------------------------------------------------------


def _search_params(request: Request) -> dict[str, Any]:
    if request.method == "POST":
        body = _body(request, order_style=False)
        if not isinstance(body, dict):
            raise api_error(400, "Search body must be a JSON object")
        return body
    return {key: ",".join(values) for key, values in request.args.lists()}


def _delivered(app: SandboxApp, base: str) -> list[dict[str, Any]]:
    shape = app.config.faults.download_links
    return [public_feature(d["feature"], base, shape) for d in app.store.deliveries(app.now())]


def search_v1(app: SandboxApp, request: Request) -> Response:
    try:
        crit = parse_criteria(_search_params(request))
    except CriteriaError as exc:
        raise api_error(400, str(exc)) from exc
    base = app.base_url(request)
    return _json(app.archive.search(crit, base, _delivered(app, base)))


search_v2 = search_v1


def _find_item(app: SandboxApp, item_id: str, base: str) -> dict[str, Any]:
    for stored in app.store.deliveries(app.now()):
        if stored["item_id"] == item_id:
            return public_feature(stored["feature"], base, app.config.faults.download_links)
    feature = app.archive.feature_by_id(item_id, base)
    if feature is None:
        raise api_error(404, "Item not found in catalog or resource not found in item")
    return feature


def quicklook(app: SandboxApp, request: Request, item_id: str) -> Response:
    _find_item(app, item_id, app.base_url(request))
    return Response(png(96, 96, item_id), content_type="image/png")


def thumbnail(app: SandboxApp, request: Request, item_id: str) -> Response:
    _find_item(app, item_id, app.base_url(request))
    try:
        width = int(request.args.get("width", 128))
    except ValueError as exc:
        raise api_error(400, "width must be an integer") from exc
    if not 128 <= width <= 1024:
        raise api_error(400, "width must be between 128 and 1024")
    side = min(width, 256)
    return Response(png(side, side, item_id + ":thumb"), content_type="image/png")


def download(app: SandboxApp, request: Request, item_id: str) -> Response:
    stored = next((d for d in app.store.deliveries(app.now()) if d["item_id"] == item_id), None)
    if stored is None:
        _find_item(app, item_id, app.base_url(request))
        raise api_error(403, "User has not enough rights to consume the item")
    part = request.args.get("part")
    if part is not None and part not in part_names():
        raise api_error(404, "Item not found in catalog or resource not found in item")
    data = product_zip(stored["feature"], part)
    name = part_zip_name(stored["feature"], part)
    response = Response(
        data,
        content_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Ads-Checksum-Method": app.config.faults.checksum_method,
            "X-Ads-Checksum-Value": hashlib.md5(data).hexdigest(),
        },
    )
    if app.config.faults.ignore_ranges:
        response.headers["Accept-Ranges"] = "none"
    else:
        try:
            response = response.make_conditional(
                request, accept_ranges=True, complete_length=len(data)
            )
        except RequestedRangeNotSatisfiable:  # RFC 9110: 416 with the complete length
            return _json(
                {"message": f"Requested range not satisfiable (the file has {len(data)} bytes)"},
                416,
                {"Content-Range": f"bytes */{len(data)}", "Accept-Ranges": "bytes"},
            )
    return _download_faults(app, response)


def _download_faults(app: SandboxApp, response: Response) -> Response:
    """``corrupt_downloads``: flip one byte (the checksum header stays the true file's);
    ``truncate_downloads_at``: end a transfer from byte 0 at that byte, short of its
    Content-Length (the server then closes the connection, as after a network cut); a
    ``Range`` request (a resume) is served whole."""
    if response.status_code not in (200, 206):
        return response
    body = response.get_data()
    start = response.content_range.start if response.status_code == 206 else 0
    start = start or 0
    if body and app.faults.should_corrupt_download():
        middle = len(body) // 2
        body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]
        response.set_data(body)
    cut = app.config.faults.truncate_downloads_at
    if start == 0 and 0 < cut < len(body):
        response.response = [body[:cut]]
        response.headers["Content-Length"] = str(len(body))
        response.headers[CLOSE_AFTER_RESPONSE] = "1"
    return response


# --- account and contracts -----------------------------------------------------------------------


def me(app: SandboxApp, request: Request) -> Response:
    base = app.base_url(request)
    legacy = CONTRACTS["Test_E2E_BR_1392-1375"]
    user_id = derived_uuid(app.config.api_key, "user")
    cid = legacy.me_contract_id
    contract_links = {
        k: {"href": f"{base}api/v1/contracts/{cid}" + ("" if k == "self" else f"/{k}")}
        for k in (
            "self",
            "orders",
            "payments",
            "subscriptions",
            "deliveries",
            "reports",
            "cisContracts",
        )
    }
    return _json(
        {
            "_links": {
                "self": {"href": f"{base}api/v1/me"},
                "licenses": {"href": f"{base}api/v1/licenseAgreements"},
            },
            "id": user_id,
            "status": "created",
            "createdAt": "2022-08-19T12:19:43Z",
            "roles": ["contractViewer", "user"],
            "contract": {
                "_links": contract_links,
                "id": cid,
                "status": "created",
                "createdAt": "2021-07-07T08:01:07Z",
                "offers": ["order.data.product"],
                "companyName": "Sandbox",
                "amountUnit": "EUR",
                "balanceUnit": "EUR",
                "kind": "contract.oneatlas.internal",
                "name": legacy.id,
                "balance": 1000000,
                "workspaceId": legacy.delivery.id,
                "workspaceName": legacy.delivery.name,
            },
            "permissions": [
                {"contractId": c.me_contract_id, "kind": "contract.user", "userId": user_id}
                for c in CONTRACTS.values()
            ],
        }
    )


def _contract_doc(contract: Contract) -> dict[str, Any]:
    return {
        "contractId": contract.id,
        "customerId": contract.customer_id,
        "name": contract.name,
        "tradeAgreementUrl": "https://www.intelligence-airbusds.com/cgf/",
        "creditRemaining": "1000000.0",
        "currency": "EUR",
        "language": "en",
        "contractType": "ONEATLASDATA",
        "delivery": [
            {"deliveryPlatformId": "PublicMOC", "deliveryWorkspace": contract.delivery.id}
        ],
        "backendSource": contract.backend,
    }


def contracts(app: SandboxApp, request: Request) -> Response:
    return _json({"contracts": [_contract_doc(c) for c in CONTRACTS.values()]})


def contract(app: SandboxApp, request: Request, cid: str) -> Response:
    return _json(_contract_doc(_contract(cid)))


def product_types(app: SandboxApp, request: Request, cid: str) -> Response:
    docs = [
        {
            "productTypeId": p.id,
            "technicalProduct": {
                "id": p.id,
                "label": p.label,
                "source": {"id": "archive", "label": "Archive"},
                "sensor": {"id": p.sensor, "label": p.sensor_label},
                "target": {"id": "mono", "label": "Mono"},
                "licences": None,
            },
            "minimumOrderAreaApplied": p.minimum_area_km2,
            "descriptionUrl": "https://www.intelligence-airbusds.com/",
        }
        for p in _contract(cid).product_types
    ]
    return _json({"productTypes": docs})


def options(app: SandboxApp, request: Request, cid: str, pt: str) -> Response:
    found = _contract(cid)
    if pt not in {p.id for p in found.product_types}:
        raise order_error(400, "E4001", f"Product type '{pt}' is not available on contract '{cid}'")
    body = _body(request)
    aois = body.get("aoi") if isinstance(body, dict) else None
    if not isinstance(aois, list) or not aois:
        raise order_error(400, "E4000", "Body must contain a non-empty 'aoi' list")
    centroids = {}
    for entry in aois:
        try:
            geom = parse_geometry(entry["geometry"])
            centroids[int(entry.get("polygonId", entry.get("id", 1)))] = (
                geom.centroid.x,
                geom.centroid.y,
            )
        except (GeometryError, KeyError, TypeError, ValueError) as exc:
            raise order_error(400, "E4003", f"Invalid aoi: {exc}") from exc
    return _json({"availableOptions": available_options(found.backend, centroids)})


def properties(app: SandboxApp, request: Request, cid: str) -> Response:
    _contract(cid)
    markets = [
        {"id": m, "label": label, "secondaryMarket": [{"id": m, "label": label}]}
        for m, label in MARKETS
    ]
    return _json({"properties": [], "markets": markets})


contract_properties = properties


def all_properties(app: SandboxApp, request: Request) -> Response:
    countries = [{"id": c, "label": c} for c in ("FR", "DE", "ES", "GB", "IT", "US", "CN", "JP")]
    return _json({"properties": [{"key": "countries", "values": countries}]})


def delivery_types(app: SandboxApp, request: Request, cid: str) -> Response:
    _contract(cid)
    return _json(
        {
            "deliveryTypes": [
                {"deliveryTypeId": "network", "label": "FTP + My Data"},
                {"deliveryTypeId": "MEDIA", "label": "MEDIA"},
            ]
        }
    )


# --- ordering ------------------------------------------------------------------------------------


def prices(app: SandboxApp, request: Request) -> Response:
    return _json(app.orders.price(_body(request), app.config.faults.price_factor), 201)


def _create(app: SandboxApp, request: Request, endpoint: str) -> Response:
    order = app.orders.validate(_body(request), endpoint)
    faults = app.config.faults
    answer = app.orders.commit(
        order,
        endpoint,
        faults.delivery_delay_s,
        reference_limit=faults.truncate_references_at,
        price_factor=faults.price_factor,
    )
    app.faults.order_delay()
    if app.faults.should_drop():
        raise DropConnection
    return _json(answer, 201)


def orders(app: SandboxApp, request: Request) -> Response:
    return _create(app, request, "orders")


def quotations(app: SandboxApp, request: Request) -> Response:
    return _create(app, request, "quotations")


def accept(app: SandboxApp, request: Request, cid: str, qid: str) -> Response:
    return _json(app.orders.decide(cid, qid, True, app.config.faults.delivery_delay_s))


def refuse(app: SandboxApp, request: Request, cid: str, qid: str) -> Response:
    return _json(app.orders.decide(cid, qid, False, app.config.faults.delivery_delay_s))


def orders_search(app: SandboxApp, request: Request) -> Response:
    return _json(app.orders.search_lines(_body(request)))


# --- control (sandbox only) ----------------------------------------------------------------------


def ctl_config(app: SandboxApp, request: Request) -> Response:
    doc = app.config.public()
    doc["workspaces"] = {ws.name: ws.id for ws in PRIVATE_WORKSPACES}
    doc["contracts"] = {c.id: c.backend for c in CONTRACTS.values()}
    return _json(doc)


def ctl_ledger(app: SandboxApp, request: Request) -> Response:
    return _json(ledger(app.store))


def ctl_stats(app: SandboxApp, request: Request) -> Response:
    return _json(app.limiter.snapshot())


def ctl_faults(app: SandboxApp, request: Request) -> Response:
    if request.method == "POST":
        body = _body(request, order_style=False)
        if not isinstance(body, dict):
            raise_bad = api_error(400, "Body must be a JSON object")
            return _json(raise_bad.body, 400)
        try:
            app.config.faults.update(body)
        except (KeyError, TypeError, ValueError) as exc:
            return _json(api_error(400, f"Unknown or invalid fault knob: {exc}").body, 400)
    return _json(app.config.faults.as_dict())


def ctl_reset(app: SandboxApp, request: Request) -> Response:
    app.limiter.reset_stats()
    app.limiter.reset_bans()
    return _json({"reset": True})


def ctl_hold(app: SandboxApp, request: Request) -> Response:
    body = _body(request, order_style=False)
    if not isinstance(body, dict) or set(body) - {"endpoints", "count", "stage"}:
        return _json(api_error(400, "Body must be {endpoints, count, stage}").body, 400)
    endpoints = body.get("endpoints")
    if isinstance(endpoints, str):
        endpoints = [endpoints]
    count = body.get("count", 1)
    stage = body.get("stage", HANDLED)
    if (
        not isinstance(endpoints, list)
        or not all(isinstance(e, str) for e in endpoints)
        or not isinstance(count, int)
        or isinstance(count, bool)
        or not isinstance(stage, str)
    ):
        return _json(api_error(400, "Body must be {endpoints, count, stage}").body, 400)
    try:
        app.holds.arm(endpoints, count, stage)
    except ValueError as exc:
        return _json(api_error(400, f"Invalid hold: {exc}").body, 400)
    return _json(app.holds.snapshot())


def ctl_held(app: SandboxApp, request: Request) -> Response:
    return _json(app.holds.snapshot())


def ctl_release(app: SandboxApp, request: Request) -> Response:
    body = _body(request, order_style=False) or {}
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(body, dict) or set(body) - {"ids"} or (
        ids is not None
        and (not isinstance(ids, list) or not all(type(i) is int for i in ids))
    ):
        return _json(api_error(400, "Body must be {} or {ids: [held request ids]}").body, 400)
    released = app.holds.release(ids)
    return _json({"released": released, **app.holds.snapshot()})

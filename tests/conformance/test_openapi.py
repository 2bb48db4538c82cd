"""Conformance with Airbus's Pay-Per-Order OpenAPI (``ppo-openapi.yml`` of the reference folder).

For every endpoint the sandbox serves that the OpenAPI describes, the sandbox's answers are
validated against the documented response schema, and the requests this client builds (the
exact bodies of a real ``plan`` of the shipped specs, the search, options and order-search
bodies) against the documented request schema. Every captured real response of the reference
folder goes through the client's parsers.

The OpenAPI file has errors of its own. Each one the suite works around is listed in
:data:`KNOWN_ERRORS` with the reference that shows the file is wrong; nothing else is relaxed.
Without the reference folder every test here skips, saying where it looked.
"""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jsonschema
import pytest
import requests
import yaml

from oneatlas_plan.api.models import Contract, Feature, Me, OrderResponse, SearchPage
from oneatlas_plan.api.orders import options_body, orders_search_body, orders_search_q
from oneatlas_plan.api.query import SearchQuery
from oneatlas_plan.cli import run
from oneatlas_plan.planning.planfile import expand_parts
from oneatlas_plan.sandbox.app import ROUTES
from oneatlas_plan.sandbox.embedded import RunningSandbox, start_embedded
from tests.api.conftest import FakeOneAtlas, json_response
from tests.reference import ROOT, reference_json, reference_path

LEGACY = "Test_E2E_BR_1392-1375"
NEO = "CTR21000411"
TOULOUSE = {"type": "Polygon", "coordinates": [[[1.41, 43.58], [1.47, 43.58], [1.47, 43.63],
                                                 [1.41, 43.63], [1.41, 43.58]]]}
Schema = dict[str, Any]


# --------------------------------------------------------------------------- the allow-list


@dataclass(frozen=True)
class KnownError:
    """An error of the OpenAPI file, the evidence that it is one, and how the suite copes."""

    id: str
    what: str
    evidence: str


KNOWN_ERRORS = (
    KnownError(
        "orders-path-leading-space",
        "The Pay-Per-Order order endpoint is keyed ' /api/v1/orders' (leading space); the clean "
        "'/api/v1/orders' key holds the Living Library order schema (kind: order.data.product).",
        "API-FACTS.md §0 (S-PPO caveat: malformed path keys); archive-ordering-guide.txt step 5 "
        "posts the Pay-Per-Order body to https://order.api.oneatlas.airbus.com/api/v1/orders.",
    ),
    KnownError(
        "accept-path-garbled",
        "The quotation accept path is nested as a method key inside "
        "'/api/v1/quotations/{quotationId}/export' (whose 'put' is the accept operation).",
        "API-FACTS.md §4.8 ('The spec's path is garbled'); the sibling refuse path "
        "'/api/v1/contracts/{CisContractId}/quotations/{quotationId}/refuse' is well formed.",
    ),
    KnownError(
        "missing-leading-slash",
        "Some path keys lack their leading '/' (e.g. 'api/v2/orders/search').",
        "API-FACTS.md §0 (S-PPO caveat: malformed path keys).",
    ),
    KnownError(
        "contracts-delivery-array",
        "GET /api/v1/contracts types 'delivery' as an object; the same file's Pléiades Neo "
        "example and real clients use an array of {deliveryPlatformId, deliveryWorkspace}.",
        "API-FACTS.md §4.6 (0.1 and 0.2: contracts[].delivery[].deliveryWorkspace).",
    ),
    KnownError(
        "product-type-enum",
        "productTypeId enums list only some ids (e.g. SpotArchiveMono); contracts enable others, "
        "e.g. SPOTArchive1.5Mono.",
        "API-FACTS.md §4.2 (items[].productTypeId: production code uses SPOTArchive1.5Mono; "
        "'Always take the ids from GET /contracts/{id}/productTypes').",
    ),
    KnownError(
        "per-aoi-option-keys",
        "Per-AOI option keys are enumerated literally as 'dem_i' / 'projection_i'; the real "
        "keys carry the AOI id (dem_1, projection_1) or none (dem).",
        "archive-ordering-guide.txt step 5 notes ('The number 1 in dem_1 and projection_1 "
        "refers to the aoiId'); the OpenAPI's own examples send dem_1; API-FACTS.md §4.3.",
    ),
    KnownError(
        "option-value-enums",
        "Option value enums are examples, not the list: the projection enum repeats the "
        "processing_level values, licences lack the multi-user ones, DEMs lack some ids.",
        "API-FACTS.md §4.3 ('The spec enum wrongly repeats the processing_level values'; "
        "licences 'In real use there are more'; 'The authoritative list per contract and "
        "product is the POST …/productTypes/{id}/options response').",
    ),
    KnownError(
        "order-body-oneof-without-discriminator",
        "The order body is a oneOf of four variants that no field tells apart (the response "
        "variants have no 'required' at all), so one object matches several: each body is "
        "validated against the variant named by its title, strictly.",
        "API-FACTS.md §4.2 (the four variants) and §4.5 (responses: salesOrderId for SPOT & "
        "Pléiades, quotationId for Pléiades Neo).",
    ),
    KnownError(
        "search-constellation-enum",
        "The POST /api/v2/opensearch body enumerates constellation as PNEO only; PHR and SPOT "
        "are searched the same way.",
        "API-FACTS.md §3.2 (constellation: 'Values seen in real data: PHR, SPOT, PNEO … The POST "
        "v2 schema in S-PPO lists only PNEO'); archive-ordering-guide.txt step 2 returns SPOT.",
    ),
    KnownError(
        "search-item-fields",
        "Catalogue items: constellation/platform enums omit PHR, PHR1B, PNEO…; correlationId is "
        "typed uuid; productionStatus is an object; rights privileges and filters require "
        "rights/userId/workspace; images* links are arrays only.",
        "The captured real responses (search-response-phr-album-captured.json: PHR, PHR1B, "
        "'mmcat_…' correlation ids; search-response-private-workspace-delivered.json: PNEO3, "
        "'PWOI_…', productionStatus 'IN_CLOUD', privileges without userId) and "
        "archive-ordering-guide.txt step 2 (productionStatus 'ARCHIVED', single-object images* "
        "links); API-FACTS.md §3.3 ('each _links.images* value is either one object or an array').",
    ),
    KnownError(
        "malformed-property-schemas",
        "Some property schemas are not schemas (items[].comments is the empty string ''), which "
        "JSON Schema's metaschema rejects: they are read as 'any value'.",
        "API-FACTS.md §4.2 (items[].comments: a string 'intended for the Airbus team'); the "
        "guide's own step 5 sample (archive-ordering-guide.txt) is validated with it.",
    ),
    KnownError(
        "token-type-case",
        "token_type is enumerated as 'bearer'; the file's own example and Keycloak send "
        "'Bearer'.",
        "API-FACTS.md §2.2 ('token_type appears as both \"bearer\" and \"Bearer\"').",
    ),
)
KNOWN = {error.id for error in KNOWN_ERRORS}


def test_every_known_error_cites_its_evidence() -> None:
    assert len(KNOWN) == len(KNOWN_ERRORS)
    for error in KNOWN_ERRORS:
        assert error.what and re.search(r"(API-FACTS\.md|archive-ordering-guide\.txt)",
                                        error.evidence), error.id


# --------------------------------------------------------------------------- the OpenAPI


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return dict(yaml.safe_load(reference_path("ppo-openapi.yml").read_text(encoding="utf-8")))


def normalised_paths(openapi: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Path → operations, with the file's malformed keys repaired (see KNOWN_ERRORS)."""
    paths: dict[str, dict[str, Any]] = {}
    # well-formed keys first: a malformed duplicate ('api/v2/orders/search') never overrides
    for key, operations in sorted(openapi["paths"].items(), key=lambda kv: kv[0] != kv[0].strip()
                                  or not kv[0].startswith("/")):
        clean = "/" + key.strip().lstrip("/")  # orders-path-leading-space, missing-leading-slash
        if key.strip() == "/api/v1/orders":
            clean = "/api/v1/orders#ppo" if key.startswith(" ") else "/api/v1/orders#ll"
        ops = {m: op for m, op in operations.items() if not m.startswith("/")}
        nested = [m for m in operations if m.startswith("/")]
        if nested:  # accept-path-garbled: the nested key's operation is the 'put' beside it
            paths["/" + nested[0].lstrip("/")] = {"put": ops.pop("put")}
        for method, op in ops.items():
            paths.setdefault(clean, {}).setdefault(method, op)
    return paths


def _schema_only(node: Any) -> Any:
    """malformed-property-schemas: a property whose schema is not one accepts any value."""
    if not isinstance(node, dict):
        return {}
    out = dict(node)
    if isinstance(node.get("properties"), dict):
        out["properties"] = {k: _schema_only(v) for k, v in node["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            out[key] = _schema_only(node[key])
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(node.get(key), list):
            out[key] = [_schema_only(v) for v in node[key]]
    return out


def _resolve(openapi: dict[str, Any], node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = openapi
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _resolve(openapi, copy.deepcopy(target))
        return {k: _resolve(openapi, v) for k, v in node.items()
                if k not in ("example", "examples", "x-example")}
    if isinstance(node, list):
        return [_resolve(openapi, v) for v in node]
    return node


def response_schema(openapi: dict[str, Any], path: str, method: str, status: str) -> Schema:
    """The documented schema (``{}``, anything, when the file gives only an example)."""
    op = normalised_paths(openapi)[path][method]
    content = op["responses"][status]["content"]["application/json"]
    return dict(_schema_only(_resolve(openapi, content.get("schema", {}))))


def request_schema(openapi: dict[str, Any], path: str, method: str = "post") -> Schema:
    op = normalised_paths(openapi)[path][method]
    content = op["requestBody"]["content"]
    schema = content.get("application/json") or content["application/x-www-form-urlencoded"]
    return dict(_schema_only(_resolve(openapi, schema["schema"])))


def _walk(node: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def relax_enums(schema: Schema, *names: str) -> Schema:
    """Drop the enum of every property called one of ``names`` (product-type-enum,
    option-value-enums, token-type-case)."""

    def visit(node: dict[str, Any]) -> None:
        for name, prop in (node.get("properties") or {}).items():
            if name in names and isinstance(prop, dict):
                prop.pop("enum", None)

    _walk(schema, visit)
    return schema


def option_items(schema: Schema) -> Schema:
    """per-aoi-option-keys + option-value-enums: an option is ``{key, value}`` whose key is a
    documented one, possibly with an AOI suffix (``dem_i`` standing for ``dem_1``)."""

    def visit(node: dict[str, Any]) -> None:
        options = (node.get("properties") or {}).get("options")
        if isinstance(options, dict) and options.get("type") == "array":
            keys: set[str] = set()
            _walk(options, lambda n: keys.update(
                (n.get("properties") or {}).get("key", {}).get("enum") or []))
            bases = sorted({k.removesuffix("_i") for k in keys})
            options["items"] = {
                "type": "object", "required": ["key", "value"], "additionalProperties": False,
                "properties": {
                    "key": {"type": "string",
                            "pattern": "^(" + "|".join(map(re.escape, bases)) + r")(_\d+)?$"},
                    "value": {"type": "string"}}}

    _walk(schema, visit)
    return schema


def relax_search_items(schema: Schema) -> Schema:
    """search-item-fields (see KNOWN_ERRORS)."""

    def visit(node: dict[str, Any]) -> None:
        props = node.get("properties") or {}
        for name in ("constellation", "platform"):
            if isinstance(props.get(name), dict):
                props[name].pop("enum", None)
        if isinstance(props.get("correlationId"), dict):
            props["correlationId"].pop("format", None)
        if "productionStatus" in props:
            props["productionStatus"] = {"type": "string"}
        for name, prop in props.items():
            if name.startswith("images") and isinstance(prop, dict):
                one = prop.get("items", prop)
                props[name] = {"anyOf": [one, {"type": "array", "items": one}]}
        if "privileges" in props or "workspace" in props:
            node.pop("required", None)
        items = props.get("privileges", {}).get("items") if "privileges" in props else None
        if isinstance(items, dict):
            items.pop("required", None)
        if isinstance(props.get("filter"), dict):
            props["filter"].pop("required", None)

    _walk(schema, visit)
    return schema


def branch(schema: Schema, title: str) -> Schema:
    """order-body-oneof-without-discriminator: the variant called ``title``."""
    found = next(b for b in schema["oneOf"] if b.get("title") == title)
    return dict(found)


def validate(instance: Any, schema: Schema) -> None:
    jsonschema.validate(instance, schema, format_checker=jsonschema.FormatChecker())


# --------------------------------------------------------------------------- the sandbox


@dataclass
class Sandbox:
    running: RunningSandbox
    session: requests.Session

    def url(self, path: str) -> str:
        return self.running.base_url.rstrip("/") + path

    def call(self, method: str, path: str, body: Any = None, *, expect: int = 200) -> Any:
        response = self.session.request(method, self.url(path), json=body, timeout=30)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with start_embedded(tmp_path_factory.mktemp("conformance"), api_key="conf-key",
                        time_scale=500.0) as running:
        session = requests.Session()
        token = session.post(running.base_url.rstrip("/") + "/auth/realms/IDP/protocol/"
                             "openid-connect/token", data={"apikey": "conf-key",
                                                           "grant_type": "api_key",
                                                           "client_id": "IDP"}, timeout=30)
        session.headers["Authorization"] = "Bearer " + token.json()["access_token"]
        yield Sandbox(running, session)


@pytest.fixture(scope="module")
def planned(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real plan of the shipped specs against the sandbox: its bodies are what apply sends."""
    import json
    import os

    project = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "specs", project / "specs")
    old = Path.cwd()
    os.chdir(project)
    os.environ["ONEATLAS_API_KEY"] = "conf-key"
    try:
        code = run(["plan", "specs", "--out", "plan.json", "--endpoint",
                    sandbox.running.base_url])
    finally:
        os.chdir(old)
        os.environ.pop("ONEATLAS_API_KEY", None)
    assert code in (0, 2)
    return expand_parts(json.loads((project / "plan.json").read_text(encoding="utf-8")))


def _search(sandbox: Sandbox, **body: Any) -> dict[str, Any]:
    return dict(sandbox.call("POST", "/api/v2/opensearch",
                             {"itemsPerPage": 5, "startPage": 1, **body}))


def _legacy_scene(sandbox: Sandbox) -> dict[str, Any]:
    return dict(_search(sandbox, workspace="public", constellation="PHR", processingLevel="ALBUM",
                        geometry=TOULOUSE, relation="contains")["features"][0])


def _legacy_body(scene: dict[str, Any], reference: str) -> dict[str, Any]:
    body = reference_json("order-request-pleiades-archive.json")
    body["customerReference"] = reference
    body["aoi"][0]["geometry"] = TOULOUSE
    item = body["items"][0]
    item["datastripIds"] = [scene["properties"]["archiveIdentifier"]]
    item["dataSourceIds"][0]["catalogItemId"] = item["segmentKey"] = scene["properties"]["id"]
    return dict(body)


# Each sandbox route the OpenAPI describes → the test below that checks it.
COVERED = {
    "/auth/realms/IDP/protocol/openid-connect/token": "test_token",
    "/api/v1/opensearch": "test_search_responses",
    "/api/v2/opensearch": "test_search_responses",
    "/api/v1/me": "test_account_and_contract_endpoints",
    "/api/v1/contracts": "test_account_and_contract_endpoints",
    "/api/v1/contracts/{}/productTypes": "test_account_and_contract_endpoints",
    "/api/v1/{}/properties": "test_account_and_contract_endpoints",
    "/api/v1/{}/deliveryTypes": "test_account_and_contract_endpoints",
    "/api/v1/contracts/{}/productTypes/{}/options": "test_options",
    "/api/v1/prices": "test_price_order_quotation_and_tracking",
    "/api/v1/orders": "test_price_order_quotation_and_tracking",
    "/api/v1/quotations": "test_price_order_quotation_and_tracking",
    "/api/v2/orders/search": "test_price_order_quotation_and_tracking",
    "/api/v1/contracts/{}/quotations/{}/accept": "test_price_order_quotation_and_tracking",
    "/api/v1/contracts/{}/quotations/{}/refuse": "test_price_order_quotation_and_tracking",
}


def _shape(path: str) -> str:
    return re.sub(r"(<[^>]+>|\{[^}]+\})", "{}", path.split("#")[0])


def test_every_sandbox_endpoint_the_openapi_describes_is_covered(openapi: dict[str, Any]) -> None:
    described = {_shape(p) for p in normalised_paths(openapi)}
    served = {_shape(path) for _, path, _, group, _ in ROUTES if group != "control"}
    assert served & described == set(COVERED), "a new sandbox route needs a conformance test"


def test_token(sandbox: Sandbox, openapi: dict[str, Any], fake: FakeOneAtlas,
               make_client: Any) -> None:
    path = "/auth/realms/IDP/protocol/openid-connect/token"
    fake.script("GET", "/api/v1/contracts", json_response({"contracts": []}))
    make_client().contracts()
    [sent] = fake.received(path)
    validate(dict(parse_qsl(sent.body.decode())), request_schema(openapi, path))
    form = {"apikey": "conf-key", "grant_type": "api_key", "client_id": "IDP"}
    answer = requests.post(sandbox.url(path), data=form, timeout=30).json()
    validate(answer, relax_enums(response_schema(openapi, path, "post", "200"), "token_type"))


def test_search_responses(sandbox: Sandbox, openapi: dict[str, Any]) -> None:
    query = SearchQuery(workspace="public", constellations=("PHR",), processing_level=("ALBUM",),
                        items_per_page=5)
    body = query.to_body()
    schema = relax_enums(request_schema(openapi, "/api/v2/opensearch"), "constellation")
    validate(body, schema)  # search-constellation-enum
    for path in ("/api/v2/opensearch", "/api/v1/opensearch"):
        answer = sandbox.call("GET", path + "?workspace=public&itemsPerPage=3")
        validate(answer, relax_search_items(response_schema(openapi, path, "get", "200")))
        SearchPage.model_validate(answer)
    answer = sandbox.call("POST", "/api/v2/opensearch", body)
    validate(answer, relax_search_items(
        response_schema(openapi, "/api/v2/opensearch", "post", "200")))
    assert SearchPage.model_validate(answer).features


def test_account_and_contract_endpoints(sandbox: Sandbox, openapi: dict[str, Any]) -> None:
    me = sandbox.call("GET", "/api/v1/me")
    validate(me, response_schema(openapi, "/api/v1/me", "get", "200"))
    assert Me.model_validate(me).contract is not None
    contracts = response_schema(openapi, "/api/v1/contracts", "get", "200")
    item = contracts["properties"]["contracts"]["items"]["properties"]
    item["delivery"] = {"type": "array", "items": item["delivery"]}  # contracts-delivery-array
    answer = sandbox.call("GET", "/api/v1/contracts")
    validate(answer, contracts)
    assert {Contract.model_validate(c).backend_source for c in answer["contracts"]} == {
        "legacy", "neo"}
    for cid in (LEGACY, NEO):
        for path, key in (("/api/v1/contracts/{CisContractId}/productTypes", "productTypes"),
                          ("/api/v1/{cisContractId}/properties", "markets"),
                          ("/api/v1/{cisContractId}/deliveryTypes", "deliveryTypes")):
            answer = sandbox.call("GET", re.sub(r"\{[^}]+\}", cid, path))
            schema = relax_enums(response_schema(openapi, path, "get", "200"), "productTypeId")
            validate(answer, schema)  # product-type-enum
            assert answer[key]


def test_options(sandbox: Sandbox, openapi: dict[str, Any]) -> None:
    path = "/api/v1/contracts/{cisContractId}/productTypes/{productTypeId}/options"
    body = options_body(TOULOUSE)
    validate(body, request_schema(openapi, path))
    for cid, pt in ((LEGACY, "PleiadesArchiveMono"), (NEO, "PleiadesNeoArchiveMono")):
        answer = sandbox.call("POST", f"/api/v1/contracts/{cid}/productTypes/{pt}/options", body)
        validate(answer, response_schema(openapi, path, "post", "200"))
        names = {o["name"] for o in answer["availableOptions"]}
        assert {"dem_1", "projection_1"} <= names


def _order_schema(openapi: dict[str, Any], title: str) -> Schema:
    schema = request_schema(openapi, "/api/v1/orders#ppo")
    chosen = branch(schema, title)
    return option_items(relax_enums(chosen, "productTypeId", "value"))


def test_the_bodies_of_a_real_plan_conform(openapi: dict[str, Any],
                                          planned: dict[str, Any]) -> None:
    titles = {"legacy": "Archive SPOT & Pleiades", "neo": "Archive Pléiades Neo"}
    seen = set()
    for order in planned["orders"]:
        kind = "neo" if order["constellation"] == "PNEO" else "legacy"
        seen.add(kind)
        validate(order["body"], _order_schema(openapi, titles[kind]))
    assert seen == {"legacy", "neo"}


def test_the_guides_sample_body_conforms_as_the_allow_list_says(openapi: dict[str, Any]) -> None:
    sample = reference_json("order-request-pleiades-archive.json")
    validate(sample, _order_schema(openapi, "Archive SPOT & Pleiades"))


def test_price_order_quotation_and_tracking(sandbox: Sandbox, openapi: dict[str, Any]) -> None:
    scene = _legacy_scene(sandbox)
    body = _legacy_body(scene, "conformance-legacy")
    price = sandbox.call("POST", "/api/v1/prices", body, expect=201)
    validate(price, relax_enums(response_schema(openapi, "/api/v1/prices", "post", "201"),
                                "productTypeId"))
    order = sandbox.call("POST", "/api/v1/orders", body, expect=201)
    strict = branch(response_schema(openapi, "/api/v1/orders#ppo", "post", "201"),
                    "SPOT & Pleiades")
    validate(order, dict(strict, required=list(strict["properties"]),
                         additionalProperties=False))
    assert OrderResponse.model_validate(order).sales_order_id

    neo_scene = _search(sandbox, workspace="public-pneo", constellation="PNEO",
                        processingLevel="ALBUM")["features"][0]
    neo = copy.deepcopy(body)
    neo.update(contractId=NEO, customerReference="conformance-neo",
               endUsers=[{"endUserName": "Jane", "country": "FR"}])
    neo["aoi"][0]["geometry"] = _inside(neo_scene["geometry"])
    neo["items"] = [{"productTypeId": "PleiadesNeoArchiveMono", "aoiId": 1, "properties": [],
                     "dataSourceIds": [{"catalogId": "PublicMOC",
                                        "catalogItemId": neo_scene["properties"]["id"]}]}]
    neo["optionsPerProductType"] = [{"productTypeId": "PleiadesNeoArchiveMono", "options": [
        {"key": "processing_level", "value": "primary"},
        {"key": "spectral_processing", "value": "full_bundle"}]}]
    quotation = sandbox.call("POST", "/api/v1/quotations", neo, expect=201)
    validate(quotation, response_schema(openapi, "/api/v1/quotations", "post", "201"))
    qid = OrderResponse.model_validate(quotation).quotation_id

    search = orders_search_body(orders_search_q(contract_id=NEO, quotation_id=qid))
    validate(search, request_schema(openapi, "/api/v2/orders/search"))
    lines = sandbox.call("POST", "/api/v2/orders/search", search)
    validate(lines, response_schema(openapi, "/api/v2/orders/search", "post", "200"))

    paths = normalised_paths(openapi)
    for verb in ("accept", "refuse"):  # documented without a response body
        documented = f"/api/v1/contracts/{{CisContractId}}/quotations/{{quotationId}}/{verb}"
        assert "put" in paths[documented]
    sandbox.call("PUT", f"/api/v1/contracts/{NEO}/quotations/{qid}/accept")
    again = sandbox.call("POST", "/api/v1/quotations", dict(neo, customerReference="c-neo-2"),
                         expect=201)
    other = OrderResponse.model_validate(again).quotation_id
    sandbox.call("PUT", f"/api/v1/contracts/{NEO}/quotations/{other}/refuse")


def _inside(footprint: dict[str, Any]) -> dict[str, Any]:
    from shapely.geometry import mapping, shape

    centre = shape(footprint).centroid
    box = centre.buffer(0.03, cap_style="square")
    return dict(mapping(box.intersection(shape(footprint)).simplify(0)))


# --------------------------------------------------------------------------- captured answers


def test_every_captured_response_goes_through_the_parsers() -> None:
    for name in ("search-response-phr-album-captured.json",
                 "search-response-private-workspace-delivered.json"):
        page = SearchPage.model_validate(reference_json(name))
        assert page.features and all(f.id for f in page.features)
    delivered = SearchPage.model_validate(
        reference_json("search-response-private-workspace-delivered.json"))
    # the guide's delivered item has no _links.download: the documented access path is used
    [item] = delivered.features
    assert item.download_href == (
        f"https://access.foundation.api.oneatlas.airbus.com/api/v1/items/{item.id}/download")
    album = Feature.model_validate(reference_json("search-feature-spot-album.json"))
    assert album.datastrip_id and album.download_links == []
    order = OrderResponse.model_validate(reference_json("order-response.json"))
    assert order.sales_order_id == "SAL21416909"


def test_every_reference_json_file_is_fed_to_a_parser() -> None:
    folder = reference_path("ppo-openapi.yml").parent
    handled = {"search-response-phr-album-captured.json",
               "search-response-private-workspace-delivered.json",
               "search-feature-spot-album.json", "order-response.json",
               "order-request-pleiades-archive.json",  # a request: test_the_guides_sample_…
               "search-request-private-workspace.json", "search-request-public.json"}
    assert {p.name for p in folder.glob("*.json")} <= handled



def test_the_guides_search_requests_conform(openapi: dict[str, Any]) -> None:
    schema = request_schema(openapi, "/api/v2/opensearch")
    for name in ("search-request-private-workspace.json", "search-request-public.json"):
        validate(reference_json(name), schema)

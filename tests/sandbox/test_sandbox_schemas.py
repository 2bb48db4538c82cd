"""Responses validate against Airbus's OpenAPI (ppo-openapi.yml) response schemas.

The yaml is partly malformed: the PPO order path is keyed ``" /api/v1/orders"`` (leading space;
the clean ``/api/v1/orders`` key holds the Living Library schema), its ``oneOf`` branches have no
``required`` so any object matches both (we validate against the branch named by its title), and
the contracts schema types ``delivery`` as an object while both its PNEO example and real clients
use an array of ``{deliveryPlatformId, deliveryWorkspace}`` (the sandbox follows the example).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
import yaml

from .conftest import Client, legacy_body, neo_body, pneo_scene, reference, toulouse_scene


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return yaml.safe_load(reference("ppo-openapi.yml").read_text(encoding="utf-8"))


def _schema(openapi: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    schema = openapi["paths"][path][method]["responses"][status]["content"]["application/json"][
        "schema"
    ]
    return _resolve(openapi, copy.deepcopy(schema))


def _resolve(openapi: dict[str, Any], node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = openapi
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _resolve(openapi, copy.deepcopy(target))
        return {k: _resolve(openapi, v) for k, v in node.items() if k not in ("example",)}
    if isinstance(node, list):
        return [_resolve(openapi, v) for v in node]
    return node


def _validate(instance: Any, schema: dict[str, Any]) -> None:
    jsonschema.validate(instance, schema, format_checker=jsonschema.FormatChecker())


def test_token_response(client: Client, openapi: dict[str, Any]) -> None:
    r = client.session.post(
        client.url("/auth/realms/IDP/protocol/openid-connect/token"),
        data={"apikey": "sandbox-key", "grant_type": "api_key", "client_id": "IDP"},
    )
    _validate(
        r.json(), _schema(openapi, "/auth/realms/IDP/protocol/openid-connect/token", "post", "200")
    )


def test_contracts_response(client: Client, openapi: dict[str, Any]) -> None:
    schema = _schema(openapi, "/api/v1/contracts", "get", "200")
    item = schema["properties"]["contracts"]["items"]["properties"]
    item["delivery"] = {"type": "array", "items": item["delivery"]}  # see module docstring
    _validate(client.get("/api/v1/contracts").json(), schema)


def test_prices_response(client: Client, openapi: dict[str, Any]) -> None:
    r = client.ordering("POST", "/api/v1/prices", legacy_body(toulouse_scene(client)))
    assert r.status_code == 201, r.text
    schema = _schema(openapi, "/api/v1/prices", "post", "201")
    schema["properties"]["productTypes"]["items"]["properties"]["productTypeId"]["enum"].append(
        "SPOTArchive1.5Mono"
    )
    _validate(r.json(), schema)


def _branch(openapi: dict[str, Any], title: str) -> dict[str, Any]:
    schema = _schema(openapi, " /api/v1/orders", "post", "201")
    branch = next(b for b in schema["oneOf"] if b["title"] == title)
    return dict(branch, required=list(branch["properties"]), additionalProperties=False)


def test_orders_responses(client: Client, openapi: dict[str, Any]) -> None:
    r = client.ordering("POST", "/api/v1/orders", legacy_body(toulouse_scene(client)))
    assert r.status_code == 201, r.text
    _validate(r.json(), _branch(openapi, "SPOT & Pleiades"))
    r = client.ordering("POST", "/api/v1/orders", neo_body(pneo_scene(client)))
    assert r.status_code == 201, r.text
    _validate(r.json(), _branch(openapi, "PleiadesNeo"))


def test_quotations_response(client: Client, openapi: dict[str, Any]) -> None:
    r = client.ordering("POST", "/api/v1/quotations", neo_body(pneo_scene(client)))
    assert r.status_code == 201, r.text
    _validate(r.json(), _schema(openapi, "/api/v1/quotations", "post", "201"))


def test_error_bodies(client: Client, openapi: dict[str, Any]) -> None:
    body = legacy_body(toulouse_scene(client), contractId="nope")
    r = client.ordering("POST", "/api/v1/prices", body)
    assert r.status_code == 404
    _validate(r.json(), _schema(openapi, "/api/v1/prices", "post", "404"))
    assert r.json() == {"errorCode": "E2203", "message": "CIS contract 'nope' not found."}
    r = client.post("/api/v2/opensearch", {"itemsPerPage": 501})
    assert r.status_code == 400
    _validate(r.json(), _resolve(openapi, {"$ref": "#/components/schemas/ApiError"}))

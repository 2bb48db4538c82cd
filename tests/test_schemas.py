from __future__ import annotations

import json

import jsonschema
import pytest

from oneatlas_plan import _schemas


@pytest.mark.parametrize("name", sorted(_schemas.available()))
def test_committed_schema_matches_models(name: str) -> None:
    committed = (_schemas.SCHEMA_DIR / name).read_text(encoding="utf-8")
    generated = _schemas.render(_schemas.generate(_schemas.SCHEMAS[name]))
    assert committed == generated, f"schemas/{name} is stale: run python -m oneatlas_plan._schemas"


@pytest.mark.parametrize("name", sorted(_schemas.available()))
def test_schema_is_valid_against_metaschema(name: str) -> None:
    schema = json.loads((_schemas.SCHEMA_DIR / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)

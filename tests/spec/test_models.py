from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from oneatlas_plan.spec.models import (
    AoiSpec,
    Money,
    OrderSpec,
    ProductOptions,
    SpecFile,
    constellation_of,
)
from oneatlas_plan.spec.problems import allowed_keys, dotted

ORDER = {
    "name": "o",
    "aois": [{"name": "a", "bbox": [1.4, 43.55, 1.5, 43.65]}],
    "product": {"type": "PleiadesNeoArchiveMono"},
    "order": {"contract": "CTR21000411", "primary_market": "NQUAL"},
}


@pytest.mark.parametrize(
    ("value", "amount"),
    [
        ("2000 EUR", Decimal(2000)),
        (" 12.50EUR ", Decimal("12.50")),
        ({"amount": 3, "currency": "EUR"}, Decimal(3)),
    ],
)
def test_money_forms(value: object, amount: Decimal) -> None:
    money = Money.model_validate(value)
    assert money.amount == amount
    assert money.currency == "EUR"


def test_money_str() -> None:
    assert str(Money.model_validate("2000 EUR")) == "2000 EUR"


@pytest.mark.parametrize(
    "value", ["2000", 2000, "-5 EUR", "2000 USD", {"amount": -1, "currency": "EUR"}]
)
def test_money_refusals(value: object) -> None:
    with pytest.raises(ValidationError):
        Money.model_validate(value)


def test_order_defaults_and_derived_values() -> None:
    order = OrderSpec.model_validate(ORDER)
    assert order.constellations == ["PNEO"]
    assert order.workspace == "public-pneo"
    assert order.search.processing_level == "ALBUM"
    assert order.search.sort_by == ["cloudCover", "-acquisitionDate"]
    assert order.selection.scenes_per_aoi == 1
    assert order.selection.rank_by == ["cloud_cover", "-acquisition_date"]
    assert order.selection.coverage.min == 0.95
    assert order.selection.coverage.max_scenes == 1
    assert order.order.customer_reference == "{spec}/{order}/{aoi}"
    assert order.order.pairs_per_order == 1
    assert order.order.delivery.type == "network"
    assert order.order.delivery.platform_id == "PublicMOC"


def test_explicit_workspace_wins() -> None:
    order = OrderSpec.model_validate({**ORDER, "search": {"workspace": "my-ws"}})
    assert order.workspace == "my-ws"


@pytest.mark.parametrize(
    ("product", "constellation"),
    [
        ("PleiadesArchiveMono", "PHR"),
        ("PleiadesNeoArchiveMulti", "PNEO"),
        ("SPOTArchive1.5Mono", "SPOT"),
        ("SpotArchiveMono", "SPOT"),
        ("DMCArchive22", None),
    ],
)
def test_constellation_of(product: str, constellation: str | None) -> None:
    assert constellation_of(product) == constellation


def test_options_as_airbus_strings() -> None:
    options = ProductOptions.model_validate(
        {
            "fullStrip": False,
            "elevation": 120.0,
            "pixel_coding": "12bits",
            "area_compute_model": "coverage",
        }
    )
    assert options.as_strings() == {
        "pixel_coding": "12bits",
        "elevation": "120",
        "fullStrip": "false",
        "area_compute_model": "coverage",
    }


def test_aoi_name_optional_only_with_name_property() -> None:
    assert AoiSpec.model_validate({"file": "x.geojson", "name_property": "code"}).name is None
    with pytest.raises(ValidationError, match="name is required"):
        AoiSpec.model_validate({"bbox": [1, 2, 3, 4]})


def test_allowed_keys_walks_nested_models() -> None:
    assert "cloud_cover" in allowed_keys(SpecFile, ("orders", 0, "search"))
    assert "from" in allowed_keys(SpecFile, ("orders", 0, "search", "acquired"))
    assert "serch" not in allowed_keys(SpecFile, ("defaults",))
    assert allowed_keys(SpecFile, ("orders", 0, "aois", 0, "geometry")) == []


def test_dotted() -> None:
    assert dotted(("orders", 0, "aois", 1, "bbox")) == "orders[0].aois[1].bbox"
    assert dotted(()) == ""


def test_schema_documents_fields() -> None:
    schema = SpecFile.model_json_schema()
    search = schema["$defs"]["SearchSpec"]["properties"]
    assert "description" in search["workspace"]
    money = schema["$defs"]["Money"]
    assert money["anyOf"][0]["type"] == "string"


def _jsonable(value: object) -> object:
    import datetime

    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


@pytest.mark.parametrize(
    "relative",
    [
        "specs/toulouse-pleiades.yaml",
        "specs/tanzania-spot.yaml",
        "specs/xinjiang-pleiades-neo.yaml",
        "examples/multi-aoi-defaults.yaml",
        "examples/coverage-large-area.yaml",
        "examples/geojson-aois/marseille-ports.yaml",
    ],
)
def test_shipped_specs_match_the_committed_schema_and_modeline(relative: str) -> None:
    import json
    from pathlib import Path

    import jsonschema

    from oneatlas_plan._yaml import load_with_marks

    repo = Path(__file__).resolve().parents[2]
    path = repo / relative
    text = path.read_text(encoding="utf-8")
    first_line = text.splitlines()[0]
    assert first_line.startswith("# yaml-language-server: $schema=")
    schema_path = (path.parent / first_line.split("$schema=", 1)[1]).resolve()
    assert schema_path == repo / "schemas" / "spec.schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    data, _ = load_with_marks(text)
    jsonschema.validate(_jsonable(data), schema)

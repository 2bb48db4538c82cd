"""Issue 16.1: DEM and projection keys are named as the contract's options answer names them."""

from __future__ import annotations

from typing import Any

from oneatlas_plan.api.models import ProductionOption
from oneatlas_plan.planning.contract import option_names
from oneatlas_plan.planning.orders import OptionNames, ResolvedResource, build_orders, group
from oneatlas_plan.planning.selection import Candidate
from tests.planning.test_orders import resolved, seed_scene
from tests.reference import reference_path


def _option(name: str, values: tuple[str, ...] = ("best_available",)) -> ProductionOption:
    return ProductionOption.model_validate({
        "name": name, "mandatory": "constraint", "defaultValue": values[0],
        "constraint": {"condition": "processing_level:(ortho)"},
        "values": [{"id": v} for v in values], "type": "list"})


INDEXED = [_option("dem_1"), _option("projection_1", ("32736", "4326"))]
PLAIN = [_option("dem"), _option("projection", ("32736", "4326"))]


def _keys(resources: list[ResolvedResource]) -> list[list[str]]:
    return [[o["key"] for o in d.body["optionsPerProductType"][0]["options"]]
            for d in build_orders(resources)]


def _with(resources: list[ResolvedResource], names: OptionNames, **more: Any
          ) -> list[ResolvedResource]:
    return [ResolvedResource(**{**r.__dict__, "option_names": names, **more}) for r in resources]


def test_openapi_options_example_names_the_dem_per_aoi() -> None:
    """Airbus's OpenAPI options example (the answer for one AOI) lists ``dem_1``."""
    import yaml

    spec = yaml.safe_load(reference_path("ppo-openapi.yml").read_text(encoding="utf-8"))
    path = spec["paths"]["/api/v1/contracts/{cisContractId}/productTypes/{productTypeId}/options"]
    content = path["post"]["responses"]["200"]["content"]["application/json"]
    example = next(iter(content["examples"].values()))["value"] if "examples" in content else (
        content["example"])
    options = [ProductionOption.model_validate(o) for o in example["availableOptions"]]
    assert option_names(options) == OptionNames(dem_per_aoi=True, projection_per_aoi=True)


def test_a_legacy_order_sends_dem_1_when_the_contract_names_it_so() -> None:
    """The old builder sent a plain ``dem`` on every SPOT/Pléiades body."""
    names = option_names(INDEXED)
    assert names == OptionNames(True, True, None)
    scene = Candidate(**{**seed_scene().__dict__, "constellation": "SPOT", "platform": "SPOT7"})
    resources = _with(resolved("specs/tanzania-spot.yaml", (scene,)), names, projection="32736")
    [keys] = _keys(resources)
    assert "dem_1" in keys and "projection_1" in keys and "dem" not in keys


def test_a_plain_dem_answer_is_followed_even_on_neo() -> None:
    """The old builder sent ``dem_<n>`` on every Pléiades Neo body, whatever the contract says."""
    names = option_names(PLAIN)
    assert names == OptionNames(False, False, None)
    scene = Candidate(**{**seed_scene().__dict__, "constellation": "PNEO", "platform": "PNEO3"})
    resources = _with(resolved("specs/xinjiang-pleiades-neo.yaml", (scene,)), names)
    for keys in _keys(resources):
        assert "dem" in keys and not any(k.startswith("dem_") for k in keys)


def test_plain_keys_never_mix_different_values_in_one_order() -> None:
    [base] = resolved("specs/toulouse-pleiades.yaml")
    template = type(base.template)(**{**base.template.__dict__, "pairs_per_order": 5})
    dems = ("SRTMV4", "SRTMV4", "GTOPO30")
    make = [ResolvedResource(**{**base.__dict__, "address": f"t.o.a{i}", "template": template,
                                "dem": dem}) for i, dem in enumerate(dems)]
    assert [len(c) for c in group(_with(make, OptionNames(False, True)))] == [2, 1]
    assert [len(c) for c in group(_with(make, OptionNames(True, True)))] == [3]
    (draft,) = build_orders(_with(make, OptionNames(True, True)))
    options = {o["key"]: o["value"] for o in draft.body["optionsPerProductType"][0]["options"]}
    assert (options["dem_1"], options["dem_2"], options["dem_3"]) == ("SRTMV4", "SRTMV4", "GTOPO30")


def test_an_answer_that_does_not_settle_it_is_said_in_the_plan() -> None:
    both = option_names([*INDEXED, _option("dem")])
    assert both.dem_per_aoi and both.note is not None
    assert "dem sent as dem_<aoi id>" in both.note and "both dem and dem_<n>" in both.note
    assert option_names(INDEXED, dem=False).note is None
    assert option_names([], dem=True, projection=False).note is not None


def test_the_note_reaches_the_order_reason() -> None:
    from decimal import Decimal

    from oneatlas_plan.planning.model import PriceSummary
    from oneatlas_plan.planning.planner import _order_plan

    names = option_names([*INDEXED, _option("dem")])
    (draft,) = build_orders(_with(resolved("specs/toulouse-pleiades.yaml"), names,
                                  dem="best_available"))
    price = PriceSummary(currency="EUR", amount=Decimal("250.00"), requested_area_km2=25,
                         billable_area_km2=25, minimum_applied=False)
    order = _order_plan(draft, price, None, reorder=False)
    assert order.action == "create" and order.reason == f"new order ({names.note})"

"""The planning pipeline: orders priced while the others are still being resolved give the plan
made in sequence; errors and Ctrl-C stop it cleanly.

The golden world plan's fingerprint (``data/plan-pipeline-world.json``: its digest, meta apart,
and its orders) was made by the sequential planner (main before the pipeline, with the same
world): the pipeline must give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.orders import (
    OptionNames,
    OrderDraft,
    OrderTemplate,
    ResolvedResource,
    build_orders,
)
from oneatlas_plan.planning.pipeline import AddressFrontier, OrderStream, Pricer, in_build_order
from oneatlas_plan.planning.planfile import expand_parts
from oneatlas_plan.planning.selection import Candidate
from tests.applying.interposer import PRICES, TOO_MANY, Airbus, airbus
from tests.conftest import API_KEY, World

__all__ = ["airbus"]

GOLDEN = Path(__file__).parent / "data" / "plan-pipeline-world.json"
CONTRACT = "Test_E2E_BR_1392-1375"
WORKSPACE = "1a7aaef1-839e-4eaa-826c-aabee39eac85"


# ------------------------------------------------------------------ orders formed as they come


def _template(order: str, pairs: int) -> OrderTemplate:
    return OrderTemplate(
        spec_name="s", spec_file="s.yaml", order_name=order, contract_id="C",
        product_type_id="P", constellation="PHR", options=(), primary_market="AGRI",
        secondary_market="", customer_reference="{aoi}", program_reference="",
        order_group="", end_users=(), notification_emails=(), delivery=(),
        pairs_per_order=pairs,
    )


def _scene(n: int) -> Candidate:
    return Candidate(
        id=f"scene-{n}", archive_identifier=f"DS_{n}", platform="PHR1A", constellation="PHR",
        acquisition_date="2023-07-01", cloud_cover=0.0, incidence_angle=10.0, snow_cover=None,
        resolution=0.5, footprint={},
    )


def _resources(rng: random.Random) -> list[ResolvedResource]:
    """Resources of two spec orders whose names make part addresses (``a[part1]``) sort after
    other resources (``a2``, ``a-b``) and before some (``a_b``); covers of 1-7 scenes."""
    names = ["a", "a2", "a-b", "a_b", "a[x", "b", "b1", "ab", "a.1"]
    found = []
    scene = 0
    for order, pairs in (("o", rng.choice([1, 2, 3, 5])), ("o2", rng.choice([1, 5]))):
        template = _template(order, pairs)
        for name in rng.sample(names, rng.randint(3, len(names))):
            count = rng.choice([1, 1, 1, 2, 3, 7])  # (no cover of 0 scenes: see below)
            scenes = tuple(_scene(scene + k) for k in range(count))
            scene += count
            found.append(ResolvedResource(
                address=f"s.{order}.{name}", config_digest="d", aoi_name=name,
                aoi_geometry={"type": "Polygon", "coordinates": []}, template=template,
                scenes=scenes,
                option_names=OptionNames(dem_per_aoi=rng.random() < 0.8),
                dem=rng.choice(["best", "other"]),
            ))
    return found


@pytest.mark.parametrize("seed", range(40))
def test_orders_formed_as_resources_come_are_those_formed_over_all(seed: int) -> None:
    rng = random.Random(seed)
    resources = _resources(rng)
    frontier = AddressFrontier((r.address, r) for r in resources)
    stream = OrderStream(closes_when_full=rng.random() < 0.5)
    drafts = []
    arrivals = resources[:]
    rng.shuffle(arrivals)  # selections finish in any order
    for arrived in arrivals:
        for released in frontier.ready(arrived.address):
            stream.add(released)
        drafts += stream.release(frontier.horizon)
    assert frontier.horizon is None
    drafts = in_build_order([*drafts, *stream.release(None)])
    expected = build_orders(resources)
    assert [d.key for d in drafts] == [d.key for d in expected]
    assert [d.body for d in drafts] == [d.body for d in expected]


def test_a_cover_of_no_scene_joins_a_full_order_unless_told_it_cannot_come() -> None:
    template = _template("o", 2)

    def resource(name: str, scenes: int) -> ResolvedResource:
        return ResolvedResource(
            address=f"s.o.{name}", config_digest="d", aoi_name=name, aoi_geometry={},
            template=template, scenes=tuple(_scene(k) for k in range(scenes)))

    full, empty = resource("a", 2), resource("b", 0)
    assert [len(d.resources) for d in build_orders([full, empty])] == [2]
    stream = OrderStream()
    stream.add(full)
    assert stream.release("s.o.b") == []  # "b" might join it
    stream.add(empty)
    assert [len(d.resources) for d in stream.release(None)] == [2]
    eager = OrderStream(closes_when_full=True)
    eager.add(full)
    assert [len(d.resources) for d in eager.release("s.o.b")] == [1]


def test_the_frontier_releases_in_address_order_once_the_prefix_is_ready() -> None:
    frontier = AddressFrontier([("b", 2), ("a", 1), ("c", 3)])
    assert frontier.ready("c") == []
    assert frontier.horizon == "a"
    assert frontier.ready("a") == [1]
    assert frontier.horizon == "b"
    assert frontier.ready("b") == [2, 3]
    assert frontier.horizon is None


# ------------------------------------------------------------------ the pricing thread


def test_an_error_in_the_pricing_thread_is_raised_in_the_caller() -> None:
    priced: list[str] = []

    def price(draft: Any) -> None:
        if draft == "boom":
            raise RuntimeError("pricing failed")
        priced.append(draft)

    with pytest.raises(RuntimeError, match="pricing failed"), Pricer(price) as pricer:
        pricer.put(cast("list[OrderDraft]", ["one", "boom", "never"]))  # str stand-ins
    assert priced == ["one"]


def test_leaving_on_an_error_stops_the_pricing_thread_after_the_call_in_flight() -> None:
    priced: list[str] = []
    price = cast("Callable[[OrderDraft], None]", priced.append)  # records str stand-ins
    with pytest.raises(KeyboardInterrupt), Pricer(price) as pricer:
        pricer.put(cast("list[OrderDraft]", ["one"]))
        raise KeyboardInterrupt
    assert priced in ([], ["one"])  # never more than what was in flight


# ------------------------------------------------------------------ against the sandbox


def _polygon(lon: float, lat: float, size: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def archive_order(name: str, aois: list[dict[str, Any]], pairs: int, *,
                  acquired: tuple[str, str] = ("2023-06-01", "2023-08-31"), cloud: int = 30,
                  **selection: Any) -> dict[str, Any]:
    """A Pléiades archive order of the test worlds (``selection`` overrides the ranking)."""
    return {
        "name": name,
        "aois": aois,
        "search": {"constellation": ["PHR"],
                   "acquired": {"from": acquired[0], "to": acquired[1]},
                   "cloud_cover": {"max": cloud}},
        "selection": {"rank_by": ["cloud_cover", "-acquisition_date"], **selection},
        "product": {"type": "PleiadesArchiveMono", "options": {
            "spectral_processing": "pansharpened_natural_color",
            "radiometric_processing": "display", "pixel_coding": "8bits",
            "image_format": "dimap_geotiff", "processing_level": "ortho",
            "projection": "auto", "dem": "best_available", "licence": "standard"}},
        "order": {"contract": CONTRACT, "primary_market": "AGRI",
                  "customer_reference": "{spec}-{aoi}", "delivery": {"workspace": WORKSPACE},
                  "pairs_per_order": pairs},
    }


def write_world(specs: Path) -> None:
    """Three clusters far apart (several merged searches), names whose parts sort between
    others, a second spec buying the same AOIs again (double purchases: an order each, not
    priced), large AOIs needing several scenes (covers split over orders of 2 pairs)."""
    clusters = [(1.0, 43.2), (11.0, 45.0), (-98.0, 38.5)]
    names = ["a", "a2", "a-b", "a_b", "b", "b1", "c"]
    aois = [
        {"name": f"{name}{k}", "geometry": _polygon(lon + 0.07 * i, lat + 0.05 * k, 0.03)}
        for k, (lon, lat) in enumerate(clusters)
        for i, name in enumerate(names)
    ]
    large = [
        {"name": f"large{k}", "geometry": _polygon(lon - 0.5, lat - 0.4, 0.35)}
        for k, (lon, lat) in enumerate(clusters)
    ]
    documents = {
        "alpha": [archive_order("five", aois, 5), archive_order("cover", large, 2,
                                                  coverage={"min": 0.9, "max_scenes": 4})],
        "beta": [archive_order("single", aois[::3], 1)],
    }
    specs.mkdir(parents=True, exist_ok=True)
    for name, orders in documents.items():
        document = {"version": 1, "name": name, "orders": orders}
        (specs / f"{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def without_meta(text: str) -> str:
    """The plan's content, whatever the file layout: tables joined back, the volatile parts
    and the format version left out."""
    data = expand_parts(json.loads(text))
    for volatile in ("meta", "endpoint", "checksum", "format_version"):
        data.pop(volatile)
    return json.dumps(data, indent=2, sort_keys=True)


def fingerprint(text: str) -> dict[str, Any]:
    """The plan's digest (meta apart) and its orders in short (what a mismatch shows first);
    the whole plan is ≈ 300 KB of alternatives and footprints."""
    plan = json.loads(text)
    return {
        "sha256": hashlib.sha256(without_meta(text).encode()).hexdigest(),
        "orders": [
            [o["key"], o["action"], o["addresses"], o["price"] and o["price"]["amount"]]
            for o in plan["orders"]
        ],
    }


def test_the_pipeline_plans_what_the_sequential_planner_planned(world: World) -> None:
    write_world(world.project / "world")
    assert world.cli("plan", "world", "--out", "plan.json") == ExitCode.OK
    text = Path("plan.json").read_text(encoding="utf-8")
    plan = json.loads(text)
    actions = {o["action"] for o in plan["orders"]}
    # the world exercises what the pipeline must keep: grouped orders, split covers, doubles
    assert any(len(o["addresses"]) > 1 for o in plan["orders"])
    assert any("[part" in a for o in plan["orders"] for a in o["addresses"])
    assert "blocked" in actions and "create" in actions
    if os.environ.get("UPDATE_GOLDENS"):
        GOLDEN.write_text(json.dumps(fingerprint(text), indent=1) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert fingerprint(text)["orders"] == expected["orders"]
    assert fingerprint(text) == expected
    # a double purchase is not priced: an ordering call for what the plan will not buy
    doubles = [o for o in plan["orders"] if "blocked as a double purchase" in o["reason"]]
    assert len(doubles) == 7 and all(o["price"] is None for o in doubles)
    assert world.requests_made()["prices"] == len(plan["orders"]) - len(doubles)


def test_a_429_while_pricing_stops_the_plan_and_is_never_retried(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    airbus.wire.answer(PRICES, 429, TOO_MANY)
    capsys.readouterr()
    assert airbus.world.cli("plan", "specs", "--out", "plan.json") == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "429" in err and "Traceback" not in err
    assert airbus.wire.posts(PRICES) == 1  # neither retried nor followed by the next order
    assert not Path("plan.json").exists()


def test_the_first_order_is_priced_before_the_look_ups_of_other_zones_end(world: World) -> None:
    """The options of a later UTM zone are held until a price has been asked: a planner that
    waited for every contract look-up before pricing would never ask (the hold times out)."""
    from oneatlas_plan.api.auth import ApiKey
    from oneatlas_plan.api.client import OneAtlasClient
    from oneatlas_plan.api.models import ProductionOption
    from oneatlas_plan.api.profiles import resolve_endpoint
    from oneatlas_plan.planning.contract import utm_zone
    from oneatlas_plan.planning.run import plan_specs
    from oneatlas_plan.state.model import State

    here, there = _polygon(1.0, 43.2, 0.03), _polygon(-98.0, 38.5, 0.03)  # UTM 31N, 14N
    specs = world.project / "zones"
    specs.mkdir()
    document = {"version": 1, "name": "zones",
                "orders": [archive_order("one", [{"name": "a", "geometry": here},
                                          {"name": "b", "geometry": there}], 1)]}
    (specs / "zones.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    client = OneAtlasClient(resolve_endpoint(world.base_url), ApiKey(API_KEY))
    priced, held_out = threading.Event(), []
    ask_options, ask_price = client.product_options, client.price

    def product_options(contract_id: str, product_type_id: str,
                        aoi_geometry: Mapping[str, Any], *,
                        polygon_id: int = 1) -> list[ProductionOption]:
        if utm_zone(dict(aoi_geometry)) == utm_zone(there) and not priced.wait(timeout=20):
            held_out.append("no price was asked while the other zone's look-up was held")
        return ask_options(contract_id, product_type_id, aoi_geometry, polygon_id=polygon_id)

    def price(body: Any) -> Any:
        priced.set()
        return ask_price(body)

    client.product_options = product_options  # type: ignore[method-assign]
    client.price = price  # type: ignore[method-assign]
    with client:
        plan = plan_specs([specs], State.new(), lambda: client, endpoint="sandbox")
    assert held_out == []
    assert [o.action for o in plan.orders] == ["create", "create"]
    assert client.stats.as_dict()["requests"]["product_options"] == 2  # once per zone


def test_resource_plans_made_while_pricing_are_those_of_the_plan_and_its_checksum(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resource plans are made while the last orders are priced (``planner._prepare``);
    the assembly after pricing makes again only those a budget or a price changed, and the
    plan's checksum, from their texts made then, is the one computed from the plan itself."""
    from oneatlas_plan.api.auth import ApiKey
    from oneatlas_plan.api.client import OneAtlasClient
    from oneatlas_plan.api.profiles import resolve_endpoint
    from oneatlas_plan.planning import planner
    from oneatlas_plan.planning.run import plan_specs
    from oneatlas_plan.state.model import State

    write_world(world.project / "world")
    made: list[str] = []
    make = planner._resource_plan

    def counted(outcome: Any, *args: Any) -> Any:
        made.append(outcome.desired.address)
        return make(outcome, *args)

    monkeypatch.setattr(planner, "_resource_plan", counted)
    client = OneAtlasClient(resolve_endpoint(world.base_url), ApiKey(API_KEY))
    with client:
        plan = plan_specs([world.project / "world"], State.new(), lambda: client,
                          endpoint="sandbox")
    resolved = [r for r in plan.resources if r.order_key is not None]
    assert len(made) == len(plan.resources) == len(resolved) == 34  # each made once
    assert sum(r.action == "blocked" for r in resolved) == 7  # the double purchases too
    assert plan.checksum == plan.compute_checksum() == plan.model_copy(
        update={"resources": [r.model_copy() for r in plan.resources]}
    ).compute_checksum()

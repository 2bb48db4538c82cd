"""plan against the sandbox: determinism, actions, zero-request no-op, explanations, budgets."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from oneatlas_plan.errors import ExitCode
from tests.conftest import World

GOLDEN = Path(__file__).parent / "data" / "plan-shipped-specs.json"


def plan_json(path: str = "plan.json") -> dict[str, Any]:
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))


def without_meta(text: str) -> str:
    """The plan minus what varies with the sandbox's ephemeral port (endpoint, checksum)."""
    data = json.loads(text)
    for volatile in ("meta", "endpoint", "checksum"):
        data.pop(volatile)
    return json.dumps(data, indent=2, sort_keys=True)


def actions(plan: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {r["address"]: (r["action"], r["reason"]) for r in plan["resources"]}


def test_plans_are_byte_identical_apart_from_meta_and_match_the_golden(world: World) -> None:
    assert world.cli("plan", "specs", "--out", "a.json") == ExitCode.OK
    assert world.cli("plan", "specs", "--out", "b.json") == ExitCode.OK
    first, second = Path("a.json").read_text(), Path("b.json").read_text()
    meta = re.compile(r'\n  "meta": \{.*?\n  \},?', re.S)
    assert meta.sub("", first) == meta.sub("", second)
    assert first.endswith("}\n") and '\n  "checksum": "sha256:' in first
    if os.environ.get("UPDATE_GOLDENS"):
        GOLDEN.write_text(without_meta(first) + "\n", encoding="utf-8")
    assert without_meta(first) + "\n" == GOLDEN.read_text(encoding="utf-8"), (
        "the plan of the shipped specs changed; if intended, rerun with UPDATE_GOLDENS=1"
    )


def test_noop_replan_makes_zero_requests(world: World) -> None:
    assert world.cli("apply", "specs", "--auto-approve") == ExitCode.OK
    world.reset_stats()
    assert world.cli("plan", "specs", "--detailed-exitcode") == ExitCode.OK
    assert world.requests_made() == {}


def test_reusing_young_prices_of_identical_bodies(world: World) -> None:
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    world.reset_stats()
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    assert "prices" not in world.requests_made()
    meta = plan_json()["meta"]
    assert sorted(meta["reused_prices"]) == sorted(o["key"] for o in plan_json()["orders"])


def test_every_action_kind(world: World) -> None:
    assert world.cli("apply", "specs", "--auto-approve") == ExitCode.OK
    toulouse = Path("specs/toulouse-pleiades.yaml")
    toulouse.write_text(toulouse.read_text().replace("dimap_jpeg2000_regular", "dimap_geotiff"))
    Path("specs/tanzania-spot.yaml").unlink()
    Path("specs/never.yaml").write_text(NEW_SPECS)
    assert world.cli("plan", "specs", "--out", "plan.json", "--detailed-exitcode") == (
        ExitCode.CHANGES
    )
    found = actions(plan_json())
    assert found["toulouse.city-centre.polygon-1"] == (
        "reorder",
        "the product (type or options) changed: a different product is needed",
    )
    # its quotation was accepted by the spec's accept_quotations_up_to
    assert found["xinjiang-pneo.hejing-west.hejing-west"] == ("no-op", "already ordered")
    assert found["tanzania-spot.malagarasi.malagarasi-west"][0] == "forget"
    assert found["never.cloudless.centre"][0] == "blocked"
    assert found["never.cloudless.centre"][1].startswith("unsatisfied: ")
    assert "removed by cloud_cover" in found["never.cloudless.centre"][1]
    assert found["never.cheap.centre"] == (
        "blocked",
        "order never.cheap budget EUR 10.00 would be exceeded "
        "(EUR 0.00 already committed + EUR 250.00)",
    )
    assert found["never.fresh.centre"] == ("create", "new resource")
    ledger_before = len(world.ledger())
    assert world.cli("apply", "plan.json") == ExitCode.OK
    assert len(world.ledger()) == ledger_before + 2  # the reorder and the new resource
    state = world.state()["resources"]
    assert len(state["toulouse.city-centre.polygon-1"]["orders"]) == 2, "history is kept"
    assert "tanzania-spot.malagarasi.malagarasi-west" not in state
    assert "never.cheap.centre" not in state


def test_fail_on_unsatisfied(world: World) -> None:
    Path("specs/never.yaml").write_text(NEW_SPECS)
    assert world.cli("plan", "specs/never.yaml", "--fail-on-unsatisfied") == ExitCode.ERROR


def test_target_limits_the_plan(world: World) -> None:
    assert world.cli("plan", "specs", "--out", "plan.json", "--target", "toulouse") == ExitCode.OK
    assert [r["address"] for r in plan_json()["resources"]] == ["toulouse.city-centre.polygon-1"]


def test_unknown_contract_is_blocked_with_the_reason(world: World) -> None:
    spec = Path("specs/toulouse-pleiades.yaml")
    spec.write_text(
        spec.read_text().replace("contract: Test_E2E_BR_1392-1375", "contract: CTR-DOES-NOT-EXIST")
    )
    assert world.cli("plan", "specs/toulouse-pleiades.yaml", "--out", "plan.json") == ExitCode.OK
    (resource,) = plan_json()["resources"]
    assert resource["action"] == "blocked"
    assert resource["reason"].startswith("contract CTR-DOES-NOT-EXIST is not on this account")


AOI = """
      - name: centre
        bbox: [1.43, 43.59, 1.47, 43.62]
"""
ORDER_TAIL = """
    product: {type: PleiadesArchiveMono, options: {processing_level: primary}}
    order: {contract: Test_E2E_BR_1392-1375, primary_market: NQUAL}
"""
NEW_SPECS = f"""version: 1
name: never
orders:
  - name: cloudless
    aois:{AOI}
    search: {{acquired: {{from: 2022-06-01, to: 2022-06-30}}, cloud_cover: {{max: 0}}}}
{ORDER_TAIL}
  - name: cheap
    aois:{AOI}
    search: {{acquired: {{from: 2022-06-01, to: 2022-09-30}}, cloud_cover: {{max: 20}}}}
    budget: 10 EUR
{ORDER_TAIL}
  - name: fresh
    aois:{AOI}
    search: {{acquired: {{from: 2022-06-01, to: 2022-09-30}}, cloud_cover: {{max: 20}}}}
{ORDER_TAIL}
"""


def test_no_coverage_floor_with_several_scenes_allowed_buys_one_scene(world: World) -> None:
    """`coverage: {min: 0, max_scenes: 3}`: no floor, so the best-ranked scene is bought."""
    spec = Path("specs/toulouse-pleiades.yaml")
    text = spec.read_text()
    spec.write_text(text.replace("{min: 0.95, max_scenes: 1}", "{min: 0, max_scenes: 3}"))
    assert world.cli("plan", str(spec), "--out", "plan.json") == ExitCode.OK
    (resource,) = plan_json()["resources"]
    assert resource["action"] == "create"
    assert len(resource["scenes"]) == 1
    (order,) = plan_json()["orders"]
    assert order["addresses"] == [resource["address"]]

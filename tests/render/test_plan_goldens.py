"""Golden outputs: the shipped specs planned against the sandbox, and a plan with every action.

``data/shipped/plan.json`` is made by planning ``specs/`` against a fresh embedded sandbox
(its catalogue and prices are seeded, so the plan is deterministic); the endpoint (the
sandbox's random port) and ``meta`` are normalised. ``data/mixed/plan.json`` comes from
``plan_factory.mixed_plan()``. Each is rendered as text, markdown and geojson and compared
with the files next to it. Regenerate everything with ``UPDATE_GOLDENS=1``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from plan_factory import FIXED_META, mixed_plan

from oneatlas_plan import _canonical
from oneatlas_plan.cli import run
from oneatlas_plan.planning.model import Plan
from oneatlas_plan.planning.planfile import read_plan, write_plan
from oneatlas_plan.render.plan_geojson import render_geojson
from oneatlas_plan.render.plan_markdown import render_plan_markdown
from oneatlas_plan.render.plan_text import render_plan_text
from oneatlas_plan.sandbox.embedded import start_embedded

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
UPDATE = os.environ.get("UPDATE_GOLDENS") == "1"
API_KEY = "sandbox-key-for-golden-plans"
MAP_URL = "https://example.invalid/plan.png"


def check_golden(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDENS=1"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path} differs: check the change, then UPDATE_GOLDENS=1"


@pytest.fixture(scope="module")
def sandbox_plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """Two plans of the shipped specs made one after the other against one sandbox."""
    base = tmp_path_factory.mktemp("golden")
    project = base / "project"
    shutil.copytree(ROOT / "specs", project / "specs")
    with (
        pytest.MonkeyPatch.context() as patch,
        start_embedded(base / "sandbox-data", api_key=API_KEY, time_scale=50) as sandbox,
    ):
        patch.chdir(project)
        patch.setenv("ONEATLAS_API_KEY", API_KEY)
        patch.delenv("ONEATLAS_ENDPOINT", raising=False)
        patch.delenv("ONEATLAS_STATE", raising=False)
        for name in ("first.json", "second.json"):
            code = run(["plan", "specs/", "--out", name, "--endpoint", sandbox.base_url])
            assert code == 0
        yield project / "first.json", project / "second.json"


def normalised(plan: Plan) -> Plan:
    return plan.model_copy(update={"endpoint": "sandbox", "meta": FIXED_META}).sealed()


def test_plans_are_byte_identical_apart_from_meta(sandbox_plans: tuple[Path, Path]) -> None:
    first, second = (json.loads(p.read_text(encoding="utf-8")) for p in sandbox_plans)
    for path, data in zip(sandbox_plans, (first, second), strict=True):
        assert path.read_text(encoding="utf-8") == _canonical.dumps_dense(data)  # canonical form
    assert first.pop("meta") != {}
    second.pop("meta")
    assert _canonical.dumps(first) == _canonical.dumps(second)


def test_shipped_plan_matches_golden(sandbox_plans: tuple[Path, Path]) -> None:
    plan = normalised(read_plan(sandbox_plans[0]))
    assert plan.resources and plan.orders
    if UPDATE:
        write_plan(plan, DATA / "shipped" / "plan.json")
    check_golden(DATA / "shipped" / "plan.json", plan.to_json())


def test_mixed_plan_matches_golden() -> None:
    plan = mixed_plan()
    if UPDATE:
        write_plan(plan, DATA / "mixed" / "plan.json")
    check_golden(DATA / "mixed" / "plan.json", plan.to_json())


RENDERERS: dict[str, Callable[[Plan], str]] = {
    "plan.txt": render_plan_text,
    "plan.md": render_plan_markdown,
    "plan-with-map.md": lambda plan: render_plan_markdown(plan, map_url=MAP_URL),
    "plan.geojson": render_geojson,
}


@pytest.mark.parametrize("case", ["shipped", "mixed"])
@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_rendered_outputs_match_goldens(case: str, name: str) -> None:
    plan = read_plan(DATA / case / "plan.json")
    first = RENDERERS[name](plan)
    assert RENDERERS[name](plan) == first  # stable
    check_golden(DATA / case / name, first)


@pytest.mark.parametrize("case", ["shipped", "mixed"])
def test_rendered_outputs_ignore_meta(case: str) -> None:
    plan = read_plan(DATA / case / "plan.json")
    other = plan.model_copy(
        update={"meta": FIXED_META.model_copy(update={"created_at": "2031-12-31T23:59:59Z"})}
    )
    for render in RENDERERS.values():
        assert render(other) == render(plan)

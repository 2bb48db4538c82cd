"""A no-op re-plan (issue 18 item 6): no request, no geometry library, no YAML parser (every
spec comes from the cache), the spec cache beside the state kept honest by edits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from oneatlas_plan.errors import ExitCode
from tests.conftest import World

TOULOUSE = Path("specs/toulouse-pleiades.yaml")
HEAVY = ("shapely", "pyproj", "numpy", "yaml")
# What only resolving (search, contracts, pricing) or applying needs.
NOT_FOR_A_NO_OP = (
    "oneatlas_plan.api.models",
    "oneatlas_plan.applying.apply",
    "oneatlas_plan.planning.contract",
    "oneatlas_plan.planning.pipeline",
    "oneatlas_plan.planning.search",
)
# The console entry point; the state it read is frozen out of the collector's walks.
PROBE = (
    "import gc, sys, json\n"
    "from oneatlas_plan.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "finally:\n"
    f"    loaded = [m for m in {HEAVY + NOT_FOR_A_NO_OP!r} if m in sys.modules]\n"
    "    plugins = sys.modules['pydantic.plugin._loader']._plugins\n"  # None: never looked for
    "    loaded += ['pydantic plugins'] if plugins is not None else []\n"
    "    loaded += [] if gc.get_freeze_count() else ['state not frozen']\n"
    "    print(json.dumps(loaded), file=sys.stderr)\n"
)


def plan_process(world: World, out: str) -> tuple[int, list[str], str]:
    """``plan`` in its own process: exit code, what it loaded that a no-op needs not, stderr."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            "plan",
            "--endpoint",
            world.base_url,
            "--out",
            out,
            "--detailed-exitcode",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=world.project,
        env={k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"},
        timeout=120,
    )
    heavy = json.loads(done.stderr.strip().splitlines()[-1])
    return done.returncode, heavy, done.stderr


def test_a_no_op_plan_makes_no_request_and_loads_no_geometry_library(world: World) -> None:
    assert world.cli("apply", "--auto-approve") == ExitCode.OK
    cache = world.project / ".oneatlas-cache" / "specs"
    assert len(list(cache.glob("*.json"))) == len(list(Path("specs").glob("*.yaml")))
    world.reset_stats()

    code, heavy, stderr = plan_process(world, "noop.json")
    assert code == ExitCode.OK, stderr
    assert heavy == []
    assert sum(world.requests_made().values()) == 0
    plan = json.loads(Path("noop.json").read_text())
    assert {r["action"] for r in plan["resources"]} == {"no-op"}

    # An edit is seen through the cache: the plan equals one made without the cache.
    text = TOULOUSE.read_text()
    TOULOUSE.write_text(text.replace("cloud_cover: {max: 20}", "cloud_cover: {max: 19}"))
    code, _, stderr = plan_process(world, "edited.json")
    assert code in (ExitCode.OK, ExitCode.CHANGES), stderr
    shutil.rmtree(world.project / ".oneatlas-cache")
    assert plan_process(world, "fresh.json")[0] == code
    edited, fresh = (json.loads(Path(name).read_text()) for name in ("edited.json", "fresh.json"))
    assert edited["spec_files"] != plan["spec_files"]
    assert edited["checksum"] == fresh["checksum"]  # over everything but meta (timestamps)

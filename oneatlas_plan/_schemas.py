"""JSON Schemas generated from the pydantic models (the single source of truth).

``python -m oneatlas_plan._schemas`` rewrites ``schemas/``; a test fails when a committed
schema differs from the generated one.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

# file name -> "module:Model"
SCHEMAS: dict[str, str] = {
    "spec.schema.json": "oneatlas_plan.spec.models:SpecFile",
    "plan.schema.json": "oneatlas_plan.planning.planfile:PlanFile",
    "state.schema.json": "oneatlas_plan.state.model:State",
    # --format json of the commands that are not plans or specs
    "apply-output.schema.json": "oneatlas_plan.render.machine:ApplyOutput",
    "refresh-output.schema.json": "oneatlas_plan.render.machine:RefreshOutput",
    "download-output.schema.json": "oneatlas_plan.render.machine:DownloadOutput",
    "validate-output.schema.json": "oneatlas_plan.render.machine:ValidateOutput",
    "state-list-output.schema.json": "oneatlas_plan.render.machine:StateListOutput",
}

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def available() -> dict[str, str]:
    """The schemas whose model module exists (packages land one by one)."""
    return {
        name: target
        for name, target in SCHEMAS.items()
        if importlib.util.find_spec(target.split(":")[0]) is not None
    }


def generate(target: str) -> dict[str, Any]:
    module_name, model_name = target.split(":")
    model = getattr(importlib.import_module(module_name), model_name)
    schema: dict[str, Any] = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, target in available().items():
        path = directory / name
        path.write_text(render(generate(target)), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all():
        sys.stdout.write(f"wrote {path}\n")

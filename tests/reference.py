"""Where Airbus's reference material (guide, OpenAPI, captured responses) is on this machine.

``ONEATLAS_REFERENCE_DIR`` first, then ``<repository>/../shared/reference/oneatlas`` (a clone
next to the shared folder), then ``/work/shared/reference/oneatlas`` (a worktree under
``/work/wt/``). Tests that need it skip with the places looked at when none exists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def candidates() -> list[Path]:
    found = [Path(os.environ["ONEATLAS_REFERENCE_DIR"])] if os.environ.get(
        "ONEATLAS_REFERENCE_DIR") else []
    return [*found, ROOT.parent / "shared" / "reference" / "oneatlas",
            Path("/work/shared/reference/oneatlas")]


def reference_dir() -> Path | None:
    return next((path for path in candidates() if path.is_dir()), None)


def reference_path(name: str) -> Path:
    """The reference file ``name``; skips the test when the material is absent."""
    folder = reference_dir()
    if folder is None or not (folder / name).exists():
        looked = ", ".join(str(p) for p in candidates())
        pytest.skip(f"Airbus reference material {name!r} not found (looked in: {looked}; "
                    "set ONEATLAS_REFERENCE_DIR)")
    return folder / name


def reference_json(name: str) -> Any:
    return json.loads(reference_path(name).read_text(encoding="utf-8"))

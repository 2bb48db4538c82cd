"""The `plan` use case: specs + state (+ OneAtlas through the client) -> Plan."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from oneatlas_plan.errors import ToolError
from oneatlas_plan.planning.from_spec import desired_set
from oneatlas_plan.planning.model import Plan
from oneatlas_plan.planning.planfile import read_plan
from oneatlas_plan.planning.planner import Event, PlanSettings, make_plan
from oneatlas_plan.spec.loader import load_specs
from oneatlas_plan.state.model import State

if TYPE_CHECKING:
    from oneatlas_plan.api.client import OneAtlasClient


def previous_plan(path: Path | None) -> Plan | None:
    """The plan previously written at ``path`` (for price reuse), if it is sound."""
    if path is None or not path.exists():
        return None
    try:
        return read_plan(path)
    except ToolError:
        return None


def plan_specs(
    paths: Sequence[Path],
    state: State,
    client_factory: Callable[[], OneAtlasClient],
    *,
    endpoint: str,
    targets: Sequence[str] = (),
    previous: Callable[[], Plan | None] | None = None,
    on_event: Event | None = None,
    replace: Sequence[str] = (),
    allow_overlap: bool = False,
    spec_cache: Path | None = None,
) -> Plan:
    specs = load_specs(list(paths), cache_dir=spec_cache)
    desired = desired_set(specs)
    settings = PlanSettings(
        endpoint=endpoint,
        targets=tuple(targets),
        previous=previous,
        replace=tuple(replace),
        allow_overlap=allow_overlap,
    )
    return make_plan(desired, state, client_factory, settings, on_event)

"""Plan -> text | json | markdown | geojson (pure); png lives in plan_png (matplotlib)."""

from __future__ import annotations

from oneatlas_plan.planning.model import Plan
from oneatlas_plan.render.plan_geojson import render_geojson
from oneatlas_plan.render.plan_markdown import render_plan_markdown
from oneatlas_plan.render.plan_text import render_plan_text

TEXT_FORMATS = ("text", "json", "markdown", "geojson")


def render_plan(plan: Plan, output_format: str, *, map_url: str | None = None) -> str:
    if output_format == "json":
        return plan.to_json()
    if output_format == "markdown":
        return render_plan_markdown(plan, map_url=map_url)
    if output_format == "geojson":
        return render_geojson(plan)
    return render_plan_text(plan)

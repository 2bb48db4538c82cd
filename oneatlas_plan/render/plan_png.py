"""Plan -> PNG map of the AOIs and the chosen scene footprints, coloured by action.

Made for a pull-request comment (1200×800 by default). Areas far apart (Toulouse and
Tanzania in one plan) would be specks on one world map, so nearby resources are grouped and
each group gets its own panel (at most ``MAX_PANELS``; the rest are counted in the last one).
AOIs are filled and outlined in their action's colour, footprints are dashed outlines of the
same colour; AOIs are labelled when a panel has few enough to stay readable.

matplotlib is imported here only, with the Agg backend objects used directly (no pyplot, no
global state), so that the other commands never pay for it. Pure apart from that: Plan ->
bytes, and the bytes are the same for the same plan (no timestamp in the PNG metadata).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oneatlas_plan.planning.model import Plan, ResourcePlan
from oneatlas_plan.render.plan_geojson import ACTION_COLOURS
from oneatlas_plan.render.plan_text import summary_line

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MAX_PANELS = 12
MAX_LABELS_PER_PANEL = 15
DEFAULT_SIZE = (1200, 800)
DPI = 100

Ring = list[tuple[float, float]]
Bounds = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


@dataclass
class _Shape:
    """One resource's drawable geometry: AOI polygons and footprint polygons (as rings)."""

    resource: ResourcePlan
    aoi: list[list[Ring]] = field(default_factory=list)
    footprints: list[list[Ring]] = field(default_factory=list)

    def bounds(self) -> Bounds:
        points = [p for polygon in self.aoi + self.footprints for p in polygon[0]]
        lons = [p[0] for p in points]
        lats = [p[1] for p in points]
        return min(lons), min(lats), max(lons), max(lats)


def _polygons(geometry: dict[str, Any] | None) -> list[list[Ring]]:
    """Polygon/MultiPolygon -> polygons as lists of rings (exterior first); others: []."""
    if not geometry:
        return []
    kind, coordinates = geometry.get("type"), geometry.get("coordinates") or []
    polygons = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else []
    result = []
    for polygon in polygons:
        rings = [[(float(p[0]), float(p[1])) for p in ring] for ring in polygon if len(ring) >= 3]
        if rings:
            result.append(rings)
    return result


def _shapes(plan: Plan) -> list[_Shape]:
    shapes = []
    for resource in plan.resources:
        shape = _Shape(
            resource,
            aoi=_polygons(resource.aoi_geometry),
            footprints=[p for s in resource.scenes for p in _polygons(s.footprint)],
        )
        if shape.aoi or shape.footprints:
            shapes.append(shape)
    return shapes


def _near(a: Bounds, b: Bounds) -> bool:
    margin = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1], 0.05)
    return not (
        a[2] + margin < b[0] or b[2] + margin < a[0] or a[3] + margin < b[1] or b[3] + margin < a[1]
    )


def _union(a: Bounds, b: Bounds) -> Bounds:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def group_shapes(shapes: Sequence[_Shape]) -> list[list[_Shape]]:
    """Resources close to each other (bounds within their own size) share a panel."""
    groups: list[tuple[Bounds, list[_Shape]]] = []
    for shape in shapes:
        bounds, members = shape.bounds(), [shape]
        merged = True
        while merged:
            merged = False
            for index, (other_bounds, other) in enumerate(groups):
                if _near(bounds, other_bounds):
                    bounds, members = _union(bounds, other_bounds), other + members
                    del groups[index]
                    merged = True
                    break
        groups.append((bounds, members))
    ordered = [sorted(m, key=lambda s: s.resource.address) for _, m in groups]
    return sorted(ordered, key=lambda m: m[0].resource.address)


def _grid(panels: int, width: int, height: int) -> tuple[int, int]:
    """(rows, columns) making panels as square as the picture allows."""
    best = (1, panels)
    best_score = -1.0
    for rows in range(1, panels + 1):
        columns = math.ceil(panels / rows)
        cell = min(width / columns, height / rows)
        score = cell - 0.01 * (rows * columns - panels)
        if score > best_score:
            best, best_score = (rows, columns), score
    return best


def _oriented(ring: Ring, clockwise: bool) -> Ring:
    area = sum(
        x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True)
    )
    return ring[::-1] if (area < 0) != clockwise else ring


def _patch(polygon: list[Ring], **style: Any) -> Any:
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    vertices: list[tuple[float, float]] = []
    codes: list[int] = []
    for index, ring in enumerate(polygon):
        ring = _oriented(ring, clockwise=index > 0)
        vertices += [*ring, ring[0]]
        codes += [int(Path.MOVETO)] + [int(Path.LINETO)] * (len(ring) - 1) + [int(Path.CLOSEPOLY)]
    return PathPatch(Path(vertices, codes), **style)


def _title(members: Sequence[_Shape]) -> str:
    addresses = [m.resource.address for m in members]
    prefix = addresses[0]
    for address in addresses[1:]:
        while not address.startswith(prefix):
            prefix = prefix[:-1]
    prefix = prefix.rstrip(".[") or addresses[0].split(".")[0]
    count = f" ({len(members)} AOIs)" if len(members) > 1 else ""
    return (prefix[:48] + "…" if len(prefix) > 49 else prefix) + count


def _label(resource: ResourcePlan, *, detailed: bool) -> str:
    scene = resource.scenes[0] if resource.scenes and detailed else None
    detail = f"\n{scene.platform} {scene.acquisition_date[:10]}" if scene else ""
    return f"{resource.aoi_name} ({resource.action}){detail}"


def _draw_panel(ax: Axes, members: Sequence[_Shape]) -> None:
    import matplotlib.patheffects as effects

    bounds = members[0].bounds()
    for member in members[1:]:
        bounds = _union(bounds, member.bounds())
    for member in members:
        colour = ACTION_COLOURS[member.resource.action]
        for polygon in member.footprints:
            ax.add_patch(
                _patch(polygon, edgecolor=colour, alpha=0.8, fill=False, linestyle="--", lw=1.2)
            )
    for member in members:
        colour = ACTION_COLOURS[member.resource.action]
        for polygon in member.aoi:
            ax.add_patch(_patch(polygon, facecolor=colour + "59", edgecolor=colour, lw=2.5))
    if len(members) <= MAX_LABELS_PER_PANEL:
        for member in members:
            if not member.aoi:
                continue
            lons = [p[0] for p in member.aoi[0][0]]
            lats = [p[1] for p in member.aoi[0][0]]
            ax.annotate(
                _label(member.resource, detailed=len(members) <= 2),
                ((min(lons) + max(lons)) / 2, max(lats)),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
                path_effects=[effects.withStroke(linewidth=3, foreground="white")],
            )
    _frame(ax, bounds)
    ax.set_title(_title(members), fontsize=9)


def _frame(ax: Axes, bounds: Bounds) -> None:
    min_lon, min_lat, max_lon, max_lat = bounds
    pad = max(max_lon - min_lon, max_lat - min_lat, 0.01) * 0.08
    ax.set_xlim(min_lon - pad, max_lon + pad)
    ax.set_ylim(min_lat - pad, max_lat + pad)
    mid = math.radians((min_lat + max_lat) / 2)
    ax.set_aspect(1 / max(math.cos(mid), 0.1), adjustable="box")
    ax.tick_params(labelsize=7)
    ax.grid(True, linewidth=0.3, alpha=0.5)


def _legend_handles(actions: Iterable[str]) -> list[Any]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [
        Patch(facecolor=ACTION_COLOURS[a] + "59", edgecolor=ACTION_COLOURS[a], lw=2, label=a)
        for a in ACTION_COLOURS
        if a in set(actions)
    ]
    handles.append(Line2D([], [], color="0.3", linestyle="--", label="scene footprint"))
    return handles


def render_plan_png(plan: Plan, *, size: tuple[int, int] = DEFAULT_SIZE) -> bytes:
    """The map as PNG bytes, exactly ``size`` pixels (width, height)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = size
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.suptitle(summary_line(plan), fontsize=10)
    groups = group_shapes(_shapes(plan))
    if not groups:
        ax = figure.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "No area of interest to draw in this plan", ha="center", fontsize=14)
    else:
        shown = groups[:MAX_PANELS]
        rows, columns = _grid(len(shown), width, height)
        for index, members in enumerate(shown):
            _draw_panel(figure.add_subplot(rows, columns, index + 1), members)
        if len(groups) > len(shown):
            hidden = sum(len(g) for g in groups[len(shown) :])
            figure.text(0.99, 0.01, f"+{hidden} AOIs in other areas not drawn", ha="right")
        actions = [s.resource.action for g in shown for s in g]
        figure.legend(handles=_legend_handles(actions), loc="lower center", ncol=6, fontsize=8)
    figure.subplots_adjust(left=0.05, right=0.98, top=0.9, bottom=0.1, wspace=0.25, hspace=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()

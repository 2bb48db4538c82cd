"""Plan -> PNG map of the AOIs and the chosen scene footprints, coloured by action.

Made for a pull-request comment (1200×800 by default). One panel per spec order
(``spec.order``), in address order; a spec order whose AOIs lie far apart (Toulouse and
Tanzania) gets one panel per area, titled "part i of n", so that a panel only ever holds
its own order's AOIs. At most ``MAX_PANELS`` panels; what is left out is counted.

Each panel is north-up with lon/lat ticks, a scale bar and a north arrow; AOIs are filled
and outlined in their action's colour, footprints are dashed outlines of the same colour,
with the order's price by the first footprint of each order. Labels are placed greedily
around their shape and dropped (and counted) rather than drawn over another label. Panels
wider than ``OUTLINE_MIN_SPAN`` degrees get the Natural Earth 1:110m coastlines and borders
(vendored, see ``vendor/world-atlas/README.md``); on smaller ones that outline would be off
by more than the AOIs' own size.

matplotlib is imported here only, with the Agg backend objects used directly (no pyplot, no
global state), so that the other commands never pay for it. Pure apart from that: Plan ->
bytes, and the bytes are the same for the same plan (no timestamp in the PNG metadata).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from oneatlas_plan.planning.model import OrderPlan, Plan, ResourcePlan
from oneatlas_plan.render.plan_geojson import ACTION_COLOURS
from oneatlas_plan.render.plan_text import price_text, summary_line

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox
    from shapely.geometry.base import BaseGeometry

MAX_PANELS = 12
DEFAULT_SIZE = (1200, 800)
DPI = 100
OUTLINE_MIN_SPAN = 5.0  # degrees: a 1:110m coastline strays by ~0.1-0.3° (the Camargue)
KM_PER_DEGREE = 111.32
OUTLINE_COLOUR = "#8c8c8c"

Bounds = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


@dataclass
class _Shape:
    """One resource's drawable geometry: its AOI and its chosen scenes' footprints."""

    resource: ResourcePlan
    aoi: BaseGeometry | None = None
    footprints: list[BaseGeometry] = field(default_factory=list)

    def bounds(self) -> Bounds:
        from shapely.ops import unary_union

        parts = [g for g in [self.aoi, *self.footprints] if g is not None]
        minx, miny, maxx, maxy = unary_union(parts).bounds
        return minx, miny, maxx, maxy


@dataclass
class Panel:
    """What one subplot shows: members of one spec order, near each other."""

    order: str  # spec.order
    members: list[_Shape]
    part: int = 1
    parts: int = 1

    @property
    def title(self) -> str:
        count = len(self.members)
        what = f"{count} AOI{'s' if count != 1 else ''}"
        name = self.order if len(self.order) <= 48 else self.order[:47] + "…"
        if self.parts > 1:
            return f"{name} (part {self.part} of {self.parts}, {what})"
        return f"{name} ({what})"

    def bounds(self) -> Bounds:
        bounds = self.members[0].bounds()
        for member in self.members[1:]:
            bounds = _union(bounds, member.bounds())
        return bounds


def _polygonal(geometry: dict[str, Any] | None) -> BaseGeometry | None:
    """A Polygon/MultiPolygon GeoJSON as a valid shapely geometry; anything else: None."""
    if not geometry or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return None
    from shapely import make_valid
    from shapely.geometry import shape

    try:
        result = make_valid(shape(geometry))
    except (ValueError, TypeError, AttributeError):
        return None
    return None if result.is_empty else result


def _shapes(plan: Plan) -> list[_Shape]:
    shapes = []
    for resource in plan.resources:
        footprints = [_polygonal(s.footprint) for s in resource.scenes]
        shape = _Shape(
            resource,
            aoi=_polygonal(resource.aoi_geometry),
            footprints=[f for f in footprints if f is not None],
        )
        if shape.aoi is not None or shape.footprints:
            shapes.append(shape)
    return shapes


def spec_order(address: str) -> str:
    """``spec.order.aoi[1]`` -> ``spec.order``."""
    return ".".join(address.split(".")[:2])


def _near(a: Bounds, b: Bounds) -> bool:
    margin = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1], 0.05)
    return not (
        a[2] + margin < b[0] or b[2] + margin < a[0] or a[3] + margin < b[1] or b[3] + margin < a[1]
    )


def _union(a: Bounds, b: Bounds) -> Bounds:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _clusters(shapes: Sequence[_Shape]) -> list[list[_Shape]]:
    """Shapes close to each other (bounds within their own size), in address order."""
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


def panels(shapes: Sequence[_Shape]) -> list[Panel]:
    """One panel per spec order (split where its AOIs are far apart), by address."""
    by_order: dict[str, list[_Shape]] = {}
    for shape in sorted(shapes, key=lambda s: s.resource.address):
        by_order.setdefault(spec_order(shape.resource.address), []).append(shape)
    result = []
    for order, members in by_order.items():
        clusters = _clusters(members)
        for part, cluster in enumerate(clusters, start=1):
            result.append(Panel(order, cluster, part, len(clusters)))
    return result


def group_shapes(shapes: Sequence[_Shape]) -> list[list[_Shape]]:
    """The members of each panel (see :func:`panels`)."""
    return [panel.members for panel in panels(shapes)]


def _grid(count: int, width: int, height: int) -> tuple[int, int]:
    """(rows, columns) making panels as square as the picture allows."""
    best = (1, count)
    best_score = -1.0
    for rows in range(1, count + 1):
        columns = math.ceil(count / rows)
        cell = min(width / columns, height / rows)
        score = cell - 0.01 * (rows * columns - count)
        if score > best_score:
            best, best_score = (rows, columns), score
    return best


def _patch(geometry: BaseGeometry, **style: Any) -> Any:
    from shapely.geometry import MultiPolygon, Polygon
    from shapely.plotting import patch_from_polygon

    polygons = [g for g in getattr(geometry, "geoms", [geometry]) if isinstance(g, Polygon)]
    return patch_from_polygon(MultiPolygon(polygons), **style)


# --------------------------------------------------------------------------- outline


@cache
def _outline_arcs() -> tuple[tuple[tuple[float, float], ...], ...]:
    """Every arc (coastline or border) of Natural Earth 1:110m countries, as lon/lat lines."""
    source = resources.files("oneatlas_plan.render") / "vendor/world-atlas/countries-110m.json"
    topology = json.loads(source.read_text(encoding="utf-8"))
    (scale_x, scale_y), (shift_x, shift_y) = (
        topology["transform"]["scale"],
        topology["transform"]["translate"],
    )
    arcs = []
    for arc in topology["arcs"]:  # quantized and delta-encoded (TopoJSON spec 2.1.3)
        x = y = 0
        line = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            line.append((x * scale_x + shift_x, y * scale_y + shift_y))
        arcs.append(tuple(line))
    return tuple(arcs)


def _draw_outline(ax: Axes, bounds: Bounds) -> bool:
    from matplotlib.collections import LineCollection

    min_lon, min_lat, max_lon, max_lat = bounds
    lines = [  # arcs whose bounds meet the panel: the axes clip the rest
        arc
        for arc in _outline_arcs()
        if min(x for x, _ in arc) <= max_lon
        and max(x for x, _ in arc) >= min_lon
        and min(y for _, y in arc) <= max_lat
        and max(y for _, y in arc) >= min_lat
    ]
    if not lines:
        return False
    collection = LineCollection(lines, colors=OUTLINE_COLOUR, linewidths=0.7, zorder=0.5)
    collection.set_gid("outline")
    ax.add_collection(collection, autolim=False)
    return True


# --------------------------------------------------------------------------- furniture


def _nice_length(km: float) -> float:
    """The largest 1, 2 or 5 × 10^n not above ``km``."""
    if km <= 0:
        return 0.0
    power = 10 ** math.floor(math.log10(km))
    return max(step * power for step in (1, 2, 5) if step * power <= km)


def scale_bar_km(bounds: Bounds) -> float:
    """A round length about a quarter of the panel's width at its middle latitude."""
    width_km = (bounds[2] - bounds[0]) * KM_PER_DEGREE * math.cos(math.radians(_mid_lat(bounds)))
    return _nice_length(width_km / 4)


def _mid_lat(bounds: Bounds) -> float:
    return (bounds[1] + bounds[3]) / 2


def _km_text(km: float) -> str:
    return f"{km * 1000:g} m" if km < 1 else f"{km:g} km"


def _add_scale_bar(ax: Axes, bounds: Bounds) -> Any:
    from matplotlib.font_manager import FontProperties
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    km = scale_bar_km(bounds)
    if km <= 0:
        return None
    degrees = km / (KM_PER_DEGREE * math.cos(math.radians(_mid_lat(bounds))))
    bar = AnchoredSizeBar(
        ax.transData,
        degrees,
        _km_text(km),
        "lower left",
        pad=0.4,
        sep=3,
        frameon=True,
        size_vertical=0,
        fontproperties=FontProperties(size=7),
    )
    bar.patch.set_alpha(0.8)
    bar.set_gid("scale-bar")
    ax.add_artist(bar)
    return bar


def _add_north_arrow(ax: Axes) -> Any:
    arrow = ax.annotate(
        "N",
        xy=(0.95, 0.97),
        xytext=(0.95, 0.84),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=8,
        fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "0.2", "lw": 1.2},
    )
    arrow.set_gid("north-arrow")
    return arrow


def degrees_text(value: float, positive: str, negative: str, step: float) -> str:
    """``1.4`` -> ``1.4°E``; decimals enough to tell two ticks ``step`` apart."""
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    hemisphere = positive if value > 0 else negative if value < 0 else ""
    return f"{abs(value):.{decimals}f}°{hemisphere}"


def _ticks(ax: Axes) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    for axis, positive, negative in ((ax.xaxis, "E", "W"), (ax.yaxis, "N", "S")):
        locator = MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10])
        axis.set_major_locator(locator)
        low, high = axis.get_view_interval()
        ticks = locator.tick_values(low, high)
        step = float(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
        axis.set_major_formatter(
            FuncFormatter(lambda v, _, p=positive, n=negative, s=step: degrees_text(v, p, n, s))
        )
    ax.tick_params(labelsize=7)
    ax.grid(True, linewidth=0.3, alpha=0.5)


# --------------------------------------------------------------------------- labels


@dataclass
class _Label:
    text: str
    anchor: BaseGeometry  # where it belongs: placed around this shape's bounds
    gid: str
    colour: str = "black"


def _labels(panel: Panel, orders: dict[str, OrderPlan]) -> list[_Label]:
    labels = []
    priced: set[str] = set()
    for member in panel.members:
        resource = member.resource
        if member.aoi is not None:
            labels.append(
                _Label(f"{resource.aoi_name} ({resource.action})", member.aoi, "aoi-label")
            )
        order = orders.get(resource.order_key or "")
        if order is None or order.key in priced or not member.footprints:
            continue
        priced.add(order.key)
        shared = f", {len(order.addresses)} AOIs" if len(order.addresses) > 1 else ""
        scenes = len(resource.scenes)
        many = f", {scenes} scenes" if scenes > 1 else ""
        labels.append(
            _Label(
                f"{price_text(order)}{shared}{many}",
                member.footprints[0],
                "price-label",
                colour=ACTION_COLOURS[resource.action],
            )
        )
    return labels


# (x fraction, y fraction of the shape's bounds, ha, va, offset in points)
_POSITIONS = (
    (0.5, 1.0, "center", "bottom", (0, 3)),
    (0.5, 0.0, "center", "top", (0, -3)),
    (1.0, 0.5, "left", "center", (3, 0)),
    (0.0, 0.5, "right", "center", (-3, 0)),
    (1.0, 1.0, "left", "bottom", (2, 2)),
    (0.0, 1.0, "right", "bottom", (-2, 2)),
    (1.0, 0.0, "left", "top", (2, -2)),
    (0.0, 0.0, "right", "top", (-2, -2)),
)


def _place_labels(
    ax: Axes, labels: Sequence[_Label], renderer: RendererBase, taken: list[Bbox]
) -> int:
    """Put each label at the first position around its shape that overlaps no other label
    and stays inside the panel; a label with no such position is left out. Returns how many
    were left out."""
    import matplotlib.patheffects as effects

    frame = ax.get_window_extent(renderer)
    omitted = 0
    for label in labels:
        minx, miny, maxx, maxy = label.anchor.bounds
        placed = False
        for fx, fy, ha, va, offset in _POSITIONS:
            text = ax.annotate(
                label.text,
                (minx + fx * (maxx - minx), miny + fy * (maxy - miny)),
                xytext=offset,
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=7,
                color=label.colour,
                path_effects=[effects.withStroke(linewidth=2.5, foreground="white")],
                annotation_clip=False,
            )
            box = text.get_window_extent(renderer)
            inside = (
                box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0
                and box.y1 <= frame.y1
            )  # fmt: skip
            if inside and not any(box.overlaps(other) for other in taken):
                text.set_gid(label.gid)
                taken.append(box)
                placed = True
                break
            text.remove()
        omitted += not placed
    return omitted


# --------------------------------------------------------------------------- panels


def _frame(ax: Axes, bounds: Bounds, renderer: RendererBase) -> Bounds:
    """North up, a km east as long as a km north at the middle latitude, the bounds widened
    (or heightened) to fill the panel's box; the framed bounds."""
    min_lon, min_lat, max_lon, max_lat = bounds
    pad = max(max_lon - min_lon, max_lat - min_lat, 0.01) * 0.15
    shrink = max(math.cos(math.radians(_mid_lat(bounds))), 0.1)
    width, height = (max_lon - min_lon + 2 * pad) * shrink, max_lat - min_lat + 2 * pad
    box = ax.get_window_extent(renderer)
    if width / height < box.width / box.height:
        width = height * box.width / box.height
    else:
        height = width * box.height / box.width
    centre_lon, centre_lat = (min_lon + max_lon) / 2, (min_lat + max_lat) / 2
    half_lon, half_lat = width / shrink / 2, height / 2
    framed = (
        centre_lon - half_lon,
        centre_lat - half_lat,
        centre_lon + half_lon,
        centre_lat + half_lat,
    )
    ax.set_xlim(framed[0], framed[2])
    ax.set_ylim(framed[1], framed[3])
    ax.set_aspect(1 / shrink, adjustable="box")
    return framed


def _draw_panel(
    ax: Axes, panel: Panel, orders: dict[str, OrderPlan], renderer: RendererBase
) -> bool:
    """Draw one panel; whether it got the coastline/border outline."""
    for member in panel.members:
        colour = ACTION_COLOURS[member.resource.action]
        for footprint in member.footprints:
            patch = _patch(footprint, edgecolor=colour, alpha=0.8, fill=False, ls="--", lw=1.2)
            patch.set_gid("footprint")
            ax.add_patch(patch)
    for member in panel.members:
        if member.aoi is not None:
            colour = ACTION_COLOURS[member.resource.action]
            patch = _patch(member.aoi, facecolor=colour + "59", edgecolor=colour, lw=2)
            patch.set_gid(f"aoi:{member.resource.address}")
            ax.add_patch(patch)
    framed = _frame(ax, panel.bounds(), renderer)
    ax.apply_aspect()  # the final box, before labels are measured against it
    outlined = framed[2] - framed[0] >= OUTLINE_MIN_SPAN and _draw_outline(ax, framed)
    _ticks(ax)
    ax.set_title(panel.title, fontsize=8)
    furniture = [ax.title, _add_north_arrow(ax), _add_scale_bar(ax, framed)]
    taken = [a.get_window_extent(renderer) for a in furniture if a is not None]
    omitted = _place_labels(ax, _labels(panel, orders), renderer, taken)
    if omitted:
        note = ax.text(
            0.99, 0.01, f"{omitted} label{'s' if omitted > 1 else ''} left out (crowded)",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=6, color="0.35",
        )  # fmt: skip
        note.set_gid("labels-omitted")
    return outlined


def _legend_handles(actions: Iterable[str], outlined: bool) -> list[Any]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    present = set(actions)
    handles: list[Any] = [
        Patch(facecolor=ACTION_COLOURS[a] + "59", edgecolor=ACTION_COLOURS[a], lw=2, label=a)
        for a in ACTION_COLOURS
        if a in present
    ]
    handles.append(Line2D([], [], color="0.3", linestyle="--", label="scene footprint (price)"))
    if outlined:
        handles.append(
            Line2D([], [], color=OUTLINE_COLOUR, lw=0.7, label="coast/borders (Natural Earth)")
        )
    return handles


def build_figure(plan: Plan, *, size: tuple[int, int] = DEFAULT_SIZE) -> Figure:
    """The map as a matplotlib Figure (Agg canvas attached), ready to save."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = size
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    figure.suptitle(summary_line(plan), fontsize=10)
    every = panels(_shapes(plan))
    if not every:
        ax = figure.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "No area of interest to draw in this plan", ha="center", fontsize=14)
        return figure
    shown = every[:MAX_PANELS]
    rows, columns = _grid(len(shown), width, height)
    figure.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.1, wspace=0.3, hspace=0.35)
    renderer = canvas.get_renderer()
    orders = {order.key: order for order in plan.orders}
    outlined = False
    for index, panel in enumerate(shown):
        ax = figure.add_subplot(rows, columns, index + 1)
        outlined = _draw_panel(ax, panel, orders, renderer) or outlined
    if len(every) > len(shown):
        hidden = every[len(shown) :]
        count = sum(len(p.members) for p in hidden)
        figure.text(
            0.99, 0.01, f"+{count} AOIs in {len(hidden)} more panels not drawn", ha="right",
            fontsize=8,
        )  # fmt: skip
    actions = [s.resource.action for p in shown for s in p.members]
    legend = figure.legend(
        handles=_legend_handles(actions, outlined), loc="lower center", ncol=7, fontsize=8
    )
    legend.set_gid("legend")
    return figure


def render_plan_png(plan: Plan, *, size: tuple[int, int] = DEFAULT_SIZE) -> bytes:
    """The map as PNG bytes, exactly ``size`` pixels (width, height)."""
    figure = build_figure(plan, size=size)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()

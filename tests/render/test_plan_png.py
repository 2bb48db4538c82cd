from __future__ import annotations

import io
import shutil
import subprocess
import sys
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from plan_factory import big_plan, box, make_plan, mixed_plan, order, resource, scene

from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.model import Plan
from oneatlas_plan.planning.planfile import read_plan
from oneatlas_plan.render.plan_geojson import ACTION_COLOURS
from oneatlas_plan.render.plan_png import (
    MAX_PANELS,
    build_figure,
    degrees_text,
    group_shapes,
    render_plan_png,
    scale_bar_km,
)
from tests.conftest import World


def read_png(data: bytes) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(data), format="png")


def colour_mask(image: np.ndarray, colour: str, tolerance: float = 0.04) -> np.ndarray:
    rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.all(np.abs(image[:, :, :3] - rgb) < tolerance, axis=2)


def test_png_has_the_expected_size_and_the_aoi_colours_inside_the_frame() -> None:
    data = render_plan_png(mixed_plan())
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = read_png(data)
    assert image.shape[:2] == (800, 1200)
    for action in ("create", "reorder", "blocked"):
        mask = colour_mask(image, ACTION_COLOURS[action])
        assert mask.sum() > 50, f"no {action} pixels"
        rows, columns = np.nonzero(mask)
        assert rows.min() > 0 and rows.max() < 799 and columns.min() > 0 and columns.max() < 1199


def test_custom_size_and_deterministic_bytes() -> None:
    plan = mixed_plan()
    data = render_plan_png(plan, size=(600, 400))
    assert read_png(data).shape[:2] == (400, 600)
    assert render_plan_png(plan, size=(600, 400)) == data


def test_empty_plan_still_renders() -> None:
    image = read_png(render_plan_png(make_plan([], [])))
    assert image.shape[:2] == (800, 1200)


def test_many_areas_are_capped_in_panels() -> None:
    data = render_plan_png(big_plan(200))
    assert read_png(data).shape[:2] == (800, 1200)


def test_matplotlib_is_not_imported_by_other_renderers() -> None:
    code = (
        "import sys; import oneatlas_plan.render.plans, oneatlas_plan.render.plan_png, "
        "oneatlas_plan.cli.show; print('matplotlib' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_far_apart_areas_get_their_own_panels() -> None:
    from oneatlas_plan.render.plan_png import _shapes

    groups = group_shapes(_shapes(mixed_plan()))
    # Toulouse (north, south), Marseille (quay, dock), Tanzania (three blocked)
    assert [[s.resource.address for s in g] for g in groups] == [
        ["a.city.north", "a.city.south"],
        ["a.port.dock", "a.port.quay"],
        ["b.far.empty", "b.far.lost", "b.far.pricey"],
    ]
    assert MAX_PANELS >= 3


# --------------------------------------------------------------------------- figure contents


def camargue_and_marseille() -> Plan:
    """The examples' neighbours: one Camargue AOI and three Marseille port sites ~30 km east,
    close enough to have been drawn in one panel titled 'camargue-mosaic (5 AOIs)'."""
    camargue = resource(
        "camargue-mosaic.camargue.camargue",
        "create",
        lon=4.2,
        lat=43.33,
        scenes=[scene("C1", 4.4, 43.5)],
        order_key="oap-c",
    )
    camargue = camargue.model_copy(update={"aoi_geometry": box(4.2, 43.33, 0.75)})
    sites = [
        resource(
            f"marseille-ports.all-sites.{name}",
            "create",
            lon=lon,
            lat=lat,
            scenes=[scene(name.upper(), lon, lat)],
            order_key="oap-m",
            spec_file="specs/b.yaml",
        )
        for name, lon, lat in (
            ("pn-01", 5.33, 43.33),
            ("fd-02", 4.86, 43.42),
            ("br-03", 5.15, 43.47),
        )
    ]
    orders = [
        order("oap-c", [camargue.address], amount="6965.07"),
        order("oap-m", [r.address for r in sites], amount="1145.12", spec_file="specs/b.yaml"),
    ]
    return make_plan([camargue, *sites], orders)


def panel_axes(figure: Any) -> list[Any]:
    return [ax for ax in figure.axes if ax.get_title()]


def aoi_addresses(ax: Any) -> set[str]:
    gids = [patch.get_gid() or "" for patch in ax.patches]
    return {gid.removeprefix("aoi:") for gid in gids if gid.startswith("aoi:")}


def texts(figure: Any, *gids: str) -> list[Any]:
    return [t for ax in panel_axes(figure) for t in ax.texts if t.get_gid() in gids]


def test_panels_hold_their_own_spec_order_only() -> None:
    figure = build_figure(camargue_and_marseille())
    panels = {ax.get_title(): aoi_addresses(ax) for ax in panel_axes(figure)}
    assert panels == {
        "camargue-mosaic.camargue (1 AOI)": {"camargue-mosaic.camargue.camargue"},
        "marseille-ports.all-sites (3 AOIs)": {
            "marseille-ports.all-sites.pn-01",
            "marseille-ports.all-sites.fd-02",
            "marseille-ports.all-sites.br-03",
        },
    }
    # panels in spec order (address order)
    assert panel_axes(figure)[0].get_title().startswith("camargue-mosaic")


def test_a_spec_order_far_apart_is_split_into_parts() -> None:
    resources = [
        resource("s.o.north", "create", lon=1.4, lat=43.6),
        resource("s.o.south", "create", lon=31.0, lat=-4.6),
    ]
    figure = build_figure(make_plan(resources, []))
    assert {ax.get_title(): aoi_addresses(ax) for ax in panel_axes(figure)} == {
        "s.o (part 1 of 2, 1 AOI)": {"s.o.north"},
        "s.o (part 2 of 2, 1 AOI)": {"s.o.south"},
    }


def test_every_panel_has_a_scale_bar_a_north_arrow_and_degree_ticks() -> None:
    figure = build_figure(mixed_plan())
    axes = panel_axes(figure)
    assert len(axes) == 3
    for ax in axes:
        bars = [a for a in ax.artists if a.get_gid() == "scale-bar"]
        assert len(bars) == 1, ax.get_title()
        assert bars[0].txt_label.get_text().endswith((" km", " m"))
        assert [t.get_text() for t in ax.texts if t.get_gid() == "north-arrow"] == ["N"]
        ax.figure.canvas.draw()
        xs = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        ys = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        assert xs and all(x.endswith(("°E", "°W", "°")) for x in xs), xs
        assert ys and all(y.endswith(("°N", "°S", "°")) for y in ys), ys
        assert ax.get_aspect() > 1, "north up, longitudes shrunk by cos(latitude)"


def test_legend_names_each_action_drawn_and_the_footprints() -> None:
    figure = build_figure(mixed_plan())
    [legend] = figure.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["create", "reorder", "blocked", "no-op", "scene footprint (price)"]


def test_price_by_each_order_footprint_once() -> None:
    figure = build_figure(camargue_and_marseille())
    prices = sorted(t.get_text() for t in texts(figure, "price-label"))
    assert prices == ["EUR 1,145.12, 3 AOIs", "EUR 6,965.07"]


def test_labels_never_overlap_and_stay_in_their_panel() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    for plan, size in (
        (camargue_and_marseille(), (1200, 800)),
        (mixed_plan(), (1200, 800)),
        (crowded_plan(), (1200, 800)),
        (crowded_plan(), (600, 400)),
    ):
        figure = build_figure(plan, size=size)
        assert isinstance(figure.canvas, FigureCanvasAgg)  # build_figure attaches an Agg canvas
        renderer = figure.canvas.get_renderer()
        for ax in panel_axes(figure):
            frame = ax.get_window_extent(renderer)
            boxes = [
                t.get_window_extent(renderer)
                for t in ax.texts
                if t.get_gid() in ("aoi-label", "price-label")
            ]
            assert boxes
            for first, second in combinations(boxes, 2):
                assert not first.overlaps(second)
            for box_ in boxes:
                assert frame.x0 <= box_.x0 and box_.x1 <= frame.x1
                assert frame.y0 <= box_.y0 and box_.y1 <= frame.y1


def crowded_plan() -> Plan:
    resources = [
        resource(f"s.o.site-with-a-long-name-{i:02d}", "create", lon=5 + 0.02 * (i % 5),
                 lat=43 + 0.02 * (i // 5))
        for i in range(25)
    ]  # fmt: skip
    return make_plan(resources, [])


def test_crowded_labels_are_left_out_and_counted() -> None:
    figure = build_figure(crowded_plan(), size=(600, 400))
    [ax] = panel_axes(figure)
    shown = [t for t in ax.texts if t.get_gid() == "aoi-label"]
    [note] = [t for t in ax.texts if t.get_gid() == "labels-omitted"]
    assert 0 < len(shown) < 25
    assert note.get_text().startswith(f"{25 - len(shown)} labels left out")


def test_outline_only_on_panels_large_enough_for_1_to_110m() -> None:
    small = build_figure(camargue_and_marseille())
    assert not any(c.get_gid() == "outline" for ax in small.axes for c in ax.collections)
    assert "coast/borders (Natural Earth)" not in [t.get_text() for t in small.legends[0].texts]
    france = resource("f.o.france", "create", lon=-2.0, lat=43.0, geometry=True)
    france = france.model_copy(update={"aoi_geometry": box(-2.0, 43.0, 7.0)})
    large = build_figure(make_plan([france], []))
    [ax] = panel_axes(large)
    [outline] = [c for c in ax.collections if c.get_gid() == "outline"]
    assert len(outline.get_segments()) > 3  # French, Spanish, Swiss... coasts and borders
    assert "coast/borders (Natural Earth)" in [t.get_text() for t in large.legends[0].texts]


def test_scale_bar_lengths_and_degree_texts() -> None:
    # 1° of longitude at 60°N is 55.66 km: a quarter of 2° is 27.8 km -> 20 km
    assert scale_bar_km((10.0, 59.0, 12.0, 61.0)) == 20
    assert scale_bar_km((1.40, 43.60, 1.41, 43.61)) == 0.2  # 805 m wide -> 200 m
    assert degrees_text(1.4, "E", "W", 0.1) == "1.4°E"
    assert degrees_text(-4.65, "N", "S", 0.05) == "4.65°S"
    assert degrees_text(0.0, "E", "W", 0.5) == "0.0°"


def test_the_examples_plan_panels_by_spec_order(world: World) -> None:
    """The examples' Camargue and Marseille AOIs, planned against the sandbox: each panel
    holds one spec order's AOIs only (they were once drawn together)."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    shutil.copytree(examples, "examples", ignore=shutil.ignore_patterns("ci"))
    assert world.cli("plan", "examples", "--out", "plan.json") == ExitCode.OK
    plan = read_plan(Path("plan.json"))
    figure = build_figure(plan)
    drawn: list[str] = []
    for ax in panel_axes(figure):
        order = ax.get_title().split(" (")[0]
        members = aoi_addresses(ax)
        assert members and all(a.startswith(order + ".") for a in members), ax.get_title()
        drawn += members
    expected = {r.address for r in plan.resources if r.aoi_geometry is not None}
    assert sorted(drawn) == sorted(expected)
    assert any(a.startswith("camargue-mosaic.") for a in drawn)
    assert any(a.startswith("marseille-ports.") for a in drawn)

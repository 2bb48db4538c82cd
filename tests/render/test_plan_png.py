from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
from plan_factory import big_plan, make_plan, mixed_plan

from oneatlas_plan.render.plan_geojson import ACTION_COLOURS
from oneatlas_plan.render.plan_png import MAX_PANELS, group_shapes, render_plan_png


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

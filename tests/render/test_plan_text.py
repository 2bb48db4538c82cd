"""The text plan: header, one row per resource, grouped orders once, quotes, colour."""

from __future__ import annotations

import click
from plan_factory import (
    DOUBLE_PURCHASE_REASON,
    double_purchase_plan,
    make_plan,
    mixed_plan,
    order,
    resource,
    scene,
)

from oneatlas_plan.render.plan_text import coverage_text, render_plan_text, short_scene_id
from oneatlas_plan.render.style import use_colour


def test_coverage_has_one_decimal_and_is_never_rounded_up_to_100() -> None:
    assert coverage_text(0.9989) == "99.8 %"
    assert coverage_text(0.99999) == "99.9 %"
    assert coverage_text(1.0) == "100.0 %"
    assert coverage_text(0.5) == "50.0 %"
    assert coverage_text(None) == "-"


def test_short_scene_id_keeps_the_distinctive_tail() -> None:
    assert short_scene_id("DS_PHR1B_202207151016099_FR1_PX_E001N43_0708_94508") == "…0708_94508"
    assert short_scene_id("DS_N1") == "DS_N1"


def test_header_row_and_a_grouped_order_shown_once_with_its_members() -> None:
    text = render_plan_text(mixed_plan())
    lines = text.splitlines()
    header = next(line for line in lines if "ADDRESS" in line)
    for column in ("PLATFORM", "DATE", "SCENE", "CLOUD", "INCID.", "COVER", "REQ km²",
                   "BILL km²", "PRICE", "PER km²"):  # fmt: skip
        assert column in header
    assert text.count("EUR 250.00  ") == 1  # the order's price once, not per member
    group = lines.index(next(line for line in lines if "order oap-1: 2 AOIs" in line))
    assert lines[group + 1].split()[:2] == ["+", "a.city.north"]
    assert lines[group + 2].split()[:2] == ["+", "a.city.south"]
    assert "EUR 10.00" in lines[group]  # 250 EUR / 25 km² billable


def test_neo_prices_are_marked_as_quotes() -> None:
    neo = order("oap-9", ["a.neo.x"], amount="979.72")
    neo = neo.model_copy(update={"constellation": "PNEO"})
    plan = make_plan([resource("a.neo.x", "create", scenes=[scene("X", 1.4, 43.6)],
                               order_key="oap-9")], [neo])  # fmt: skip
    text = render_plan_text(plan)
    assert "quote EUR 979.72" in text
    assert "nothing is bought until the quotation is accepted" in text


def test_colour_only_when_asked_green_yellow_red() -> None:
    plain = render_plan_text(mixed_plan())
    assert "\x1b[" not in plain
    coloured = render_plan_text(mixed_plan(), colour=True)
    assert click.style("x", fg="green")[:5] in coloured  # create
    assert click.style("x", fg="yellow")[:5] in coloured  # reorder
    assert click.style("x", fg="red")[:5] in coloured  # blocked
    assert click.unstyle(coloured) == plain


def test_colour_decision_follows_tty_no_color_and_the_flag() -> None:
    assert use_colour(isatty=True, environ={}, no_color=False)
    assert not use_colour(isatty=False, environ={}, no_color=False)
    assert not use_colour(isatty=True, environ={"NO_COLOR": "1"}, no_color=False)
    assert not use_colour(isatty=True, environ={}, no_color=True)


def test_candidates_show_alternatives_and_nearest_misses() -> None:
    from oneatlas_plan.planning.model import Alternative

    base = scene("ALT1", 1.4, 43.6, cloud=4.0)
    alternative = Alternative(**dict(base), why="ranked by cloud_cover: 2.5 % vs 4 %")
    miss = Alternative(**dict(scene("M1", 1.4, 43.6, cloud=12.0)), why="cloud 12 % > max 10 %")
    chosen = resource("a.x.y", "create", scenes=[scene("N1", 1.4, 43.6)], order_key="oap-1")
    chosen = chosen.model_copy(update={"alternatives": [alternative] * 4})
    empty = resource("a.x.z", "blocked", reason="unsatisfied: nothing")
    empty = empty.model_copy(update={"near_misses": [miss]})
    plan = make_plan([chosen, empty], [order("oap-1", ["a.x.y"])])
    assert "alternatives" not in render_plan_text(plan)
    text = render_plan_text(plan, candidates=3)
    assert text.count("ranked by cloud_cover: 2.5 % vs 4 %") == 3
    assert "nearest misses" in text and "cloud 12 % > max 10 %" in text


def test_a_double_purchase_says_it_was_not_priced_and_why() -> None:
    lines = render_plan_text(double_purchase_plan()).splitlines()
    row = next(i for i, line in enumerate(lines) if "a.city.again" in line)
    assert lines[row].split()[0] == "!" and lines[row].split()[-4:] == ["-", "not", "priced", "-"]
    assert lines[row + 1].strip() == DOUBLE_PURCHASE_REASON
    assert "overlap allowed" not in "\n".join(lines)

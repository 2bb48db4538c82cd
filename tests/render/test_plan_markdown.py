from __future__ import annotations

import json
import re

import pytest
from plan_factory import (
    DOUBLE_PURCHASE_REASON,
    FIXED_META,
    big_plan,
    double_purchase_plan,
    mixed_plan,
)

from oneatlas_plan.planning.planner import NOT_PRICED_DUPLICATE
from oneatlas_plan.render import markdown_text
from oneatlas_plan.render.plan_markdown import (
    GITHUB_COMMENT_LIMIT,
    SAFETY_MARGIN,
    SUMMARY_LIST_CAP,
    render_plan_markdown,
    summary_lines,
)

ROOM = GITHUB_COMMENT_LIMIT - SAFETY_MARGIN


def test_small_plan_is_complete() -> None:
    text = render_plan_markdown(mixed_plan())
    assert len(text) < ROOM
    assert text.count("<details>") == 4  # three orders + the resources without an order
    assert "omitted" not in text and "truncated" not in text
    assert text.startswith("\n".join(summary_lines(mixed_plan())) + "\n")


def test_summary_comes_first_in_order() -> None:
    text = render_plan_markdown(mixed_plan())
    positions = [text.index(s) for s in ("**Plan:", "Total to spend", "⛔", "### `", "<details>")]
    assert positions == sorted(positions)


def test_2000_creates_fit_the_comment_limit_tables_cut_after_details() -> None:
    plan = big_plan(2000)
    text = render_plan_markdown(plan)
    assert len(text) <= ROOM
    assert text.startswith("\n".join(summary_lines(plan)) + "\n")  # the summary is whole
    assert "<details>" not in text  # details go first ...
    assert "2000 detail block(s) omitted" in text
    shown = len(re.findall(r"^\| ➕ `", text, flags=re.M))
    assert 0 < shown < 2000  # ... then table rows, with a note saying how many
    assert f"{2000 - shown} row(s) not shown" in text
    for block in text.split("\n\n"):  # every table kept has its header
        if block.startswith("| ➕"):
            pytest.fail("table rows without a header")


def test_details_dropped_from_the_end_when_tables_fit() -> None:
    plan = big_plan(60)
    text = render_plan_markdown(plan, limit=40_000)
    assert len(text) <= 40_000 - SAFETY_MARGIN
    assert "row(s) not shown" not in text
    kept = text.count("<details>")
    assert 0 < kept < 60
    assert f"{60 - kept} detail block(s) omitted" in text
    # the details kept are the first ones, in plan order
    assert "<code>oap-000000000000</code>" in text


def test_huge_blocked_list_is_capped_in_the_summary() -> None:
    plan = big_plan(2000, action="blocked")
    text = render_plan_markdown(plan)
    assert len(text) <= ROOM
    summary = "\n".join(summary_lines(plan))
    assert len(summary) < 10_000
    assert "**⛔ 2000 blocked**" in summary
    assert f"and {2000 - SUMMARY_LIST_CAP} more resources" in summary
    assert summary.count("- `spec-") == SUMMARY_LIST_CAP
    assert text.startswith(summary)
    assert "**Plan: 0 to order" in text


def test_output_is_stable_and_ignores_meta() -> None:
    plan = big_plan(300)
    other = plan.model_copy(update={"meta": FIXED_META.model_copy(update={"host": "elsewhere"})})
    assert render_plan_markdown(plan) == render_plan_markdown(other)
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", render_plan_markdown(plan))


def test_map_url_adds_an_image_link() -> None:
    text = render_plan_markdown(mixed_plan(), map_url="https://example.invalid/map.png")
    assert "![Map of the areas of interest and the chosen scenes]" in text
    assert "(https://example.invalid/map.png)" in text
    assert "![" not in render_plan_markdown(mixed_plan())


def test_pipes_and_html_in_reasons_cannot_break_the_layout() -> None:
    text = render_plan_markdown(mixed_plan())
    line = next(line for line in text.splitlines() if "b.far.empty" in line)
    assert "\\|" in line and "&lt;" in line


def test_tables_are_narrow_and_options_are_listed_once_per_set() -> None:
    text = render_plan_markdown(mixed_plan())
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows and all(line.count(" | ") == 7 for line in rows)  # 8 columns
    assert max(len(line) for line in rows) < 110  # no 55-character datastrip ids in rows
    assert "DS_N1" not in "\n".join(rows)
    assert text.count("licence `standard` · pixel\\_coding `12bits`") == 1
    assert "(3 orders: `oap-1`, `oap-2`, `oap-3`)" in text
    nbsp = "\u00a0"
    south = (
        f"| ➕ `a.city.south` | A | 2022-06-01 | PHR1A | 2.5{nbsp}% | 100.0{nbsp}% | ↑ "
        f"| ↑{nbsp}same{nbsp}order |"
    )
    assert south in text


def test_order_bodies_are_collapsed_with_coordinates_on_one_line() -> None:
    from oneatlas_plan.render.plan_markdown import compact_json

    body = {"aoi": [{"geometry": {"type": "Polygon", "coordinates": [[[1.0, 2.0]] * 5]}}]}
    out = compact_json({**body, "long": "x" * 100})
    assert '"coordinates": [[[1.0,2.0],[1.0,2.0],[1.0,2.0],[1.0,2.0],[1.0,2.0]]]' in out
    assert json.loads(out) == {**body, "long": "x" * 100}
    text = render_plan_markdown(mixed_plan())
    blocks = [b.split("</details>")[0] for b in text.split("<details>")[1:]]
    orders = [b for b in blocks if b.startswith("<summary>Order ")]
    assert len(orders) == 3 and all("```json" in b for b in orders)
    assert "```json" not in text.split("<details>")[0]  # bodies only inside the blocks


def test_why_these_scenes_lists_alternatives_and_quicklooks_from_a_template() -> None:
    from plan_factory import make_plan, order, resource, scene

    from oneatlas_plan.planning.model import Alternative

    alternative = Alternative(**dict(scene("ALT", 1.4, 43.6, cloud=4.0)), why="ranked by x")
    chosen = resource("a.x.y", "create", scenes=[scene("N1", 1.4, 43.6)], order_key="oap-1")
    plan = make_plan([chosen.model_copy(update={"alternatives": [alternative]})],
                     [order("oap-1", ["a.x.y"])])  # fmt: skip
    text = render_plan_markdown(plan, quicklook_url="https://ql.example/{id}.jpg")
    why = "  - not chosen: `DS_ALT` PHR1A 2022-06-01, cloud 4.0 %, incidence 12.0°: ranked by x"
    assert why in text
    assert '<img src="https://ql.example/id-N1.jpg" alt="quicklook" width="96">' in text
    assert "<img" not in render_plan_markdown(plan)


def test_a_double_purchase_says_it_was_not_priced_and_why() -> None:
    text = render_plan_markdown(double_purchase_plan())
    escaped = DOUBLE_PURCHASE_REASON.replace("_", "\\_")
    row = next(line for line in text.splitlines() if "`a.city.again`" in line and "|" in line)
    assert row.endswith("| - | not\xa0priced |")
    assert f"- `a.city.again`: {escaped}" in text  # the summary's blocked list
    assert "(blocked, not priced)" in text and f"- Reason: {escaped}" in text


def test_a_long_double_purchase_reason_keeps_its_hint_in_the_summary() -> None:
    overlaps = "; ".join(
        f"scene DS_N{i} of the same product already owned by a.city.north{i} (sales order "
        f"SO-{i}) over 12.30 km² (62% of the AOI, ≈ EUR 120.00)"
        for i in range(4)
    )
    reason = f"{overlaps}; {NOT_PRICED_DUPLICATE}"
    assert len(reason) > 300  # longer than a summary line may be
    summary = "\n".join(summary_lines(double_purchase_plan(reason)))
    line = next(x for x in summary.splitlines() if x.startswith("- `a.city.again`: "))
    assert len(line) < 330
    assert line.startswith("- `a.city.again`: scene DS\\_N0 of the same product already owned")
    # why it has no price, and what to do about it
    assert line.endswith(f" … {markdown_text.escape(NOT_PRICED_DUPLICATE)}")

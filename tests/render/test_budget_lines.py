"""Every budget but the per-Airbus-order ones shows spent before, this plan and left, in the
text plan, the markdown comment and the HTML report alike."""

from __future__ import annotations

import html

import pytest
from plan_factory import mixed_plan

from oneatlas_plan.planning.model import BudgetCheck
from oneatlas_plan.render.money import format_money
from oneatlas_plan.render.plan_html import render_plan_html
from oneatlas_plan.render.plan_markdown import render_plan_markdown
from oneatlas_plan.render.plan_text import render_plan_text


def figures(check: BudgetCheck) -> list[str]:
    left = (
        f"{format_money(check.left, check.currency)} left"
        if check.left >= 0
        else f"{format_money(-check.left, check.currency)} over"
    )
    return [
        format_money(check.spent_before, check.currency),
        format_money(check.planned, check.currency),
        left,
    ]


@pytest.mark.parametrize(
    "render", [render_plan_text, render_plan_markdown], ids=["text", "markdown"]
)
def test_text_and_markdown(render: object) -> None:
    plan = mixed_plan()
    output = render(plan)  # type: ignore[operator]
    checks = [c for c in plan.budgets if c.scope != "airbus_order"]
    assert len(checks) == 3
    for check in checks:
        spent, planned, left = figures(check)
        expected = f"spent before {spent}, this plan {planned}, {left}"
        assert sum(expected in line for line in output.splitlines()) == 1, expected


def test_html() -> None:
    plan = mixed_plan()
    page = render_plan_html(plan)
    for check in (c for c in plan.budgets if c.scope != "airbus_order"):
        spent, planned, left = figures(check)
        row = (
            f'<td class="num">{html.escape(spent)}</td>'
            f'<td class="num">{html.escape(planned)}</td>'
            f'<td class="num">{html.escape(left.removesuffix(" left"))}</td>'
        )
        assert page.count(row) == 1, row

"""The HTML report in a real headless Chromium (Debian's, driven by Playwright).

The page must load from a file with no console error and no request but its own, draw one
layer per AOI and per chosen footprint, highlight a footprint when its table row is clicked,
and sort the table. A screenshot is kept under ``tests/render/artifacts/`` (or
``$ONEATLAS_TEST_ARTIFACTS``) for people to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from plan_factory import mixed_plan

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.render.plan_html import render_plan_html

DATA = Path(__file__).parent / "data"
CHROMIUM = Path(os.environ.get("ONEATLAS_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("ONEATLAS_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_report_is_self_contained() -> None:
    page = render_plan_html(mixed_plan())
    assert page.startswith("<!DOCTYPE html>")
    # no element refers to anything outside the file: scripts, styles, fonts or tiles (the
    # browser test below also checks that no request is made at all)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", markup)
    assert "url(images/" not in page and "sourceMappingURL" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert 'version="1.9.4"' in page  # the vendored Leaflet, inlined
    assert render_plan_html(mixed_plan()) == page  # deterministic: no timestamp


def test_a_double_purchase_says_it_was_not_priced_and_why() -> None:
    import html

    from plan_factory import DOUBLE_PURCHASE_REASON, double_purchase_plan

    page = render_plan_html(double_purchase_plan())
    row = next(r for r in page.split("<tr ") if r.startswith('data-address="a.city.again"'))
    assert f'title="{html.escape(DOUBLE_PURCHASE_REASON)}"' in row and "not priced" in row
    assert f"a.city.again</code>: {html.escape(DOUBLE_PURCHASE_REASON)}</li>" in page


def test_hostile_text_cannot_break_out_of_the_data_block() -> None:
    from plan_factory import make_plan, resource

    evil = resource("a.x.y", "blocked", reason="</script><script>alert(1)</script>")
    page = render_plan_html(make_plan([evil], []))
    assert "<script>alert(1)" not in page
    assert page.count("</script>") == 3  # data, Leaflet, the report's own script


def test_the_licence_of_the_vendored_library_ships_with_it() -> None:
    from importlib import resources

    licence = resources.files("oneatlas_plan") / "render/vendor/leaflet/LICENSE"
    assert "Volodymyr Agafonkin" in licence.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does it)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is in the test extra: pip install -e .[test]"
    )
    profile = tempfile.mkdtemp(prefix="oneatlas-chromium-")
    try:
        with sync_api.sync_playwright() as playwright:
            # a new, empty profile (Playwright passes it as --user-data-dir)
            launched = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                args=LAUNCH_FLAGS,
                viewport={"width": 1280, "height": 1000},
            )
            try:
                yield launched
            finally:
                launched.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _open(browser: Any, report: Path) -> tuple[Any, list[str], list[str]]:
    page = browser.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    page.wait_for_function("window.oneatlasReport !== undefined")
    return page, errors, requests


def test_report_in_a_real_browser(browser: Any, tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    shutil.copy(DATA / "mixed" / "plan.json", plan_path)
    report = tmp_path / "plan.html"
    assert run(["show", str(plan_path), "--format", "html", "--out", str(report)]) == ExitCode.OK
    plan = mixed_plan()
    page, errors, requests = _open(browser, report)

    aois = [r.address for r in plan.resources if r.aoi_geometry is not None]
    footprints = sum(len(r.scenes) for r in plan.resources)
    assert page.evaluate("Object.keys(window.oneatlasReport.aoiLayers).sort()") == sorted(aois)
    counted = page.evaluate(
        "Object.values(window.oneatlasReport.footprintLayers).reduce((n, l) => n + l.length, 0)"
    )
    assert counted == footprints
    # every layer was drawn as an SVG path on the map
    assert page.locator("#map path.leaflet-interactive").count() == len(aois) + footprints

    row = page.locator('#orders tbody tr[data-address="a.port.quay"]')
    row.click()
    assert page.evaluate("window.oneatlasReport.highlighted") == "a.port.quay"
    assert "selected" in (row.get_attribute("class") or "")
    weight = page.evaluate(
        "window.oneatlasReport.footprintLayers['a.port.quay'][0].getLayers()[0].options.weight"
    )
    assert weight == 5
    other = page.evaluate(
        "window.oneatlasReport.footprintLayers['a.city.south'][0].getLayers()[0].options.weight"
    )
    assert other == 2

    # sortable: by price, descending on the second click
    price_header = page.locator("#orders th", has_text=re.compile(r"^price$"))
    price_header.click()
    price_header.click()
    first = page.locator("#orders tbody tr").first.get_attribute("data-address")
    assert first == "b.far.pricey"

    # alternatives are a layer the reader can switch on
    page.locator(".leaflet-control-layers-overlays label", has_text="alternatives").click()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "plan-report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert errors == []
    assert requests == [report.as_uri()]
    page.close()


def test_shipped_plan_report_loads_cleanly(browser: Any, tmp_path: Path) -> None:
    from oneatlas_plan.planning.planfile import read_plan

    report = tmp_path / "shipped.html"
    report.write_text(render_plan_html(read_plan(DATA / "shipped" / "plan.json")), "utf-8")
    page, errors, requests = _open(browser, report)
    assert page.evaluate("window.oneatlasReport.alternativeLayers.length") >= 3
    assert errors == [] and requests == [report.as_uri()]
    page.close()


def test_each_budget_shows_spent_before_this_plan_and_left() -> None:
    page = render_plan_html(mixed_plan())
    table = re.search(r'<table id="budgets">(.*?)</table>', page, re.S)
    assert table is not None
    rows = [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    ]
    assert rows[0] == ["BUDGET", "LIMIT", "SPENT BEFORE", "THIS PLAN", "LEFT", ""]
    by_name = {row[0]: row[1:] for row in rows[1:]}
    assert by_name["total"] == [
        "EUR 2,000.00", "EUR 1,200.00", "EUR 250.00", "EUR 550.00", "ok"
    ]  # fmt: skip
    assert by_name["spec b"] == [
        "USD 1,000.00", "USD 0.00", "USD 5,000.00", "USD 4,000.00 over",
        "EXCEEDED: orders blocked",
    ]  # fmt: skip
    assert by_name["spec order a.city (per month from 2031-12-01)"][1:3] == [
        "EUR 40.00", "EUR 250.00"
    ]  # fmt: skip
    # the per-Airbus-order budgets stay summarised in the list, the others are not repeated
    summary = re.search(r'<ul id="summary">(.*?)</ul>', page, re.S)
    assert summary is not None
    assert "per-Airbus-order budgets: 1 of 2 orders within" in summary.group(1)
    assert "spent before" not in summary.group(1)


def test_amounts_sort_by_currency_then_amount(browser: Any, tmp_path: Path) -> None:
    """Amounts in different currencies are never ranked against each other as plain numbers:
    the price and per-km² columns sort by currency, then amount."""
    from plan_factory import make_plan, order, resource, scene

    priced = [("p.eur.small", "40.00", "EUR"), ("p.usd.small", "120.50", "USD"),
              ("p.eur.large", "300.00", "EUR"), ("p.usd.large", "5000.00", "USD")]  # fmt: skip
    resources = [
        resource(a, "create", scenes=[scene(a, 1.4, 43.6)], order_key=f"k-{a}")
        for a, _, _ in priced
    ]
    resources.append(resource("p.none.blocked", "blocked", reason="unsatisfied: nothing"))
    orders = [order(f"k-{a}", [a], amount=amount, currency=c) for a, amount, c in priced]
    report = tmp_path / "plan.html"
    report.write_text(render_plan_html(make_plan(resources, orders)), "utf-8")
    page, errors, _ = _open(browser, report)
    by_currency = ["p.none.blocked", "p.eur.small", "p.eur.large", "p.usd.small", "p.usd.large"]
    for column in ("price", "per km²"):
        header = page.locator("#orders th", has_text=re.compile(f"^{column}$"))
        header.click()
        shown = page.locator("#orders tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.address)"
        )
        assert shown == by_currency, column
        header.click()
        shown = page.locator("#orders tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.address)"
        )
        assert shown == by_currency[::-1], column
    assert errors == []
    page.close()

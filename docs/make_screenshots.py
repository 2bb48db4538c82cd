"""Regenerate the README's screenshots (docs/images/*.png) from the golden shipped plan,
and the PNG map of the same plan (`show --format png`).

Needs Debian's chromium, Playwright (test extra) and python-markdown (``pip install markdown``,
used only here to lay the PR comment out roughly as GitHub does, in its 780-px column):

    .venv/bin/python docs/make_screenshots.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import markdown  # type: ignore[import-untyped]
from playwright.sync_api import sync_playwright

from oneatlas_plan.planning.planfile import read_plan
from oneatlas_plan.render.plan_html import render_plan_html
from oneatlas_plan.render.plan_markdown import render_plan_markdown
from oneatlas_plan.render.plan_png import render_plan_png

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "tests" / "render" / "data" / "shipped" / "plan.json"
OUT = ROOT / "docs" / "images"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
GITHUB_LIKE = """<style>
body { width: 780px; margin: 16px; font: 14px/1.5 -apple-system, "Segoe UI", sans-serif; }
table { border-collapse: collapse; display: block; overflow: auto; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; }
code { background: #eff1f3; padding: 1px 4px; border-radius: 4px; font-size: 85%; }
pre { background: #f6f8fa; padding: 12px; overflow: auto; }
</style>"""


def main() -> None:
    plan = read_plan(PLAN)
    (OUT / "plan-map.png").write_bytes(render_plan_png(plan))
    comment = render_plan_markdown(plan)
    body = markdown.markdown(comment, extensions=["tables", "fenced_code", "md_in_html"])
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.html"
        report.write_text(render_plan_html(plan), encoding="utf-8")
        pr = Path(tmp) / "comment.html"
        pr.write_text(f"<!DOCTYPE html><meta charset=utf-8>{GITHUB_LIKE}{body}", "utf-8")
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(Path(tmp) / "profile"),
                executable_path="/usr/bin/chromium",
                args=FLAGS,
                viewport={"width": 1200, "height": 900},
            )
            page = context.new_page()
            page.goto(report.as_uri())
            page.wait_for_function("window.oneatlasReport !== undefined")
            page.locator(".leaflet-control-layers-overlays label", has_text="alternatives").click()
            page.locator("#orders tbody tr").first.click()
            page.screenshot(path=str(OUT / "html-report.png"), full_page=True)
            page = context.new_page()
            page.set_viewport_size({"width": 820, "height": 900})
            page.goto(pr.as_uri())
            page.screenshot(path=str(OUT / "pr-comment.png"), full_page=True)
            context.close()


if __name__ == "__main__":
    main()

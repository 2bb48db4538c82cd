"""Progress: one plain line per stage where stderr is not a terminal (CI logs)."""

from __future__ import annotations

import io

from oneatlas_plan.cli.progress import StageProgress


def test_one_plain_line_per_stage_off_a_terminal() -> None:
    stream = io.StringIO()
    with StageProgress(stream=stream) as progress:
        for done in range(4):
            progress("search", done, 3)
        progress("price", 0, 1)
        progress("price", 1, 1)
        progress("order", 0, 0)  # nothing to do: nothing said
    assert stream.getvalue() == "searching: 3 requests\npricing: 1 request\n"
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_disabled_says_nothing() -> None:
    stream = io.StringIO()
    StageProgress(enabled=False, stream=stream)("search", 0, 3)
    assert stream.getvalue() == ""

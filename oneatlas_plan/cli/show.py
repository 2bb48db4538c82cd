"""`oneatlas-plan show PLANFILE`: render a plan file for people, scripts, PR comments or maps."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

import click

from oneatlas_plan import _files
from oneatlas_plan._bulk import bulk
from oneatlas_plan._canonical import dumps
from oneatlas_plan.errors import ConfigError, ExitCode, ToolError
from oneatlas_plan.planning.model import OrderPlan, Plan, ResourcePlan
from oneatlas_plan.planning.planfile import View, copy_plan, iter_plan, read_plan
from oneatlas_plan.render.plan_text import render_plan_text
from oneatlas_plan.render.plans import render_plan
from oneatlas_plan.render.style import use_colour

FORMATS = ["text", "json", "markdown", "geojson", "png", "html"]


@click.command()
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text: the summary of `plan`; json: the plan file; markdown: a PR comment; "
    "geojson: AOIs and footprints; png: a map (needs --out); html: a self-contained report "
    "with an interactive map.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write to this file instead of stdout (required for png; '-' is stdout, "
    "refused for png when it is a terminal).",
)
@click.option(
    "--map-url",
    metavar="URL",
    help="markdown only: show the map image at URL (e.g. the PNG of `show --format png`).",
)
@click.option(
    "--quicklook-url",
    metavar="TEMPLATE",
    help="markdown only: thumbnails from TEMPLATE ({id}, {archive_identifier}), a URL readers "
    "can load (Airbus quicklooks need a token, so e.g. copies your CI publishes).",
)
@click.option(
    "--candidates",
    type=click.IntRange(min=0),
    is_flag=False,
    flag_value=3,
    default=None,
    metavar="[N]",
    help="text: under each resource, the N best alternatives or nearest misses (default 3).",
)
@click.option(
    "--expanded",
    is_flag=True,
    help="json only: every order's body and every scene written out in full (the file's "
    "`common` and `catalogue` tables joined back), for scripts and policy checks.",
)
@click.option("--no-color", is_flag=True, help="No colour (also: NO_COLOR set, or not a TTY).")
def show(
    plan_file: Path,
    output_format: str,
    out: Path | None,
    map_url: str | None,
    quicklook_url: str | None,
    candidates: int | None,
    expanded: bool,
    no_color: bool,
) -> int:
    """Show PLAN_FILE (checksum verified) as text, json, markdown, geojson, png or html."""
    _check_options(output_format, out, map_url, quicklook_url, candidates)
    if expanded and output_format != "json":
        raise ConfigError("--expanded only applies to --format json")
    if expanded:
        _emit(dumps(read_plan(plan_file).model_dump(mode="json")), out)
        return ExitCode.OK
    if output_format == "json":  # the file's own bytes, once the whole file is checked
        for _ in iter_plan(plan_file):
            pass
        _emit_bytes(copy_plan(plan_file), out)
        return ExitCode.OK
    if output_format == "text":
        to_terminal = out is None or str(out) == "-"
        colour = use_colour(
            isatty=to_terminal and sys.stdout.isatty(), environ=os.environ, no_color=no_color
        )
        with bulk():
            plan = _plan_for_text(plan_file, candidates)
        _emit(render_plan_text(plan, colour=colour, candidates=candidates), out, colour=colour)
        return ExitCode.OK
    plan = read_plan(plan_file)
    if output_format == "png":
        from oneatlas_plan.render.plan_png import render_plan_png

        _emit(render_plan_png(plan), out)
    elif output_format == "html":
        from oneatlas_plan.render.plan_html import render_plan_html

        _emit(render_plan_html(plan), out)
    elif output_format == "markdown":
        from oneatlas_plan.render.plan_markdown import render_plan_markdown

        _emit(render_plan_markdown(plan, map_url=map_url, quicklook_url=quicklook_url), out)
    else:
        _emit(render_plan(plan, output_format), out)
    return ExitCode.OK


def _plan_for_text(path: Path, candidates: int | None) -> Plan:
    """The plan read as a stream, made of only what the text rendering shows (no body,
    geometry, footprint or digest; alternatives only for ``--candidates``): memory grows
    by a table row per resource, not by the file."""
    orders: list[OrderPlan] = []
    resources: list[ResourcePlan] = []
    view = View(geometry=False, alternatives=bool(candidates))
    for item in iter_plan(path, view=view):
        if isinstance(item, OrderPlan):
            orders.append(item)
        elif isinstance(item, ResourcePlan):
            resources.append(item)
        else:
            return item.model_copy(update={"orders": orders, "resources": resources})
    raise AssertionError("iter_plan ends with the plan")


def _emit_bytes(chunks: Iterable[bytes], out: Path | None) -> None:
    if out is None or str(out) == "-":
        sys.stdout.flush()
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    _emit(b"".join(chunks), out)


def _check_options(
    output_format: str,
    out: Path | None,
    map_url: str | None,
    quicklook_url: str | None,
    candidates: int | None,
) -> None:
    if map_url is not None and output_format != "markdown":
        raise ConfigError("--map-url only applies to --format markdown")
    if quicklook_url is not None and output_format != "markdown":
        raise ConfigError("--quicklook-url only applies to --format markdown")
    if candidates is not None and output_format != "text":
        raise ConfigError(
            "--candidates only applies to --format text (json, markdown and html always "
            "include the alternatives)"
        )
    if output_format == "png" and out is None:
        raise ConfigError(
            "--format png writes a binary image: give --out FILE (or --out - to pipe it)"
        )


def _emit(data: bytes | str, out: Path | None, *, colour: bool = False) -> None:
    """To stdout (never binary to a terminal) or atomically to the file ``out``."""
    if out is None or str(out) == "-":
        if isinstance(data, str):
            click.echo(data, nl=False, color=colour)
            return
        if sys.stdout.isatty():
            raise ConfigError("refusing to write a PNG image to a terminal: give --out FILE")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        _files.write_atomic(out, raw, mode=0o644)
    except OSError as error:
        raise ToolError(f"cannot write {out}: {error.strerror or error}") from None

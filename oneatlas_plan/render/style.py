"""Terminal colour: decided once at the edge (a TTY, no ``NO_COLOR``, no ``--no-color``)."""

from __future__ import annotations

from collections.abc import Mapping

import click

ACTION_COLOURS = {
    "create": "green",
    "reorder": "yellow",
    "blocked": "red",
    "forget": "magenta",
}


def use_colour(*, isatty: bool, environ: Mapping[str, str], no_color: bool) -> bool:
    """https://no-color.org: any non-empty NO_COLOR disables colour."""
    return isatty and not no_color and not environ.get("NO_COLOR")


def paint(text: str, action: str, enabled: bool) -> str:
    colour = ACTION_COLOURS.get(action)
    if not enabled or colour is None:
        return text
    return click.style(text, fg=colour)

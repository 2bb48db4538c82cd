"""The one markdown escaper of every markdown output (plan comment, diff): pure functions."""

from __future__ import annotations


def escape(text: str) -> str:
    """Safe inside a table cell or a list item: no pipe, no newline, no raw HTML, no markup."""
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("*", "\\*")
        .replace("_", "\\_")
        .replace("`", "\\`")
        .replace("[", "\\[")
        .replace("]", "\\]")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def code(text: str) -> str:
    """A code span, also safe in a table cell (GFM honours ``\\|`` inside code spans)."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\r", " ").replace(
        "\n", " "
    ) + "`"


def html(text: str) -> str:
    """Text inside raw HTML (``<summary>``, ``<code>``)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\r", " ")
        .replace("\n", " ")
    )

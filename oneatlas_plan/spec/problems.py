"""Located problems: ``path:line:col: dotted.path: message``, and pydantic errors made readable."""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from oneatlas_plan._yaml import Marks

Loc = tuple[str | int, ...]


MAX_MESSAGE = 1000  # characters of a problem's message shown


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Problem:
    """One finding in one file; ``path`` is the dotted location inside the document."""

    file: Path
    line: int
    column: int
    path: str
    message: str
    severity: Severity = Severity.ERROR

    @property
    def shown_message(self) -> str:
        message = self.message
        if len(message) > MAX_MESSAGE:  # e.g. a 2 MB value quoted back: keep it readable
            message = f"{message[: MAX_MESSAGE // 2]}…{message[-MAX_MESSAGE // 4 :]}"
        return message

    def render(self) -> str:
        tag = "" if self.severity is Severity.ERROR else f"{self.severity.value}: "
        where = f"{self.path}: " if self.path else ""
        return (
            f"{display_path(self.file)}:{self.line}:{self.column}: {tag}{where}"
            f"{self.shown_message}"
        )


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when it is under it, else absolute."""
    return _display_path(os.fspath(path), os.getcwd())


@lru_cache(maxsize=1024)  # called for every AOI and every finding rendered
def _display_path(path: str, cwd: str) -> str:
    absolute = os.path.join(cwd, path) if not os.path.isabs(path) else path
    absolute = os.path.normpath(absolute)
    if absolute.startswith("//") or cwd.startswith("//"):  # POSIX's other root: let pathlib judge
        try:
            return str(Path(absolute).relative_to(cwd))
        except ValueError:
            return absolute
    if absolute == cwd:
        return "."
    under = cwd if cwd.endswith(os.sep) else cwd + os.sep  # strings: called for every AOI
    return absolute[len(under) :] if absolute.startswith(under) else absolute


def dotted(loc: Sequence[str | int]) -> str:
    """("orders", 0, "search") → "orders[0].search"."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass
class Locator:
    """Maps a document path to a position; ``origins`` redirects merged-in values (defaults)."""

    file: Path
    marks: Marks
    origins: dict[Loc, Loc] = field(default_factory=dict)

    def resolve(self, loc: Loc) -> tuple[Loc, tuple[int, int]]:
        """The path to show (the defaults path for inherited values) and its position."""
        for size in range(len(loc), -1, -1):
            prefix = loc[:size]
            if prefix in self.origins:
                source = self.origins[prefix] + loc[size:]
                return source, self._mark(source)
            if prefix in self.marks:
                return loc, self.marks[prefix]
        return loc, (1, 1)

    def _mark(self, loc: Loc) -> tuple[int, int]:
        for size in range(len(loc), -1, -1):
            if loc[:size] in self.marks:
                return self.marks[loc[:size]]
        return 1, 1

    def problem(self, loc: Loc, message: str, severity: Severity = Severity.ERROR) -> Problem:
        shown, (line, column) = self.resolve(loc)
        return Problem(self.file, line, column, dotted(shown), message, severity)

    def at_file(self, message: str, line: int = 1, column: int = 1) -> Problem:
        return Problem(self.file, line, column, "", message)


# ---------------------------------------------------------------------------- pydantic errors


def describe(value: Any) -> str:
    """A short rendering of a YAML value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, float):
        return f"{value:g}"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


_EXPECTED = {
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "decimal_type": "expected a number",
    "decimal_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "date_type": "expected a date (YYYY-MM-DD)",
    "date_parsing": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "expected a date (YYYY-MM-DD) without a time",
}


def translate(error: ErrorDetails, root: type[BaseModel]) -> tuple[Loc, str]:
    """A pydantic error → (loc, message) in the spec's words."""
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return loc, "required"
    if kind == "extra_forbidden":
        return loc, _unknown_key(root, loc)
    if kind in _EXPECTED:
        return loc, f"{_EXPECTED[kind]} (got {describe(value)})"
    if kind == "literal_error":
        return loc, _literal(str(ctx.get("expected", "")), value)
    if kind in ("too_short", "too_long"):
        return loc, _length(kind, ctx, value)
    if kind == "string_pattern_mismatch":
        return loc, f"does not match {ctx.get('pattern')} (got {describe(value)})"
    if kind in ("value_error", "assertion_error"):
        return loc, str(error["msg"]).removeprefix("Value error, ").removeprefix(
            "Assertion failed, "
        )
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return loc, _bound(kind, ctx, value)
    return loc, f"{error['msg']} (got {describe(value)})"


def _literal(expected: str, value: Any) -> str:
    choices = re.findall(r"'([^']*)'", expected) or [expected]
    message = f"must be {'one of ' if len(choices) > 1 else ''}{expected} (got {describe(value)})"
    if isinstance(value, str):
        close = difflib.get_close_matches(value, choices, n=1) or [
            c for c in choices if c.lower() == value.lower()
        ]
        if close:
            message += f"; did you mean {close[0]!r}?"
    return message


def _length(kind: str, ctx: dict[str, Any], value: Any) -> str:
    if kind == "too_short":
        bound = ctx.get("min_length")
        what = "character" if isinstance(value, str) else "item"
        if bound == 1 and isinstance(value, str):
            return "must not be empty"
        return f"must have at least {bound} {what}{'s' if bound != 1 else ''}"
    bound = ctx.get("max_length")
    return f"must have at most {bound} item{'s' if bound != 1 else ''}"


def _bound(kind: str, ctx: dict[str, Any], value: Any) -> str:
    words = {
        "greater_than": ("gt", "greater than"),
        "greater_than_equal": ("ge", "at least"),
        "less_than": ("lt", "less than"),
        "less_than_equal": ("le", "at most"),
    }
    key, text = words[kind]
    return f"must be {text} {ctx.get(key)} (got {describe(value)})"


def _unknown_key(root: type[BaseModel], loc: Loc) -> str:
    key = str(loc[-1])
    allowed = allowed_keys(root, loc[:-1])
    message = f"unknown key {key!r}"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    if allowed:
        return f"{message} (allowed: {', '.join(allowed)})"
    return message


def allowed_keys(root: type[BaseModel], loc: Iterable[str | int]) -> list[str]:
    """The keys of the model found by walking ``loc`` from ``root`` (empty when not a model)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field_info = _field_by_key(model, part)
        model = _model_in(field_info.annotation) if field_info is not None else None
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _field_by_key(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_in(typing.get_args(annotation)[0])
    if origin in (list, typing.Union, types.UnionType):
        for argument in typing.get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None

"""A tiny Lucene-like query language for ``POST /api/v2/orders/search`` ``criteria.q``.

Grammar: ``expr := term (("AND" | "OR") term)*`` (AND binds tighter), ``term := "NOT"? (
"(" expr ")" | field ":" value)``; values may be quoted and use ``*`` / ``?`` wildcards.
Fields are orderLine keys, dotted paths into them, or the aliases ``cis.quotation`` (quotationId),
``cis.salesOrder`` (salesOrderId) and ``technicalProduct.source.id`` (source).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

ALIASES = {
    "cis.quotation": "quotationId",
    "cis.salesOrder": "salesOrderId",
    "technicalProduct.source.id": "source",
    "technicalProduct.id": "productType",
}
_TOKEN = re.compile(r'\s*(\(|\)|"[^"]*"|[^\s()]+)')

Predicate = Callable[[dict[str, Any]], bool]


class QueryError(ValueError):
    pass


def compile_query(text: str | None) -> Predicate:
    if not text or not text.strip():
        return lambda _line: True
    tokens = _tokenize(text)
    pred, rest = _or(tokens)
    if rest:
        raise QueryError(f"Unexpected token '{rest[0]}' in query")
    return pred


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise QueryError(f"Cannot parse query near '{text[pos:]}'")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _or(tokens: list[str]) -> tuple[Predicate, list[str]]:
    left, rest = _and(tokens)
    while rest and rest[0] == "OR":
        right, rest = _and(rest[1:])
        left = (lambda a, b: lambda line: a(line) or b(line))(left, right)
    return left, rest


def _and(tokens: list[str]) -> tuple[Predicate, list[str]]:
    left, rest = _term(tokens)
    while rest and rest[0] not in ("OR", ")"):
        if rest[0] == "AND":
            rest = rest[1:]
        right, rest = _term(rest)
        left = (lambda a, b: lambda line: a(line) and b(line))(left, right)
    return left, rest


def _term(tokens: list[str]) -> tuple[Predicate, list[str]]:
    if not tokens:
        raise QueryError("Unexpected end of query")
    head, rest = tokens[0], tokens[1:]
    if head == "NOT":
        inner, rest = _term(rest)
        return (lambda line: not inner(line)), rest
    if head == "(":
        inner, rest = _or(rest)
        if not rest or rest[0] != ")":
            raise QueryError("Missing ')' in query")
        return inner, rest[1:]
    field, sep, value = head.partition(":")
    if not sep or not field:
        raise QueryError(f"Expected field:value, got '{head}'")
    if value == "" and rest and rest[0].startswith('"'):
        value, rest = rest[0], rest[1:]
    pattern = value.strip('"')
    path = ALIASES.get(field, field)
    return (lambda line: _match(_lookup(line, path), pattern)), rest


def _lookup(line: dict[str, Any], path: str) -> Any:
    if path in line:
        return line[path]
    value: Any = line
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _match(value: Any, pattern: str) -> bool:
    if value is None:
        return pattern == "*"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return fnmatchcase(text, pattern)

"""The canonical pretty JSON (state files, JSON output): byte for byte what the json module
writes with ``indent=2, sort_keys=True, ensure_ascii=False``, which every earlier state file
was written with."""

from __future__ import annotations

import json
from collections import OrderedDict
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from oneatlas_plan import _canonical


def reference(value: Any) -> str:
    return (
        json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=_canonical._default)
        + "\n"
    )


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False)
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(values)
def test_dumps_is_the_json_module_layout(value: Any) -> None:
    assert _canonical.dumps(value) == reference(value)


def test_dumps_of_a_state_like_document() -> None:
    document = {
        "version": 4,
        "lineage": "l",
        "serial": 3,
        "resources": {
            "s.o.b": {"orders": [{"amount": Decimal("250.00"), "scenes": [], "digests": {}}]},
            "s.o.a": {"orders": [], "status": "pending", "message": "Pléiades \"neo\"\n"},
        },
        "retired": [],
    }
    text = _canonical.dumps(document)
    assert text == reference(document)
    assert text.index('"s.o.a"') < text.index('"s.o.b"')
    assert '"amount": "250.00"' in text


def test_values_the_walk_leaves_to_the_json_module_are_written_alike() -> None:
    odd: list[Any] = [
        {1: "int key", 2: "sorted"},  # json turns the keys into strings
        OrderedDict(b=1, a=2),  # a dict subclass
        (1, (2, {"k": ()})),  # tuples are arrays
        {"x": [float("nan"), float("inf"), -0.0, 10**20, True]},
    ]
    for value in odd:
        assert _canonical.dumps(value) == reference(value)


def test_dumps_refuses_what_json_cannot_write() -> None:
    try:
        _canonical.dumps({"a": object()})
    except TypeError as error:
        assert "not JSON serialisable: object" in str(error)
    else:
        raise AssertionError("an object() was written")

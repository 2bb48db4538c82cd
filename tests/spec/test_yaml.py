from __future__ import annotations

import datetime

import pytest

from oneatlas_plan._yaml import MAX_DEPTH, YamlError, dump, load_with_marks


def test_marks_are_one_based_key_positions() -> None:
    data, marks = load_with_marks("orders:\n  - search:\n      cloud_cover: {max: 150}\n")
    assert data == {"orders": [{"search": {"cloud_cover": {"max": 150}}}]}
    assert marks[("orders",)] == (1, 1)
    assert marks[("orders", 0)] == (2, 5)
    assert marks[("orders", 0, "search", "cloud_cover")] == (3, 7)
    assert marks[("orders", 0, "search", "cloud_cover", "max")] == (3, 21)


def test_scalars_are_typed_and_keys_stay_strings() -> None:
    data, _ = load_with_marks("on: 2022-01-31\n1: yes\nnull: ~\nx: 1.5\n")
    assert data == {"on": datetime.date(2022, 1, 31), "1": True, "null": None, "x": 1.5}


def test_merge_keys_and_overrides() -> None:
    text = "base: &b {a: 1, b: 2}\nchild:\n  <<: *b\n  b: 3\n"
    data, marks = load_with_marks(text)
    assert data["child"] == {"a": 1, "b": 3}
    assert marks[("child", "b")] == (4, 3)
    assert marks[("child", "a")] == (1, 11)  # inherited: points at the anchor


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_empty_documents(text: str) -> None:
    assert load_with_marks(text) == (None, {})


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("a: [1, 2\n", "invalid YAML: while parsing a flow sequence", (2, 1)),
        ("a: 1\na: 2\n", "duplicate key 'a'", (2, 1)),
        ("a: &x [*x]\n", "recursive alias (an anchor used inside itself)", (1, 4)),
        ("a: !custom 1\n", "invalid YAML: could not determine a constructor", (1, 4)),
        ("? [1]\n: 2\n", "mapping keys must be plain scalars", (1, 3)),
        ("a: 1\n---\nb: 2\n", "expected a single YAML document", (2, 1)),
        ("d: 2021-02-29\n", "invalid date '2021-02-29'", (1, 4)),
        ("a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nesting deeper than 64", (1, 67)),
    ],
)
def test_refusals(text: str, message: str, position: tuple[int, int]) -> None:
    with pytest.raises(YamlError) as caught:
        load_with_marks(text)
    assert caught.value.message.startswith(message)
    assert (caught.value.line, caught.value.column) == position


def test_alias_bomb_is_refused_before_expansion() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for index in range(1, 9):
        previous, name = chr(96 + index), chr(97 + index)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 10)}]")
    with pytest.raises(YamlError, match="alias bomb"):
        load_with_marks("\n".join(lines))


def test_deep_nesting_does_not_crash_libyaml() -> None:
    with pytest.raises(YamlError, match="nesting deeper"):
        load_with_marks("[" * 200_000)


def test_small_aliases_are_fine() -> None:
    data, _ = load_with_marks("a: &a [1, 2]\nb: *a\nc: *a\n")
    assert data == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}


def test_dump_is_deterministic() -> None:
    data = {"b": [1, {"z": 1, "a": "é"}], "a": None}
    assert dump(data) == "a: null\nb:\n- 1\n- a: é\n  z: 1\n"
    assert load_with_marks(dump(data))[0] == data

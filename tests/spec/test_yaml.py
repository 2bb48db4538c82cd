from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest

from oneatlas_plan._yaml import MAX_DEPTH, YamlError, dump, load_with_marks
from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode


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


@pytest.mark.parametrize("opener", ["[", "{a: "])
def test_deep_nesting_does_not_crash_libyaml(opener: str) -> None:
    # Whether our own depth bound or libyaml's fires first (and how PyYAML words it) is
    # not the point: the loader must answer with a located YamlError, never crash.
    with pytest.raises(YamlError) as caught:
        load_with_marks(opener * 200_000)
    assert caught.value.line == 1
    assert 1 <= caught.value.column <= len(opener) * 200_000
    assert str(caught.value).startswith(f"1:{caught.value.column}: ")


def test_deep_nesting_in_a_spec_is_a_located_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "deep.yaml"
    spec.write_text("orders:\n  - aois: " + "[" * 200_000 + "\n")
    assert run(["validate", str(spec)]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(rf"^{re.escape(str(spec))}:2:\d+: ", err, re.MULTILINE), err


def test_small_aliases_are_fine() -> None:
    data, _ = load_with_marks("a: &a [1, 2]\nb: *a\nc: *a\n")
    assert data == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}


def test_dump_is_deterministic() -> None:
    data = {"b": [1, {"z": 1, "a": "é"}], "a": None}
    assert dump(data) == "a: null\nb:\n- 1\n- a: é\n  z: 1\n"
    assert load_with_marks(dump(data))[0] == data

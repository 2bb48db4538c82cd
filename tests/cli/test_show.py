from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.planfile import read_plan

DATA = Path(__file__).resolve().parents[1] / "render" / "data"
SHIPPED = DATA / "shipped" / "plan.json"


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    target = tmp_path / "plan.json"
    shutil.copy(SHIPPED, target)
    return target


@pytest.mark.parametrize(
    ("output_format", "golden"),
    [("text", "plan.txt"), ("markdown", "plan.md"), ("geojson", "plan.geojson")],
)
def test_formats_print_the_renderers_output(
    plan_file: Path, output_format: str, golden: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert run(["show", str(plan_file), "--format", output_format]) == ExitCode.OK
    out = capsysbinary.readouterr().out.decode("utf-8")
    assert out == (DATA / "shipped" / golden).read_text(encoding="utf-8")


def test_json_round_trips(
    plan_file: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert run(["show", str(plan_file), "--format", "json"]) == ExitCode.OK
    copy = tmp_path / "copy.json"
    copy.write_bytes(capsysbinary.readouterr().out)
    assert read_plan(copy) == read_plan(plan_file)
    assert copy.read_bytes() == plan_file.read_bytes()


def test_expanded_json_writes_bodies_and_scenes_in_full_and_is_still_a_plan(
    plan_file: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert run(["show", str(plan_file), "--format", "json", "--expanded"]) == ExitCode.OK
    text = capsysbinary.readouterr().out
    data = json.loads(text)
    assert "common" not in data and "catalogue" not in data
    compact = json.loads(plan_file.read_bytes())
    assert compact.get("common") or compact.get("catalogue")  # the shipped plan shares parts
    assert "$part" not in text.decode() and "$scene" not in text.decode()
    for order in data["orders"]:
        assert order["body"]["contractId"]  # written out, not a reference
    for resource in data["resources"]:
        for scene in resource.get("scenes", []):
            assert scene["footprint"]["type"] in ("Polygon", "MultiPolygon")
    expanded = tmp_path / "expanded.json"
    expanded.write_bytes(text)
    assert read_plan(expanded) == read_plan(plan_file)  # same checksum: the same plan


def test_expanded_is_refused_outside_json(plan_file: Path) -> None:
    assert run(["show", str(plan_file), "--expanded"]) == ExitCode.ERROR  # like --map-url


def test_markdown_with_map_url_to_a_file(plan_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "comment.md"
    code = run(
        [
            "show",
            str(plan_file),
            "--format",
            "markdown",
            "--map-url",
            "https://x.invalid/m.png",
            "--out",
            str(out),
        ]
    )
    assert code == ExitCode.OK
    assert "![Map of the areas of interest and the chosen scenes](https://x.invalid/m.png)" in (
        out.read_text(encoding="utf-8")
    )


def test_png_to_a_file(plan_file: Path, tmp_path: Path) -> None:
    import matplotlib.image

    out = tmp_path / "map.png"
    assert run(["show", str(plan_file), "--format", "png", "--out", str(out)]) == ExitCode.OK
    assert matplotlib.image.imread(io.BytesIO(out.read_bytes()), format="png").shape[:2] == (
        800,
        1200,
    )


def test_png_needs_out(plan_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["show", str(plan_file), "--format", "png"]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "give --out FILE" in err and "Traceback" not in err


def test_png_refused_on_a_terminal(
    plan_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Terminal(io.TextIOWrapper):
        def isatty(self) -> bool:
            return True

    raw = io.BytesIO()
    monkeypatch.setattr("sys.stdout", Terminal(raw, encoding="utf-8"))
    assert run(["show", str(plan_file), "--format", "png", "--out", "-"]) == ExitCode.ERROR
    assert "refusing to write a PNG image to a terminal" in capsys.readouterr().err
    assert raw.getvalue() == b""


def test_png_to_a_pipe(plan_file: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert run(["show", str(plan_file), "--format", "png", "--out", "-"]) == ExitCode.OK
    assert capsysbinary.readouterr().out.startswith(b"\x89PNG")


def test_map_url_only_with_markdown(plan_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["show", str(plan_file), "--map-url", "https://x"]) == ExitCode.ERROR
    assert "--map-url only applies to --format markdown" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such plan file"),
        (b"{not json", "invalid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b'{"format_version": 99}', "unsupported plan format_version 99"),
        (b'{"format_version": 2}', "not a valid plan file"),
    ],
)
def test_bad_plan_files_are_clear_errors(
    tmp_path: Path, content: bytes | None, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_bytes(content)
    assert run(["show", str(path)]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_tampered_plan_is_refused(plan_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    data["totals"] = {"EUR": "1.00"}
    plan_file.write_text(json.dumps(data), encoding="utf-8")
    assert run(["show", str(plan_file)]) == ExitCode.ERROR
    assert "checksum mismatch" in capsys.readouterr().err


def test_unwritable_out_is_a_clear_error(
    plan_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing-dir" / "map.png"
    assert run(["show", str(plan_file), "--format", "png", "--out", str(out)]) == ExitCode.ERROR
    assert f"cannot write {out}" in capsys.readouterr().err


def test_candidates_lists_alternatives_under_each_resource(
    plan_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["show", str(plan_file), "--candidates", "2"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.count("ranked by cloud_cover") == 5  # 2 + 2 + 1 (xinjiang has one)
    assert "alternatives (why not chosen):" in out
    assert run(["show", str(plan_file), "--candidates"]) == ExitCode.OK
    assert capsys.readouterr().out.count("ranked by cloud_cover") == 7  # default 3


def test_candidates_refused_outside_text(
    plan_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["show", str(plan_file), "--format", "markdown", "--candidates"]) == 1
    assert "--candidates only applies to --format text" in capsys.readouterr().err


def _show_on_a_tty(plan_file: Path, *extra: str, env: dict[str, str] | None = None) -> bytes:
    """Run `show` as a subprocess whose stdout is a real pseudo-terminal."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | (env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "oneatlas_plan", "show", str(plan_file), *extra],
        stdout=slave,
        stderr=subprocess.PIPE,
        env=environ,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return b"".join(chunks)


def test_colour_on_a_tty_none_with_no_color_or_the_flag(plan_file: Path) -> None:
    green = b"\x1b[32m"
    assert green in _show_on_a_tty(plan_file)
    assert b"\x1b[" not in _show_on_a_tty(plan_file, env={"NO_COLOR": "1"})
    assert b"\x1b[" not in _show_on_a_tty(plan_file, "--no-color")


def test_no_colour_through_a_pipe(
    plan_file: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert run(["show", str(plan_file)]) == ExitCode.OK
    assert b"\x1b[" not in capsysbinary.readouterr().out


def test_html_report_to_a_file(plan_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.html"
    assert run(["show", str(plan_file), "--format", "html", "--out", str(out)]) == ExitCode.OK
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "tanzania-spot.malagarasi.malagarasi-west" in page

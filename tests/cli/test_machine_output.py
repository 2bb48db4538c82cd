"""--format json of apply, refresh, download, validate and state list: one document on stdout,
valid against the committed schema, nothing else on stdout."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from oneatlas_plan import _schemas
from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from tests.conftest import World

TOULOUSE = "specs/toulouse-pleiades.yaml"


@cache
def validator(command: str) -> jsonschema.Draft202012Validator:
    path = _schemas.SCHEMA_DIR / f"{command}-output.schema.json"
    return jsonschema.Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def document(command: str, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    """The JSON on stdout (which must hold nothing else), validated, and stderr."""
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(command).iter_errors(data)]
    assert errors == [], errors
    return data, captured.err


def test_apply_refresh_download_state_list(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("apply", TOULOUSE, "--auto-approve", "--format", "json") == ExitCode.OK
    applied, err = document("apply", capsys)
    assert "toulouse.city-centre.polygon-1" in err, "the plan is shown on stderr"
    assert applied["ok"] is True and applied["interrupted"] is False
    assert applied["submitted"] == applied["planned"] == len(applied["orders"]) >= 1
    assert applied["not_submitted"] == 0
    assert applied["counts"]["ordered"] == len(applied["orders"])
    assert set(applied["counts"]) == {
        "ordered", "quoted", "accepted", "rejected", "unknown", "skipped"
    }  # fmt: skip
    [order] = applied["orders"][:1]
    assert order["status"] == "ordered" and order["order_id"]
    assert applied["spent"] == {order["currency"]: order["amount"]}

    assert world.cli("refresh", "--format", "json") == ExitCode.OK
    refreshed, _ = document("refresh", capsys)
    assert [o["order_id"] for o in refreshed["orders"]] == [order["order_id"]]
    assert refreshed["orders"][0]["status"] == "delivered"
    assert refreshed["changed"] == 1

    assert world.cli("download", "--dest", "out", "--format", "json") == ExitCode.OK
    downloaded, _ = document("download", capsys)
    assert downloaded["ok"] is True
    assert downloaded["counts"] == {"downloaded": 1, "skipped": 0, "failed": 0}
    [file] = downloaded["files"]
    assert Path(file["path"]).is_file() and Path(file["path"]).stat().st_size == file["size"]
    assert world.cli("download", "--dest", "out", "--format", "json") == ExitCode.OK
    again, _ = document("download", capsys)
    assert again["counts"] == {"downloaded": 0, "skipped": 1, "failed": 0}

    assert run(["state", "list", "--format", "json"]) == ExitCode.OK
    listed, _ = document("state-list", capsys)
    assert listed["spent"] == applied["spent"]
    assert listed["arrived"]["downloaded_files"] == 1


def test_apply_json_of_an_unknown_outcome(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    capsys.readouterr()
    world.faults(drop_next_orders=1)  # Airbus commits the first order, the answer is lost
    assert world.cli("apply", "plan.json", "--format", "json") == ExitCode.ERROR
    applied, err = document("apply", capsys)
    assert applied["ok"] is False and applied["stopped"] is None
    assert applied["counts"]["unknown"] == 1
    [unknown] = [o for o in applied["orders"] if o["status"] == "unknown"]
    assert unknown["message"] and unknown["order_id"] is None
    assert applied["submitted"] == applied["planned"] and applied["not_submitted"] == 0
    placed = [o for o in applied["orders"] if o["status"] in ("ordered", "accepted")]
    assert sum(float(o["amount"]) for o in placed) == pytest.approx(
        sum(float(v) for v in applied["spent"].values())
    ), "the unknown order is not counted as spent"
    assert "Endpoint:" in err and "Endpoint:" not in json.dumps(applied)


def test_a_refused_apply_prints_no_json(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert world.cli("plan", "specs", "--out", "plan.json") == ExitCode.OK
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    capsys.readouterr()
    assert world.cli("apply", "plan.json", "--format", "json") == ExitCode.ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "stale" in captured.err


def test_validate_json_locates_every_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("specs").mkdir()
    Path("specs/bad.yaml").write_text("version: 1\nname: bad\norders:\n  - name: x\n    aois: 3\n")
    assert run(["validate", "--format", "json"]) == ExitCode.ERROR
    report, err = document("validate", capsys)
    assert err == ""
    assert report["ok"] is False and report["files"] == ["specs/bad.yaml"]
    assert report["counts"]["error"] == len(
        [f for f in report["findings"] if f["severity"] == "error"]
    )
    first = report["findings"][0]
    assert first["file"] == "specs/bad.yaml" and first["line"] >= 1 and first["message"]


def test_validate_json_of_the_shipped_specs_is_ok(capsys: pytest.CaptureFixture[str]) -> None:
    specs = Path(__file__).resolve().parents[2] / "specs"
    assert run(["validate", str(specs), "--format", "json"]) == ExitCode.OK
    report, _ = document("validate", capsys)
    assert report["ok"] is True and report["counts"]["error"] == 0
    assert len(report["files"]) == len(list(specs.glob("*.yaml")))


def test_nothing_to_do_is_still_a_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ONEATLAS_STATE", raising=False)
    endpoint = ["--endpoint", "http://127.0.0.1:9"]  # never contacted: nothing to do
    assert run(["refresh", "--format", "json", *endpoint]) == ExitCode.OK
    assert document("refresh", capsys)[0] == {"format_version": 1, "orders": [], "changed": 0}
    assert run(["download", "--format", "json", *endpoint]) == ExitCode.OK
    assert document("download", capsys)[0]["files"] == []
    assert run(["state", "list", "--format", "json"]) == ExitCode.OK
    assert document("state-list", capsys)[0]["orders"] == []

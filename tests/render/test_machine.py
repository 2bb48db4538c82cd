"""The --format json converters (pure): results -> documents valid against schemas/."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import jsonschema

from oneatlas_plan import _schemas
from oneatlas_plan.applying.apply import ApplyResult, OrderOutcome
from oneatlas_plan.applying.download import DownloadResult, DownloadTask, FileResult
from oneatlas_plan.render.machine import apply_output, download_output


def check(command: str, data: dict[str, object]) -> None:
    path = _schemas.SCHEMA_DIR / f"{command}-output.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)


def test_apply_counts_what_was_never_submitted_and_repeats_the_flags_in_hints() -> None:
    result = ApplyResult(
        outcomes=[
            OrderOutcome("k1", ["s.o.a"], "ordered", order_id="SO-1", amount=Decimal("10.50"),
                         currency="EUR"),
            OrderOutcome("k2", ["s.o.b", "s.o.c"], "accepted", order_id="SO-2",
                         amount=Decimal("5"), currency="EUR"),
            OrderOutcome("k3", ["s.p.d"], "rejected", message="rejected: run `oneatlas-plan plan`",
                         amount=Decimal("7"), currency="USD"),
        ],
        forgotten=["s.gone.x"],
        stopped="stopped at the first rejection (--fail-fast)",
        planned=5,
    )  # fmt: skip
    data = json.loads(apply_output(result, endpoint="sandbox", flags=" --sandbox").to_json())
    check("apply", data)
    assert data["submitted"] == 3 and data["not_submitted"] == 2
    assert data["spent"] == {"EUR": "15.50"}
    assert data["counts"] == {
        "ordered": 1, "quoted": 0, "accepted": 1, "rejected": 1, "unknown": 0, "skipped": 0
    }  # fmt: skip
    assert data["orders"][2]["message"] == "rejected: run `oneatlas-plan plan --sandbox`"
    assert data["ok"] is False and data["forgotten"] == ["s.gone.x"]


def test_download_paths_are_strings_and_failures_are_not_ok(tmp_path: Path) -> None:
    task = DownloadTask(("s.o.a",), "k1", "item-1", "http://x/1", tmp_path / "a.zip")
    result = DownloadResult(
        files=[FileResult(task, "failed", message="checksum mismatch")],
        waiting=["s.o.b"],
    )
    data = json.loads(download_output(result).to_json())
    check("download", data)
    assert data["ok"] is False
    assert data["files"][0]["path"] == str(tmp_path / "a.zip")
    assert data["counts"] == {"downloaded": 0, "skipped": 0, "failed": 1}

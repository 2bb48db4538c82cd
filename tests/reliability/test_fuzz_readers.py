"""Property-based fuzzing of the spec loader and the plan/state readers: whatever the bytes,
they answer with located problems or a ToolError — never another exception."""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oneatlas_plan import _yaml
from oneatlas_plan.errors import ToolError
from oneatlas_plan.planning.planfile import read_plan
from oneatlas_plan.spec.loader import load
from oneatlas_plan.state.store import StateStore
from tests.reliability.conftest import ROOT

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
pytestmark = pytest.mark.timeout(120)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)
VALID_SPEC: dict[str, Any] = _yaml.load_with_marks(
    (ROOT / "specs/toulouse-pleiades.yaml").read_text(encoding="utf-8")
)[0]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(value, default=str))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return copy


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with one to three values (anywhere) replaced by arbitrary JSON."""
    value = base
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(value)))
        value = _replace(value, path, draw(json_values))
    return value


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def _check_spec(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp), "fuzz.yaml", data)
        result = load([path], today=date(2026, 11, 23))
        for problem in result.problems:
            assert problem.line >= 1 and problem.column >= 1
            assert problem.render().startswith(str(path)) or "fuzz.yaml" in problem.render()


@FUZZ
@given(st.binary(max_size=400))
def test_spec_loader_survives_any_bytes(data: bytes) -> None:
    _check_spec(data)


@FUZZ
@given(
    st.text(alphabet=st.sampled_from(list("ab:-[]{},&*!|>'\"#%@`\n\t ?0123456789.")), max_size=200)
)
def test_spec_loader_survives_yaml_like_text(text: str) -> None:
    _check_spec(text.encode())


@FUZZ
@given(mutated(VALID_SPEC))
def test_spec_loader_survives_mutated_specs(spec: Any) -> None:
    _check_spec(json.dumps(spec, default=str).encode())  # JSON is YAML


def _base_plan() -> dict[str, Any]:
    return {
        "format_version": 2,
        "endpoint": "sandbox",
        "contracts": [],
        "spec_files": {"s.yaml": "0" * 64},
        "state": {"lineage": None, "serial": 0},
        "resources": [],
        "orders": [],
        "totals": {"EUR": "0"},
        "budgets": [],
        "checksum": "sha256:" + "0" * 64,
        "meta": {"created_at": "x", "tool_version": "t", "host": "h"},
    }


def _check_plan(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp), "plan.json", data)
        try:
            read_plan(path)
        except ToolError as error:
            assert str(path) in str(error)


@FUZZ
@given(st.binary(max_size=300))
def test_plan_reader_survives_any_bytes(data: bytes) -> None:
    _check_plan(data)


@FUZZ
@given(mutated(_base_plan()))
def test_plan_reader_survives_mutated_plans(plan: Any) -> None:
    _check_plan(json.dumps(plan).encode())


def _base_state() -> dict[str, Any]:
    order = {
        "order_key": "oap-1",
        "customer_reference": "c~oap-1",
        "body_digest": "0" * 64,
        "status": "ordered",
        "amount": "10.00",
        "currency": "EUR",
    }
    record = {"address": "s.o.a", "config_digest": "d", "orders": [order]}
    return {
        "version": 2,
        "lineage": "0f6f5d4e-3c2b-4a19-8877-665544332211",
        "serial": 1,
        "resources": {"s.o.a": record},
    }


def _check_state(data: bytes, journal: bytes | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp), "state.json", data)
        if journal is not None:
            _write(Path(tmp), "state.json.journal", journal)
        try:
            StateStore(path).load()
        except ToolError as error:
            assert "state.json" in str(error)


@FUZZ
@given(st.binary(max_size=300))
def test_state_reader_survives_any_bytes(data: bytes) -> None:
    _check_state(data)


@FUZZ
@given(mutated(_base_state()))
def test_state_reader_survives_mutated_states(state: Any) -> None:
    _check_state(json.dumps(state).encode())


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=60),
            mutated(
                {
                    "lineage": "0f6f5d4e-3c2b-4a19-8877-665544332211",
                    "serial": 2,
                    "op": "put",
                    "address": "s.o.a",
                    "record": _base_state()["resources"]["s.o.a"],
                }
            ).map(lambda v: json.dumps(v).encode()),
        ),
        max_size=4,
    )
)
def test_state_reader_survives_any_journal(lines: list[bytes]) -> None:
    _check_state(json.dumps(_base_state()).encode(), b"\n".join(lines))

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.model import Plan, PriceSummary
from oneatlas_plan.planning.planfile import read_plan, write_plan
from oneatlas_plan.state.model import OrderRecord, ResourceRecord, SceneRef, State

SHIPPED = Path(__file__).resolve().parents[1] / "render" / "data" / "shipped" / "plan.json"


def dearer(plan: Plan) -> Plan:
    """The first order 10 EUR dearer, the last resource dropped."""
    first = plan.orders[0]
    assert first.price is not None
    price = PriceSummary(**{**first.price.model_dump(), "amount": first.price.amount + 10})
    orders = [first.model_copy(update={"price": price}), *plan.orders[1:-1]]
    totals = {"EUR": sum((o.price.amount for o in orders if o.price), Decimal(0))}
    update = {"orders": orders, "resources": plan.resources[:-1], "totals": totals}
    return plan.model_copy(update=update).sealed()


@pytest.fixture
def plans(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    plan = read_plan(SHIPPED)
    write_plan(plan, old)
    write_plan(dearer(plan), new)
    return old, new


def test_two_plans(plans: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["diff", *map(str, plans)]) == ExitCode.OK
    out = capsys.readouterr().out
    first, last = read_plan(plans[0]).orders[0], read_plan(plans[0]).resources[-1]
    assert f"  - {last.address}: removed" in out
    assert f"  ~ {first.addresses[0]}\n      price: EUR 404.93 -> EUR 414.93" in out
    assert "spend -EUR 969.72" in out


def test_json_and_markdown(plans: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["diff", *map(str, plans), "--format", "json"]) == ExitCode.OK
    data = json.loads(capsys.readouterr().out)
    assert data["spend"]["EUR"]["delta"] == "-969.72"
    assert run(["diff", *map(str, plans), "--format", "markdown"]) == ExitCode.OK
    assert capsys.readouterr().out.startswith("### Plan changes\n")


def test_same_plan_no_change(plans: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["diff", str(plans[0]), str(plans[0])]) == ExitCode.OK
    assert capsys.readouterr().out == "Plan changes:\n  no change\n"


def write_state(path: Path, plan: Plan) -> None:
    """A state where the plan's first order was placed, at a lower price, for another scene."""
    order = plan.orders[0]
    assert order.price is not None
    record = ResourceRecord(
        address=order.addresses[0],
        config_digest="sha256:" + "1" * 64,
        spec_file=order.spec_file,
        orders=[
            OrderRecord(
                order_key="oap-older",
                customer_reference="older",
                body_digest="2" * 64,
                status="ordered",
                amount=Decimal("300.00"),
                currency="EUR",
                scenes=[SceneRef(id="x", archive_identifier="DS_OLDER")],
            )
        ],
    )
    state = State(
        lineage="3f0e5f5c-1d7e-4a57-9a0e-8a3b0c3e9d11",
        serial=1,
        resources={record.address: record},
    )
    path.write_text(state.to_json(), encoding="utf-8")


def test_state_as_old(
    plans: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = read_plan(plans[0])
    state_path = tmp_path / "oneatlas-state.json"
    write_state(state_path, plan)
    assert run(["diff", str(state_path), str(plans[0])]) == ExitCode.OK
    out = capsys.readouterr().out
    address = plan.orders[0].addresses[0]
    assert out.startswith("Changes from the state:\n")
    assert f"  ~ {address}\n      status: ordered -> create\n" in out
    assert "      price: EUR 300.00 -> EUR 404.93" in out
    assert f"  + {plan.resources[1].address}: added" in out
    # the state already spent EUR 300.00: the spend line counts it
    assert (
        "spend +EUR 1,634.65 (EUR 300.00 -> EUR 1,934.65 including what the state already "
        "spent)" in out
    )


def test_state_as_new_is_refused(
    plans: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_path = tmp_path / "state.json"
    write_state(state_path, read_plan(plans[0]))
    assert run(["diff", str(plans[0]), str(state_path)]) == ExitCode.ERROR
    assert "NEW must be a plan file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such plan file"),
        (b"[]", "expected a JSON object"),
        (b'{"lineage": "x", "resources": {}}', "not a state file"),
        (b'{"hello": 1}', "unsupported plan format_version None"),
    ],
)
def test_bad_old_is_a_clear_error(
    plans: tuple[Path, Path],
    tmp_path: Path,
    content: bytes | None,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = tmp_path / "bad.json"
    if content is not None:
        old.write_bytes(content)
    assert run(["diff", str(old), str(plans[1])]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_diff_names_what_an_edited_spec_file_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "render"))
    from test_plan_diff import new_plan, old_plan

    from oneatlas_plan.planning.planfile import write_plan

    write_plan(old_plan(), tmp_path / "old.json")
    write_plan(new_plan(), tmp_path / "new.json")
    assert run(["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "  ~ spec file specs/a.yaml changed: added a.x.new; removed a.x.gone; changed " in out
    assert "a.x.price (price)" in out and "-> changed" not in out

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.model import Alternative, Plan, PriceSummary
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


def _plan_pair(tmp_path: Path) -> tuple[Path, Path]:
    """Two 60-resource plans sharing scenes and body parts, NEW with every kind of change:
    a scene, a price, options, an action, a resource gone and one added, the catalogue's
    facts of a scene that unchanged resources mention, a spec file."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "render"))
    from plan_factory import make_plan, order, resource, scene

    def pair(drift: bool) -> Plan:
        pool = [scene(f"S{i}", 1.0 + i / 10, 43.0, cloud=1.5 + i) for i in range(6)]
        if drift:  # catalogue facts of S4 re-measured: its mentions' text is unchanged
            pool[4] = pool[4].model_copy(update={"cloud_cover": 9.25})
        resources, orders = [], []
        for i in range(60):
            if drift and i == 20:
                continue
            address, key = f"spec-{i // 25}.o.aoi-{i:03d}", f"oap-{i:012d}"
            chosen = [pool[i % 6]] if not (drift and i == 3) else [pool[(i + 1) % 6]]
            alternatives = [
                Alternative(**pool[(i + 2) % 6].model_dump(), why="ranked lower"),
            ]
            action = "blocked" if drift and i == 30 else "create"
            resources.append(resource(address, action, lon=i / 50, scenes=chosen,
                                      order_key=key, spec_file=f"specs/s{i // 25}.yaml")
                             .model_copy(update={"alternatives": alternatives}))
            options = {"licence": "extended"} if drift and i == 11 else None
            amount = "260.00" if drift and i == 7 else "250.00"
            orders.append(order(key, [address], action=action, amount=amount, options=options,
                                spec_file=f"specs/s{i // 25}.yaml"))
        if drift:
            resources.append(resource("spec-9.o.new", "create", scenes=[pool[1]],
                                      order_key="oap-new", spec_file="specs/s9.yaml"))
            orders.append(order("oap-new", ["spec-9.o.new"], spec_file="specs/s9.yaml"))
        files = {f"specs/s{i}.yaml": str(i) * 64 for i in (0, 1, 2)}
        if drift:
            files["specs/s1.yaml"], files["specs/s9.yaml"] = "e" * 64, "f" * 64
        return make_plan(resources, orders, spec_files=files)

    old, new = tmp_path / "old.json", tmp_path / "new.json"
    write_plan(pair(False), old)
    write_plan(pair(True), new)
    return old, new


@pytest.mark.parametrize("output_format", ["text", "json", "markdown"])
def test_streamed_diff_is_the_diff_of_the_whole_plans(
    tmp_path: Path, output_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`diff` reads both files side by side (what the two hold alike is made once); its
    output is that of comparing the two plans read whole, each way round."""
    from oneatlas_plan.render.plan_diff import diff_plans, render_diff

    old, new = _plan_pair(tmp_path)
    assert b'"cloud_cover": 9.25' in new.read_bytes()
    for before, after in ((old, new), (new, old), (new, new)):
        expected = render_diff(diff_plans(read_plan(before), read_plan(after)), output_format)
        assert run(["diff", str(before), str(after), "--format", output_format]) == ExitCode.OK
        assert capsys.readouterr().out == expected
    assert "price: EUR 250.00 -> EUR 260.00" in render_diff(
        diff_plans(read_plan(old), read_plan(new)), "text")

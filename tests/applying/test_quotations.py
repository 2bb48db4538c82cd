"""Pléiades Neo quotations against the sandbox: SENT -> ACCEPTED -> in production -> delivered."""

from __future__ import annotations

from pathlib import Path

import pytest

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from tests.applying.interposer import Airbus, airbus
from tests.conftest import World

__all__ = ["airbus"]

SPEC = Path("specs/xinjiang-pleiades-neo.yaml")
ADDRESS = "xinjiang-pneo.hejing-west.hejing-west"


def _order(world: World) -> dict[str, object]:
    return dict(world.state()["resources"][ADDRESS]["orders"][-1])


def _threshold(value: str | None) -> None:
    text = SPEC.read_text()
    line = "    accept_quotations_up_to: 2000 EUR\n"
    SPEC.write_text(text.replace(line, f"    accept_quotations_up_to: {value}\n" if value else ""))


def _quotation_status(world: World) -> str:
    [entry] = world.orders_for("xinjiang")
    return str(entry["quotationStatus"])


def test_accepted_automatically_within_the_spec_threshold(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("apply", str(SPEC), "--auto-approve") == ExitCode.OK
    out = capsys.readouterr().out
    assert "accepted automatically: EUR 979.72 <= accept_quotations_up_to EUR 2,000.00" in out
    assert _quotation_status(world) == "ACCEPTED"
    order = _order(world)
    assert order["status"] == "accepted"
    assert order["quotation_id"] == world.orders_for("xinjiang")[0]["quotationId"]
    assert order["sales_order_id"] == world.orders_for("xinjiang")[0]["salesOrderId"]
    assert world.state()["resources"][ADDRESS]["status"] == "ordered"

    assert world.cli("refresh") == ExitCode.OK
    order = _order(world)
    assert order["production_status"] == "delivered"
    assert order["quotation_valid_until"]
    assert len(order["deliveries"]) == 1  # type: ignore[arg-type]
    assert run(["state", "list"]) == ExitCode.OK
    listed = capsys.readouterr().out
    assert f"accepted, delivered  {order['sales_order_id']} ({order['quotation_id']})" in listed
    assert "Spent: EUR 979.72" in listed


def test_above_the_threshold_it_stays_quoted_until_accepted_explicitly(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _threshold("500 EUR")
    world.faults(delivery_delay_s=60)
    assert world.cli("apply", str(SPEC), "--auto-approve") == ExitCode.OK
    assert "above the spec's accept_quotations_up_to EUR 500.00: left quoted" in (
        capsys.readouterr().out
    )
    assert _quotation_status(world) == "SENT"
    assert _order(world)["status"] == "quoted"

    assert world.cli("refresh") == ExitCode.OK
    quotation_id = str(_order(world)["quotation_id"])
    assert _order(world)["quotation_valid_until"], "validity read from the order search"
    assert _order(world)["status"] == "quoted"
    capsys.readouterr()
    assert run(["quotations", "list"]) == ExitCode.OK
    listed = capsys.readouterr().out
    assert f"{quotation_id}  {ADDRESS}  quoted  EUR 979.72" in listed
    assert "Quoted, awaiting acceptance" not in listed

    assert world.cli("quotations", "accept", ADDRESS) == ExitCode.ERROR  # no TTY, no --yes
    err = capsys.readouterr().err
    assert f"Quotation {quotation_id} for {ADDRESS}: EUR 979.72" in err
    assert "refusing to accept a quotation without confirmation: no terminal" in err
    assert _quotation_status(world) == "SENT"
    assert _order(world)["status"] == "quoted"

    assert world.cli("quotations", "accept", ADDRESS, "--yes") == ExitCode.OK
    captured = capsys.readouterr()
    assert f"Quotation {quotation_id} for {ADDRESS}: EUR 979.72" in captured.err
    assert f"Accepted quotation {quotation_id} (EUR 979.72)" in captured.out
    assert _quotation_status(world) == "ACCEPTED"
    order = _order(world)
    assert (order["status"], order["production_status"]) == ("accepted", "ordered")
    assert order["sales_order_id"] == world.orders_for("xinjiang")[0]["salesOrderId"]
    assert world.cli("refresh") == ExitCode.OK
    assert _order(world)["production_status"] == "in_production"
    assert run(["quotations", "list"]) == ExitCode.OK
    assert "No quotation awaits a decision" in capsys.readouterr().out


def test_without_a_threshold_a_person_refuses_it(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _threshold(None)
    assert world.cli("apply", str(SPEC), "--auto-approve") == ExitCode.OK
    out = capsys.readouterr().out
    quotation_id = str(_order(world)["quotation_id"])
    hint = f"`oneatlas-plan quotations accept {quotation_id} --endpoint {world.base_url}`"
    assert f"nothing is bought until it is accepted: accept it with {hint}" in out
    assert run(["state", "list"]) == ExitCode.OK
    assert "Quoted, awaiting acceptance: EUR 979.72 (1 quotation" in capsys.readouterr().out

    assert world.cli("quotations", "refuse", quotation_id) == ExitCode.OK
    assert f"Refused quotation {quotation_id}" in capsys.readouterr().out
    assert _quotation_status(world) == "REFUSED"
    assert _order(world)["status"] == "refused"
    assert world.state()["resources"][ADDRESS]["status"] == "not_ordered"

    assert world.cli("quotations", "accept", quotation_id) == ExitCode.ERROR
    assert f"quotation {quotation_id} is already refused" in capsys.readouterr().err
    assert world.cli("quotations", "accept", "QUO-nope") == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "no resource or quotation 'QUO-nope' in the state" in err
    assert "Traceback" not in err


# --- quote, then buy: /quotations only, and what an interruption leaves -------------------------


def _neo_only(world: World) -> None:
    for other in world.project.joinpath("specs").glob("*.yaml"):
        if other.name != SPEC.name:
            other.unlink()


def test_neo_is_quoted_through_quotations_and_never_through_orders(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _neo_only(world)
    world.reset_stats()
    assert world.cli("apply", str(SPEC), "--auto-approve") == ExitCode.OK
    made = world.requests_made()
    assert made.get("quotations") == 1
    assert made.get("orders", 0) == 0, "a Pléiades Neo body is never posted to /orders"
    assert made.get("accept") == 1
    [entry] = world.orders_for("xinjiang")
    assert entry["endpoint"] == "quotations"
    assert _order(world)["accept_up_to"] == "2000"


def test_above_the_threshold_nothing_is_accepted(world: World) -> None:
    _neo_only(world)
    _threshold("500 EUR")
    world.reset_stats()
    assert world.cli("apply", str(SPEC), "--auto-approve") == ExitCode.OK
    assert world.requests_made().get("accept", 0) == 0
    assert world.cli("plan", str(SPEC)) == ExitCode.OK  # nothing to settle: no request at all
    assert world.requests_made().get("accept", 0) == 0
    assert _order(world)["status"] == "quoted"


def test_a_lost_quotation_answer_is_reconciled_without_a_second_quotation(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _neo_only(world)
    world.faults(drop_next_orders=1)
    world.reset_stats()
    assert world.cli("apply", str(SPEC), "--auto-approve") == ExitCode.ERROR
    assert _order(world)["status"] == "unknown"
    capsys.readouterr()

    # plan records the quotation Airbus holds, and says apply will accept it
    assert world.cli("plan", str(SPEC)) == ExitCode.OK
    err = capsys.readouterr().err
    assert f"reconciled {ADDRESS}: Airbus has order QUO" in err
    assert "the next `oneatlas-plan apply` accepts it" in err
    assert _order(world)["status"] == "quoted"
    assert _quotation_status(world) == "SENT"

    assert world.cli("apply", str(SPEC), "--auto-approve") == ExitCode.OK
    assert f"{ADDRESS}: quotation accepted (sales order SAL" in capsys.readouterr().err
    made = world.requests_made()
    assert made.get("quotations") == 1, "never a second quotation"
    assert made.get("orders", 0) == 0
    assert made.get("accept") == 1
    assert _quotation_status(world) == "ACCEPTED"
    order = _order(world)
    assert order["status"] == "accepted"
    assert order["sales_order_id"] == world.orders_for("xinjiang")[0]["salesOrderId"]
    assert len(world.orders_for("xinjiang")) == 1


def test_a_quotation_answered_without_an_amount_is_left_for_a_person_saying_so(
    airbus: Airbus, capsys: pytest.CaptureFixture[str]
) -> None:
    world = airbus.world
    airbus.wire.rewrite(
        "/api/v1/quotations", lambda answer: {k: v for k, v in answer.items() if k != "totalAmount"}
    )
    assert world.cli("apply", str(SPEC), "--auto-approve") == ExitCode.OK
    order = _order(world)
    assert (order["status"], order["amount"]) == ("quoted", None)
    assert _quotation_status(world) == "SENT", "never accepted without an amount"
    quotation_id = str(order["quotation_id"])
    capsys.readouterr()

    assert run(["quotations", "list"]) == ExitCode.OK
    assert f"{quotation_id}  {ADDRESS}  quoted  no amount" in capsys.readouterr().out
    assert run(["state", "list"]) == ExitCode.OK
    assert (
        "Quoted, awaiting acceptance: 1 without an amount (Airbus's answer gave none) "
        "(1 quotation;"
    ) in capsys.readouterr().out
    assert world.cli("quotations", "accept", ADDRESS) == ExitCode.ERROR  # no TTY, no --yes
    err = capsys.readouterr().err
    assert (
        f"Quotation {quotation_id} for {ADDRESS}: Airbus's answer gave no amount, so this tool "
        "cannot show what it costs. Read the amount on the quotation in OneAtlas before "
        "accepting: accepting starts production and Airbus bills it (no refund)."
    ) in err
    assert _quotation_status(world) == "SENT"

from __future__ import annotations

import json
from decimal import Decimal

from plan_factory import FIXED_META, make_plan, order, resource, scene

from oneatlas_plan.planning.model import Plan
from oneatlas_plan.render.plan_diff import (
    Change,
    diff_plans,
    diff_state_plan,
    render_diff,
)
from oneatlas_plan.state.model import OrderRecord, ResourceRecord, SceneRef, State


def old_plan() -> Plan:
    resources = [
        resource("a.x.kept", "create", scenes=[scene("K1", 1.4, 43.6)], order_key="o-kept"),
        resource("a.x.scene", "create", scenes=[scene("S1", 1.4, 43.6)], order_key="o-scene"),
        resource("a.x.option", "create", scenes=[scene("O1", 1.4, 43.6)], order_key="o-opt"),
        resource("a.x.price", "create", scenes=[scene("P1", 1.4, 43.6)], order_key="o-price"),
        resource("a.x.gone", "create", scenes=[scene("G1", 1.4, 43.6)], order_key="o-gone"),
        resource("a.x.blocks", "create", scenes=[scene("B1", 1.4, 43.6)], order_key="o-blk"),
    ]
    orders = [
        order("o-kept", ["a.x.kept"]),
        order("o-scene", ["a.x.scene"]),
        order("o-opt", ["a.x.option"], options={"licence": "standard", "dem": "srtm"}),
        order("o-price", ["a.x.price"], amount="100.00"),
        order("o-gone", ["a.x.gone"], amount="50.00"),
        order("o-blk", ["a.x.blocks"], amount="10.00", currency="USD"),
    ]
    return make_plan(resources, orders)


def new_plan() -> Plan:
    resources = [
        resource("a.x.kept", "create", scenes=[scene("K1", 1.4, 43.6)], order_key="o-kept"),
        resource("a.x.scene", "create", scenes=[scene("S2", 1.4, 43.6)], order_key="o-scene2"),
        resource("a.x.option", "create", scenes=[scene("O1", 1.4, 43.6)], order_key="o-opt2"),
        resource("a.x.price", "create", scenes=[scene("P1", 1.4, 43.6)], order_key="o-price"),
        resource("a.x.new", "create", scenes=[scene("N1", 1.4, 43.6)], order_key="o-new"),
        resource(
            "a.x.blocks",
            "blocked",
            scenes=[scene("B1", 1.4, 43.6)],
            order_key="o-blk",
            reason="budget exceeded",
        ),
    ]
    orders = [
        order("o-kept", ["a.x.kept"]),
        order("o-scene2", ["a.x.scene"]),
        order("o-opt2", ["a.x.option"], options={"licence": "extended", "pixel_coding": "8bits"}),
        order("o-price", ["a.x.price"], amount="130.00"),
        order("o-new", ["a.x.new"], amount="75.00", product="SPOTArchive1.5Mono"),
        order("o-blk", ["a.x.blocks"], action="blocked", amount="10.00", currency="USD"),
    ]
    return make_plan(
        resources, orders, spec_files={"specs/a.yaml": "c" * 64, "specs/c.yaml": "d" * 64}
    )


def test_every_change_kind() -> None:
    diff = diff_plans(old_plan(), new_plan())
    assert list(diff.added) == ["a.x.new"]
    assert diff.added["a.x.new"]["product"] == "SPOTArchive1.5Mono"
    assert list(diff.removed) == ["a.x.gone"]
    assert diff.changes == {
        "a.x.blocks": [Change("action", "create", "blocked")],
        "a.x.option": [
            Change("options", "srtm", None, key="dem"),
            Change("options", "standard", "extended", key="licence"),
            Change("options", None, "8bits", key="pixel_coding"),
        ],
        "a.x.price": [Change("price", "EUR 100.00", "EUR 130.00")],
        "a.x.scene": [Change("scenes", ["DS_S1"], ["DS_S2"])],
    }
    assert [(c.field, c.key, c.new) for c in diff.plan_changes] == [
        ("spec_file", "specs/a.yaml", "changed"),
        ("spec_file", "specs/b.yaml", "removed"),
        ("spec_file", "specs/c.yaml", "added"),
    ]
    # old: 250+250+100+50+10 USD; new: 250+250+130+75 (the USD order is blocked)
    assert diff.spend_delta == {"EUR": Decimal("55.00"), "USD": Decimal("-10.00")}


def test_text_rendering() -> None:
    text = render_diff(diff_plans(old_plan(), new_plan()), "text")
    assert text.splitlines() == [
        "Plan changes:",
        "  + a.x.new: added (create, DS_N1, EUR 75.00)",
        "  - a.x.gone: removed (was create, DS_G1, EUR 50.00)",
        "  ~ a.x.blocks",
        "      action: create -> blocked",
        "  ~ a.x.option",
        "      option dem: srtm -> (none)",
        "      option licence: standard -> extended",
        "      option pixel_coding: (none) -> 8bits",
        "  ~ a.x.price",
        "      price: EUR 100.00 -> EUR 130.00",
        "  ~ a.x.scene",
        "      scenes: DS_S1 -> DS_S2",
        "  ~ spec file specs/a.yaml changed: added a.x.new; removed a.x.gone; changed "
        "a.x.blocks (action), a.x.option (options), a.x.price (price), a.x.scene (scenes)",
        "  ~ spec file specs/b.yaml removed: no resource of it planned",
        "  ~ spec file specs/c.yaml added: no resource of it planned",
        "  spend +EUR 55.00 (EUR 900.00 -> EUR 955.00)",
        "  spend -USD 10.00 (USD 10.00 -> USD 0.00)",
    ]


def test_markdown_and_json_rendering() -> None:
    diff = diff_plans(old_plan(), new_plan())
    markdown = render_diff(diff, "markdown")
    assert markdown.startswith("### Plan changes\n\n| | address | change |\n|---|---|---|\n")
    assert "| ➕ | `a.x.new` | added: create, DS\\_N1, EUR 75.00 |" in markdown
    assert "| ✏️ | `a.x.scene` | scenes: DS\\_S1 → DS\\_S2 |" in markdown
    assert "**spend +EUR 55.00 (EUR 900.00 → EUR 955.00)**" in markdown
    data = json.loads(render_diff(diff, "json"))
    assert data["old_kind"] == "plan" and data["empty"] is False
    assert data["changes"]["a.x.price"] == [
        {"field": "price", "old": "EUR 100.00", "new": "EUR 130.00"}
    ]
    assert data["spend"]["EUR"] == {"old": "900.00", "new": "955.00", "delta": "55.00"}


def test_meta_is_ignored_and_identical_plans_have_no_change() -> None:
    other = old_plan().model_copy(
        update={"meta": FIXED_META.model_copy(update={"created_at": "2030-01-01T00:00:00Z"})}
    )
    diff = diff_plans(old_plan(), other)
    assert diff.empty
    assert render_diff(diff, "text") == "Plan changes:\n  no change\n"
    assert render_diff(diff, "markdown") == "### Plan changes\n\nNo change.\n"


def test_no_op_only_reports_the_action() -> None:
    before = make_plan(
        [resource("a.x.y", "create", scenes=[scene("A", 1, 43)], order_key="k")],
        [order("k", ["a.x.y"])],
    )
    after = make_plan([resource("a.x.y", "no-op", reason="already ordered")], [])
    assert diff_plans(before, after).changes == {"a.x.y": [Change("action", "create", "no-op")]}


def _record(address: str, scene_id: str, amount: str, status: str = "ordered") -> ResourceRecord:
    return ResourceRecord(
        address=address,
        config_digest="sha256:" + "0" * 64,
        orders=[
            OrderRecord(
                order_key=f"k-{address}",
                customer_reference="ref",
                body_digest="0" * 64,
                status=status,  # type: ignore[arg-type]
                amount=Decimal(amount),
                currency="EUR",
                scenes=[SceneRef(id=f"id-{scene_id}", archive_identifier=f"DS_{scene_id}")],
            )
        ],
    )


def test_state_against_plan() -> None:
    state = State(
        lineage="8d4f8a63-7d52-4b8f-9d59-8f1e2f8b3c11",
        serial=4,
        resources={
            "a.x.same": _record("a.x.same", "S", "100.00"),
            "a.x.moved": _record("a.x.moved", "M1", "100.00"),
            "a.x.old": _record("a.x.old", "O", "60.00"),
        },
    )
    plan = make_plan(
        [
            resource("a.x.same", "no-op", reason="already ordered"),
            resource("a.x.moved", "reorder", scenes=[scene("M2", 1, 43)], order_key="k2"),
            resource("a.x.old", "forget", geometry=False, reason="no longer in the specs"),
            resource("a.x.fresh", "create", scenes=[scene("F", 1, 43)], order_key="k3"),
        ],
        [order("k2", ["a.x.moved"], amount="120.00"), order("k3", ["a.x.fresh"], amount="80.00")],
    )
    diff = diff_state_plan(state, plan)
    assert diff.old_kind == "state"
    assert list(diff.added) == ["a.x.fresh"]
    assert list(diff.removed) == ["a.x.old"]
    assert diff.changes == {
        "a.x.moved": [
            Change("status", "ordered", "reorder"),
            Change("scenes", ["DS_M1"], ["DS_M2"]),
            Change("price", "EUR 100.00", "EUR 120.00"),
        ]
    }
    assert diff.spend_delta == {"EUR": Decimal("200.00")}
    text = render_diff(diff, "text")
    assert text.startswith("Changes from the state:\n")
    assert "  - a.x.old: removed (was ordered, DS_O, EUR 60.00)" in text


def test_markdown_uses_the_one_escaper_for_backslashes_and_angle_brackets() -> None:
    from oneatlas_plan.render.markdown_text import escape

    hostile = "a\\|b <b>x</b> > quote *bold* _it_ [link](u) `code`"
    escaped = escape(hostile)
    assert "\\\\" in escaped and "&gt;" in escaped and "&lt;b&gt;" in escaped
    for raw in ("<b>", "*bold*", "_it_", "[link]", "`code`"):
        assert raw not in escaped
    markdown = render_diff(diff_plans(old_plan(), new_plan()), "markdown")
    assert "->" not in markdown  # arrows are typeset, never a raw '>'


def test_changes_come_in_field_order_options_by_key() -> None:
    from oneatlas_plan.render.plan_diff import compare

    before = {"action": "create", "product": "A", "scenes": ["S1", "S2"],
              "options": {"b": "1", "a": "1"}, "price": "EUR 1.00"}
    after = {"price": None, "options": {"c": "2", "a": "2"}, "scenes": ["S2", "S1"],
             "product": "B", "action": "blocked"}
    assert compare(before, after) == [
        Change("action", "create", "blocked"),
        Change("product", "A", "B"),
        Change("scenes", ["S1", "S2"], ["S2", "S1"]),  # the order of scenes is a change
        Change("options", "1", "2", key="a"),
        Change("options", "1", None, key="b"),
        Change("options", None, "2", key="c"),
        Change("price", "EUR 1.00", None),
    ]
    assert compare(before, {**before, "status": "x"}) == []  # only what both summaries have

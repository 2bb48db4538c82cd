"""The plan file (format 3): canonical dense layout, shared body parts, streaming reads,
format 2 still read, tampering refused with a located message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from oneatlas_plan import _canonical, _schemas
from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode, PlanError, ToolError
from oneatlas_plan.planning import planfile
from oneatlas_plan.planning.model import FORMAT_VERSION, Plan
from oneatlas_plan.planning.planfile import (
    encode_plan,
    expand_parts,
    iter_plan,
    read_plan,
    write_plan,
)

DATA = Path(__file__).parent / "data"
SHIPPED = Path(__file__).resolve().parents[1] / "render" / "data" / "shipped" / "plan.json"
FORMAT_2 = DATA / "plan-format-2.json"  # written by the previous version (format 2)


def many(plan: Plan, copies: int) -> Plan:
    """The first resource and its order repeated ``copies`` times (other addresses, keys and
    datastrips, the same options): what a spec with many AOIs plans."""
    resource, order = plan.resources[0], plan.orders[0]
    resources, orders = [], []
    for i in range(copies):
        address, key = f"{resource.address}-{i:03d}", f"{order.key}{i:03d}"
        body = json.loads(json.dumps(order.body))
        body["items"][0]["datastripIds"] = [f"DS_{i:03d}"]
        body["customerReference"] = f"{key}_x"
        resources.append(resource.model_copy(update={"address": address, "order_key": key}))
        orders.append(
            order.model_copy(
                update={
                    "key": key,
                    "addresses": [address],
                    "body": body,
                    "body_digest": _canonical.digest(body),
                }
            )
        )
    update = {"resources": resources, "orders": orders, "budgets": []}
    return plan.model_copy(update=update).sealed()


@pytest.fixture
def plan() -> Plan:
    return read_plan(SHIPPED)


def test_round_trip_is_canonical_and_valid_json(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    text = path.read_text(encoding="utf-8")
    assert text == encode_plan(plan) == encode_plan(read_plan(path))  # same plan, same bytes
    assert read_plan(path) == plan
    data = json.loads(text)
    assert data["format_version"] == FORMAT_VERSION == 3
    assert text == _canonical.dumps_dense(data)
    schema = json.loads((_schemas.SCHEMA_DIR / "plan.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)


def test_geometries_take_one_line_not_one_per_coordinate(plan: Plan) -> None:
    lines = encode_plan(plan).splitlines()
    assert not [line for line in lines if line.strip().rstrip(",").lstrip("-")[:1].isdigit()]
    geometry = [line for line in lines if '"aoi_geometry": {"coordinates": [[[' in line]
    assert len(geometry) == len(plan.resources)


def test_repeated_body_fields_are_stored_once(plan: Plan, tmp_path: Path) -> None:
    big = many(plan, 50)
    path = tmp_path / "plan.json"
    write_plan(big, path)
    text = path.read_text(encoding="utf-8")
    assert text.count('"optionsPerProductType"') == 1
    assert text.count('"notifications"') == 1
    assert text.count('"$part"') == 3 * 50  # each body, its item, the resource's digests
    assert text.count('"footprint"') == 1 + len(plan.resources[0].alternatives)  # catalogue
    data = json.loads(text)
    assert len(data["common"]) == 3  # the body's, the item's, the digests' (one AOI each)
    back = read_plan(path)
    assert back == big
    for order in back.orders:  # what apply sends is what was digested
        assert _canonical.digest(order.body) == order.body_digest
    # The parts are what the bodies share, not per-order fields.
    assert all("datastripIds" not in part for part in data["common"].values())
    assert expand_parts(data)["orders"] == [o.model_dump(mode="json") for o in big.orders]


def test_a_one_scene_change_is_a_small_git_diff(plan: Plan, tmp_path: Path) -> None:
    before = many(plan, 20)
    resource, order = before.resources[7], before.orders[7]
    scene = resource.scenes[0].model_copy(update={"archive_identifier": "DS_OTHER"})
    body = json.loads(json.dumps(order.body))
    body["items"][0]["datastripIds"] = ["DS_OTHER"]
    resources = list(before.resources)
    resources[7] = resource.model_copy(update={"scenes": [scene]})
    orders = list(before.orders)
    orders[7] = order.model_copy(update={"body": body, "body_digest": _canonical.digest(body)})
    after = before.model_copy(update={"resources": resources, "orders": orders}).sealed()
    old_lines, new_lines = encode_plan(before).splitlines(), encode_plan(after).splitlines()
    assert len(old_lines) == len(new_lines)
    diff = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert len(diff) == 4, diff


def test_format_2_plans_are_still_read(tmp_path: Path) -> None:
    old = read_plan(FORMAT_2)
    assert old.format_version == 2 and old.resources and old.orders
    assert old.checksum == old.compute_checksum()
    assert encode_plan(old) == FORMAT_2.read_text(encoding="utf-8")  # rewritten as it was
    out = tmp_path / "shown.json"
    assert run(["show", str(FORMAT_2), "--format", "json", "--out", str(out)]) == ExitCode.OK
    assert out.read_bytes() == FORMAT_2.read_bytes()
    assert run(["show", str(FORMAT_2)]) == ExitCode.OK
    now = read_plan(SHIPPED)
    assert [r.address for r in now.resources] == [r.address for r in old.resources]


def test_a_format_2_plan_diffs_with_its_format_3_twin(capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped plan before and after the format change: same content, no change."""
    assert run(["diff", str(FORMAT_2), str(SHIPPED)]) == ExitCode.OK
    assert capsys.readouterr().out == "Plan changes:\n  no change\n"


def test_any_json_layout_is_read(plan: Plan, tmp_path: Path) -> None:
    data = json.loads(encode_plan(plan))
    for name, text in (
        ("compact.json", json.dumps(data)),
        ("indented.json", json.dumps(data, indent=2)),
        ("unsorted.json", json.dumps(dict(reversed(data.items())))),
    ):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        assert read_plan(path) == plan, name


def _refused(path: Path, text: str, message: str) -> None:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ToolError) as raised:
        read_plan(path)
    assert message in str(raised.value), str(raised.value)
    assert str(path) in str(raised.value)


def test_tampering_is_refused(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    text = encode_plan(many(plan, 3))
    data = json.loads(text)
    key, part = next((k, p) for k, p in data["common"].items() if "contractId" in p)
    edited = {**data, "common": {**data["common"], key: {**part, "extra": 1}}}
    _refused(path, _canonical.dumps_dense(edited), "does not match its key")
    # A part edited and re-keyed: the joined bodies differ from what the checksum covers.
    new_key = _canonical.digest({**part, "extra": 1})[:16]
    rekeyed = _canonical.dumps_dense(edited).replace(key, new_key)
    _refused(path, rekeyed, "checksum mismatch")
    _refused(path, text.replace('"$part": "', '"$part": "0', 1), "unknown or conflicting $part")
    _refused(path, text.replace('"$scene": "', '"$scene": "0', 1), "unknown or conflicting $scene")
    scene_id = next(iter(data["catalogue"]))
    cloudier = {**data, "catalogue": {**data["catalogue"], scene_id: {
        **data["catalogue"][scene_id], "cloud_cover": 99.0}}}
    _refused(path, _canonical.dumps_dense(cloudier), "checksum mismatch")
    _refused(path, text.replace('"coverage": 1.0', '"coverage": 0.5', 1), "checksum mismatch")


def test_streamed_errors_are_located(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    text = encode_plan(many(plan, 3))
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if '"reason"' in line and i > 60)
    _refused(path, "".join(lines[:at]), "truncated")
    broken = "".join([*lines[:at], lines[at].replace('"reason"', '"reason', 1), *lines[at + 1 :]])
    _refused(path, broken, f"{path}:{at + 1}:")
    _refused(path, text.replace('\n  "endpoint"', '\n    "endpoint"', 1), "unexpected line")
    _refused(path, text.replace('\n  "checksum"', '\n  "zzz": 1,\n  "checksum"', 1), "out of order")
    _refused(path, text + "{}\n", "extra data")
    _refused(path, text.replace('"format_version": 3', '"format_version": 4'), "format_version 4")
    _refused(path, text.replace('"format_version": 3', '"format_version": 1'), "plan again")


def test_unsorted_or_repeated_resources_are_refused(plan: Plan, tmp_path: Path) -> None:
    three = many(plan, 3)
    for resources, message in (
        ([*three.resources[1:], three.resources[0]], "sorted by address"),
        ([three.resources[0], *three.resources], "appears twice"),
    ):
        edited = three.model_copy(update={"resources": resources}).sealed()
        _refused(tmp_path / "plan.json", encode_plan(edited), message)


def test_iter_plan_yields_orders_then_resources_then_the_plan(plan: Plan) -> None:
    items: list[Any] = list(iter_plan(SHIPPED))
    assert items[: len(plan.orders)] == plan.orders
    assert items[len(plan.orders) : -1] == plan.resources
    assert items[-1] == plan.model_copy(update={"orders": [], "resources": []})


@pytest.mark.parametrize("chunk", [1, 5, 6, 7, 64, 4096])
def test_reads_cut_anywhere_give_the_same_plan(
    plan: Plan, chunk: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader finds elements across its read boundaries, wherever they fall."""
    path = tmp_path / "plan.json"
    write_plan(many(plan, 4), path)
    whole = read_plan(path)
    monkeypatch.setattr(planfile._Source, "CHUNK", chunk)
    assert read_plan(path) == whole
    for cut in (len(path.read_bytes()) // 3, len(path.read_bytes()) - 3):
        short = tmp_path / f"short-{cut}.json"
        short.write_bytes(path.read_bytes()[:cut])
        with pytest.raises(ToolError, match=r"truncated|invalid JSON|trailing comma"):
            read_plan(short)


def _joined_the_plain_way(data: dict[str, Any]) -> list[str]:
    tables = planfile._Tables(data["common"], data["catalogue"])
    texts = []
    for key in ("orders", "resources"):
        for element in data[key]:
            try:
                if key == "orders":
                    joined = planfile._expand_order(element, tables.common)
                else:
                    joined = planfile._expand_resource(element, tables.common, tables.catalogue)
                texts.append(_canonical.compact(joined))
            except planfile._Unknown as error:
                texts.append(f"unknown: {error}")
    return texts


def _joined_by_the_reader(data: dict[str, Any]) -> list[str]:
    encoder = planfile._Joined(planfile._Tables(data["common"], data["catalogue"]))
    texts = []
    for key in ("orders", "resources"):
        for element in data[key]:
            try:
                texts.append((encoder.order if key == "orders" else encoder.resource)(element))
            except planfile._Unknown as error:
                texts.append(f"unknown: {error}")
    return texts


def _odd_scenes(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Scene references and catalogue entries of every shape a hand edit could make."""
    resource = data["resources"][0]
    scene = resource["scenes"][0]
    scene_id = scene["$scene"]
    for own in (
        {**scene, "coverage": 1},  # an int where the plan had 1.0: another text
        {**scene, "coverage": True},
        {**scene, "coverage": -0.0},
        {**scene, "coverage": 0.0},
        {**scene, "coverage": [1.0, {"id": 2}]},
        {**scene, "id": "other"},  # replaced by the reference's id when joined
        {**scene, "why": 'a ,"id": b'},
        {**scene, "archive_identifier": {"z": 1, "id": 2}},
        {**scene, "platform": "PHR1A"},  # a catalogue fact given twice: refused
        {**scene, "$scene": 7},
        {"$scene": scene_id},
        "not a scene",
    ):
        yield {**data, "resources": [{**resource, "scenes": [scene, own, scene]}]}
    facts = data["catalogue"][scene_id]
    for odd in (
        {**facts, "footprint": "flat"},
        {k: v for k, v in facts.items() if k != "footprint"},
        {**facts, "cloud_cover": [1, 2]},
        {**facts, "zzz": {"id": 1}},
        {**facts, "gsd": 0.5},  # sorts between footprint and id
        {**facts, "a,\"id\":": 1},
        {"footprint": facts["footprint"]},
        {"footprint": facts["footprint"], "zz": 1},
    ):
        yield {**data, "catalogue": {**data["catalogue"], scene_id: odd}}


def _odd_parts(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Order bodies, their items and resource digests of every shape a hand edit could make."""
    order, resource = data["orders"][0], data["resources"][0]
    body = order["body"]
    item = body["items"][0]
    key = body["$part"]
    part = data["common"][key]
    shared = next(iter(part))
    for odd_body in (
        {**body, "$part": "0" + key},
        {**body, "$part": 7},
        {**body, shared: "mine too"},  # a member of the part given again: refused
        {k: v for k, v in body.items() if k != "$part"},
        {**body, "items": "not a list"},
        {**body, "items": [item, "not an item", {"aoiId": 2}, {**item, "$part": None}]},
        {**body, "items": [{**item, "notifications": []}]},
        {**body, "aoi": [{"$part": key}], "zz": {"$part": key}},  # not where parts are joined
        {"$part": key},
        "not a body",
    ):
        yield {**data, "orders": [{**order, "body": odd_body}, *data["orders"][1:]]}
    yield {**data, "orders": [{k: v for k, v in order.items() if k != "body"}, "not an order"]}
    yield {**data, "common": {**data["common"], key: {**part, "z": -0.0, "a": [1, 1.0, True]}}}
    digests = resource["digests"]
    for odd_digests in (
        {**digests, "$part": "0" + digests["$part"]},
        {k: v for k, v in digests.items() if k != "$part"},
        {**digests, "geometry": {"$part": digests["$part"]}},
        "not digests",
    ):
        yield {**data, "resources": [{**resource, "digests": odd_digests}]}


def test_the_checksum_text_is_the_joined_plan_s_whatever_the_file_holds(plan: Plan) -> None:
    """The reader encodes each element as joined without joining it (tables' entries and
    repeated scene mentions encoded once): the same text as joining and encoding, for
    every shape a file may hold, or the same refusal."""
    data = json.loads(encode_plan(many(plan, 3)))
    assert _joined_by_the_reader(data) == _joined_the_plain_way(data)
    for case in _odd_parts(data):
        assert _joined_by_the_reader(case) == _joined_the_plain_way(case), case
    cases = list(_odd_scenes(data))
    for case in cases:
        assert _joined_by_the_reader(case) == _joined_the_plain_way(case), case
    texts = _joined_by_the_reader(cases[0])
    assert '"coverage":1,' in texts[-1] and '"coverage":1.0,' in texts[-1]


def _viewed(data: dict[str, Any], view: planfile.View, one_pass: bool) -> list[Any]:
    """Each element as the reader makes its model under ``view``: the reader's way, or the
    plain way (view, join, view again); None where the encoder refuses it."""
    reader = planfile._Reader(Path("plan.json"), view=view)
    reader.header["format_version"] = FORMAT_VERSION
    reader.tables = planfile._Tables(data["common"], data["catalogue"])
    out: list[Any] = []
    for key in ("orders", "resources"):
        for index, element in enumerate(data[key]):
            try:
                _text, made = reader.joined(key, element, index, None)
            except PlanError:
                out.append(None)
                continue
            if not one_pass:
                tables = reader.tables
                made = (planfile._expand_order(view.order(element), tables.common)
                        if key == "orders" else view.scenes(planfile._expand_resource(
                            view.resource(element), tables.common, tables.catalogue)))
            out.append(made)
    return out


@pytest.mark.parametrize("alternatives", [False, True])
@pytest.mark.parametrize("geometry", [False, True])
def test_a_view_makes_what_joining_and_viewing_make(
    plan: Plan, geometry: bool, alternatives: bool
) -> None:
    """The reader joins an element for its view in one pass (without geometry: scenes
    joined with their catalogue facts less the footprint; whole: an order joined once for
    its text and its model): the same values as the plain composition, for every shape a
    file may hold."""
    view = planfile.View(geometry=geometry, alternatives=alternatives)
    data = json.loads(encode_plan(many(plan, 3)))
    data["resources"][1]["alternatives"].append(  # a scene kept whole, with its footprint
        {**data["catalogue"][data["resources"][1]["scenes"][0]["$scene"]], "id": "whole",
         "archive_identifier": "DS_WHOLE", "coverage": 0.5, "why": "kept whole"})
    for case in [data, *_odd_scenes(data), *_odd_parts(data)]:
        mine, plain = _viewed(case, view, True), _viewed(case, view, False)
        assert mine == plain, case
        assert any(m is not None for m in mine)


def test_show_and_diff_refuse_what_apply_refuses(
    plan: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`show` and `diff` make models of less than the whole plan; they check all of it."""
    text = encode_plan(many(plan, 3))
    path, good = tmp_path / "plan.json", tmp_path / "good.json"
    good.write_text(text, encoding="utf-8")
    coordinates = '"aoi_geometry": {"coordinates": [[['
    for edit in (
        text.replace('"coverage": 1.0', '"coverage": 1', 1),  # the same number, other text
        text.replace(coordinates, coordinates + "[1.0, 2.0], ", 1),  # not shown by either
        text.replace('"platform": "', '"platform": "X', 1),  # in the catalogue
        text.replace('"datastripIds": ["', '"datastripIds": ["X', 1),  # in a body's item
    ):
        assert edit != text
        path.write_text(edit, encoding="utf-8")
        for args in (
            ["show", str(path)],
            ["show", str(path), "--candidates"],
            ["show", str(path), "--format", "json"],
            ["diff", str(good), str(path)],
            ["diff", str(path), str(good)],
        ):
            assert run(args) == ExitCode.ERROR, args
            assert "checksum mismatch" in capsys.readouterr().err, args


def _diff_refuses(good: Path, path: Path, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["show", str(path)], ["diff", str(good), str(path)],
                 ["diff", str(path), str(good)]):
        assert run(args) == ExitCode.ERROR, args
        assert message in capsys.readouterr().err, args


def test_diff_checks_each_file_whole_though_both_hold_the_same_elements(
    plan: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`diff` makes an element that both files hold byte for byte once (iter_plan_pair):
    the file that refers, with those bytes, to a table entry it lacks or holds otherwise,
    or whose checksum or order of resources is wrong, is refused as `show` refuses it."""
    three = many(plan, 3)
    text = encode_plan(three)
    data = json.loads(text)
    good, path = tmp_path / "good.json", tmp_path / "plan.json"
    good.write_text(text, encoding="utf-8")
    scene_id = data["resources"][0]["scenes"][0]["$scene"]
    part = data["resources"][0]["digests"]["$part"]
    checksum = data["checksum"]
    repeated = three.model_copy(update={"resources": [three.resources[0], *three.resources]})
    for edit, message in (
        (_canonical.dumps_dense({**data, "catalogue": {
            k: v for k, v in data["catalogue"].items() if k != scene_id}}),
         "unknown or conflicting $scene"),
        (_canonical.dumps_dense({**data, "common": {
            k: v for k, v in data["common"].items() if k != part}}),
         "unknown or conflicting $part"),
        (text.replace(checksum, checksum[:-1] + ("0" if checksum[-1] != "0" else "1")),
         "checksum mismatch"),
        (encode_plan(repeated.sealed()), "appears twice"),
    ):
        assert edit != text
        path.write_text(edit, encoding="utf-8")
        _diff_refuses(good, path, message, capsys)


def test_diff_makes_what_both_files_hold_alike_once(
    plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Of two plans that differ by one order's price, the second file read side by side
    parses, joins and validates that order alone; both are counted and hashed whole (the
    bound on JSON containers counts the same as reading each alone)."""
    from oneatlas_plan.render.plan_diff import diff_plan_streams

    old_plan = many(plan, 6)
    first = old_plan.orders[0]
    assert first.price is not None
    dearer = first.model_copy(update={"price": first.price.model_copy(
        update={"amount": first.price.amount + 1})})
    new_plan = old_plan.model_copy(update={"orders": [dearer, *old_plan.orders[1:]]}).sealed()
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    write_plan(old_plan, old)
    write_plan(new_plan, new)
    made: dict[Path, int] = {old: 0, new: 0}
    containers: dict[Path, int] = {}
    real_made, real_count = planfile._Reader.made, planfile._Reader.count_containers

    def counted_made(self: Any, *args: Any) -> Any:
        made[self.path] += 1
        return real_made(self, *args)

    def counted_containers(self: Any, count: int, line: int | None) -> None:
        containers[self.path] = containers.get(self.path, 0) + count
        real_count(self, count, line)

    monkeypatch.setattr(planfile._Reader, "made", counted_made)
    monkeypatch.setattr(planfile._Reader, "count_containers", counted_containers)
    alone = {}
    for path in (old, new):
        containers.clear()
        list(iter_plan(path))
        alone[path] = containers[path]
    made[old] = made[new] = 0
    containers.clear()
    view = planfile.View(geometry=False, alternatives=False)
    changes = diff_plan_streams(*planfile.iter_plan_pair(old, new, view=view)).changes
    assert list(changes) == [first.addresses[0]]
    assert made == {old: len(old_plan.orders) + len(old_plan.resources), new: 1}
    assert containers == alone

"""Hostile and broken input, through the CLI: every case ends with a located,
human-readable error and exit code 1 — never a traceback, never a hang, bounded memory.

Corpus: ``data/specs`` (spec kinds not in tests/spec/data/broken, which is run here too),
``data/plans``, ``data/states`` (regenerate with ``data/make_corpus.py``), plus cases made at
test time: 50 MB files, a 10,000-vertex polygon, symlinks and FIFOs, truncations and
hand edits (with and without a recomputed checksum) of a real plan and state.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan._canonical import digest
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.planning.model import Plan
from oneatlas_plan.planning.planfile import expand_parts
from tests.reliability.conftest import ROOT, Project, Result, make_project, start_sandbox

DATA = Path(__file__).parent / "data"
SPEC_CASES = sorted(DATA.glob("specs/*.yaml")) + sorted(
    (ROOT / "tests/spec/data/broken").glob("*.yaml")
)
PLAN_CASES = sorted(DATA.glob("plans/*.json"))
STATE_CASES = sorted(DATA.glob("states/*.json"))
LOCATED_SPEC = re.compile(r":\d+:\d+: ")
MB = 1024 * 1024
# Generous: the interpreter with pydantic, shapely and pyproj loaded is ~100 MB.
MAX_RSS_MB = 400

pytestmark = pytest.mark.timeout(60)


# Odd but valid specs: accepted by validate, and planned without crashing.
ACCEPTED_SPECS = {
    "bbox-strings",  # "1.40" is coerced to 1.40
    "polar-south",  # an AOI reaching the South Pole is a legitimate (if empty) search
    "version-float",  # 1.0 == 1
    "yaml-binary-tag",  # a !!binary name is decoded to text
    "yaml-cr-only",  # old Mac line endings are valid YAML
}


def test_corpus_is_large_enough() -> None:
    assert len(SPEC_CASES) + len(PLAN_CASES) + len(STATE_CASES) >= 100 + 80


# ------------------------------------------------------------------------------ helpers


def cli(project: Project, *args: str) -> Result:
    return project.cli(*args)


def offline(tmp_path: Path) -> Project:
    """A project whose endpoint nobody listens on: these cases must fail before any call."""
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    return Project(root=root, base_url="http://127.0.0.1:9")


def assert_refused(result: Result, where: Path | str) -> None:
    assert result.code == ExitCode.ERROR, result.text
    assert "Internal error" not in result.text, result.text
    assert str(where) in result.err, f"error does not name {where}:\n{result.err}"
    assert len(result.err) < 20_000, "the error must stay readable"


def assert_spec_refused(result: Result, path: Path) -> None:
    assert result.code == ExitCode.ERROR, result.text
    assert "Internal error" not in result.text
    problems = [line for line in result.err.splitlines() if LOCATED_SPEC.search(line)]
    assert problems, f"no located problem (file:line:col):\n{result.err}"
    assert all(str(path) in line or path.name in line for line in problems), result.err


def write_empty_plan(path: Path, endpoint: str) -> Path:
    plan = Plan.model_validate(
        {
            "format_version": 2,
            "endpoint": endpoint,
            "contracts": [],
            "spec_files": {},
            "state": {"lineage": None, "serial": 0},
            "resources": [],
            "orders": [],
            "totals": {},
            "budgets": [],
            "checksum": "",
            "meta": {"created_at": "2026-01-01T00:00:00Z", "tool_version": "t", "host": "h"},
        }
    ).sealed()
    path.write_text(plan.to_json())
    return path


# ------------------------------------------------------------------------------ specs


@pytest.mark.parametrize("case", SPEC_CASES, ids=[f"{p.parent.name}/{p.stem}" for p in SPEC_CASES])
def test_broken_spec_is_refused_with_a_location(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(case.parent)
    result = cli(offline(tmp_path), "validate", case.name)
    if case.stem in ACCEPTED_SPECS:
        assert result.code == ExitCode.OK, result.text
    else:
        assert_spec_refused(result, Path(case.name))


def test_odd_but_valid_specs_are_planned_without_crashing(
    applied: tuple[Project, bytes, bytes], tmp_path: Path
) -> None:
    source, _, _ = applied
    project = Project(root=tmp_path, base_url=source.base_url)
    for name in sorted(ACCEPTED_SPECS):
        result = cli(project, "plan", str(DATA / "specs" / f"{name}.yaml"))
        assert result.code in (ExitCode.OK, ExitCode.ERROR), (name, result.text)


def _valid_spec_text() -> str:
    return (ROOT / "specs/toulouse-pleiades.yaml").read_text(encoding="utf-8")


def _with_aoi(aoi_yaml: str) -> str:
    text = _valid_spec_text()
    start = text.index("      - name: polygon-1")
    end = text.index("    search:")
    return text[:start] + aoi_yaml + text[end:]


def _ten_thousand_vertices(root: Path) -> Path:
    vertices = [[1.4 + 0.1 * (i / 10_000), 43.55 + 0.0001 * (i % 2)] for i in range(10_000)]
    ring = [*vertices, [1.5, 43.7], [1.4, 43.7], vertices[0]]
    many = root / "ten-thousand-vertices.yaml"
    many.write_text(
        _with_aoi(
            "      - name: many\n        geometry: "
            + json.dumps({"type": "Polygon", "coordinates": [ring]})
            + "\n"
        )
    )
    return many


def _aoi_file(root: Path, spec: str, name: str, file: str) -> Path:
    path = root / spec
    path.write_text(_with_aoi(f"      - name: {name}\n        file: {file}\n"))
    return path


def _symlink_out_of_root(root: Path) -> Path:
    outside = root.parent / "outside-root.geojson"
    outside.write_text('{"type": "Polygon", "coordinates": [[[1,2],[2,2],[2,3],[1,2]]]}')
    (root / "link.geojson").symlink_to(outside)
    return _aoi_file(root, "symlink-out-of-root.yaml", "linked", "link.geojson")


def _dev_zero(root: Path) -> Path:
    (root / "zero.geojson").symlink_to("/dev/zero")
    return _aoi_file(root, "dev-zero.yaml", "zero", "zero.geojson")


def _fifo_aoi(root: Path) -> Path:
    os.mkfifo(root / "fifo.geojson")
    return _aoi_file(root, "fifo-aoi.yaml", "fifo", "fifo.geojson")


def _directory_aoi(root: Path) -> Path:
    (root / "dir.geojson").mkdir()
    return _aoi_file(root, "dir-aoi.yaml", "d", "dir.geojson")


def _long_line(root: Path) -> Path:
    path = root / "long-line.yaml"
    path.write_text("version: 1\nname: " + "x" * 2_000_000 + "\norders: []\n")
    return path


def _dangling(root: Path) -> Path:
    path = root / "dangling.yaml"
    path.symlink_to(root / "nowhere.yaml")
    return path


def _symlink_loop(root: Path) -> Path:
    (root / "loop-a.geojson").symlink_to("loop-b.geojson")
    (root / "loop-b.geojson").symlink_to("loop-a.geojson")
    return _aoi_file(root, "symlink-loop.yaml", "loop", "loop-a.geojson")


# case -> maker of its files under a spec root (returns the spec to validate); each case is
# its own test, and all of them together make the directory validated at once.
GENERATED_SPECS: dict[str, Callable[[Path], Path]] = {
    "10,000-vertex polygon": _ten_thousand_vertices,
    "symlink out of the spec root": _symlink_out_of_root,
    "../ out of the spec root": lambda root: _aoi_file(
        root, "dotdot.yaml", "up", "../../../../etc/passwd"),
    "absolute path out of the spec root": lambda root: _aoi_file(
        root, "absolute.yaml", "abs", "/etc/hostname"),
    "symlink to /dev/zero": _dev_zero,
    "AOI file is a FIFO": _fifo_aoi,
    "AOI file is a directory": _directory_aoi,
    "2 MB line": _long_line,
    "dangling symlink": _dangling,
    "AOI file is a symlink loop": _symlink_loop,
    "AOI file name with a NUL byte": lambda root: _aoi_file(
        root, "nul-in-file-name.yaml", "nul", '"a\\x00b.geojson"'),
    "AOI file name of 5,000 characters": lambda root: _aoi_file(
        root, "long-file-name.yaml", "long", "n" * 5000),
}  # fmt: skip



@pytest.mark.parametrize(
    "case",
    list(GENERATED_SPECS),
)
def test_generated_broken_spec_is_refused(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "specs"
    root.mkdir()
    monkeypatch.chdir(tmp_path)
    path = GENERATED_SPECS[case](root)
    result = cli(offline(tmp_path), "validate", str(path.relative_to(tmp_path)))
    assert result.code == ExitCode.ERROR, result.text
    assert "Internal error" not in result.text, result.text
    problems = [line for line in result.err.splitlines() if LOCATED_SPEC.search(line)]
    assert problems, result.err
    assert all(line.startswith(f"specs/{path.name}:") for line in problems), result.err
    assert len(result.err) < 20_000, "the error must stay readable"


def test_a_directory_of_generated_broken_specs_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every case at once, with a FIFO named *.yaml in the directory: it must not block the
    walk, and every broken file is still reported."""
    root = tmp_path / "specs"
    root.mkdir()
    monkeypatch.chdir(tmp_path)
    paths = [make(root) for make in GENERATED_SPECS.values()]
    os.mkfifo(root / "stray-fifo.yaml")
    result = cli(offline(tmp_path), "validate", "specs")
    assert result.code == ExitCode.ERROR, result.text
    assert "Internal error" not in result.text, result.text
    assert "stray-fifo.yaml:1:1: not a regular file" in result.err, result.err
    located = {line.split(":", 1)[0] for line in result.err.splitlines()
               if LOCATED_SPEC.search(line)}  # fmt: skip
    assert {f"specs/{path.name}" for path in paths} <= located, result.err


# ------------------------------------------------------------------------------ plans


@pytest.mark.parametrize("case", PLAN_CASES, ids=[p.stem for p in PLAN_CASES])
def test_broken_plan_is_refused(case: Path, tmp_path: Path) -> None:
    project = offline(tmp_path)
    assert_refused(cli(project, "show", str(case)), case)
    for output in ("json", "markdown", "geojson"):
        assert_refused(cli(project, "show", str(case), "--format", output), case)
    # apply: no state file is created, nothing is sent (nobody listens on the endpoint).
    assert_refused(cli(project, "apply", str(case)), case)
    assert not project.state_path.exists()


# ------------------------------------------------------------------------------ states


@pytest.mark.parametrize("case", STATE_CASES, ids=[p.stem for p in STATE_CASES])
def test_broken_state_is_refused(case: Path, tmp_path: Path) -> None:
    project = offline(tmp_path)
    state = project.state_path
    state.write_bytes(case.read_bytes())
    before = state.read_bytes()
    assert_refused(cli(project, "state", "list"), state)
    assert_refused(cli(project, "state", "list", "--format", "json"), state)
    plan = write_empty_plan(project.root / "plan.json", "http://127.0.0.1:9")
    assert_refused(cli(project, "apply", str(plan)), state)
    assert_refused(cli(project, "state", "rm", "s.o.a"), state)
    assert state.read_bytes() == before, "a broken state must never be rewritten"


# ------------------------------------------------------------------------------ real files, edited


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, bytes, bytes]]:
    """A project planned and applied against a sandbox: (project, plan bytes, state bytes)."""
    tmp = tmp_path_factory.mktemp("applied")
    with start_sandbox(tmp / "sandbox-data") as sandbox:
        project = make_project(tmp, sandbox.base_url)
        assert project.cli("plan", str(project.specs), "--out", str(project.plan_path)).code == 0
        plan = project.plan_path.read_bytes()
        assert project.cli("apply", str(project.plan_path)).code == 0
        yield project, plan, project.state_path.read_bytes()


BODY_NOT_DIGEST = "body changed, digest not"


def _reseal(data: dict[str, Any]) -> bytes:
    """A hand edit that also recomputes the checksum (what a determined user could do)."""
    plan = Plan.model_validate({**expand_parts(data), "checksum": ""})
    return plan.sealed().to_json().encode()


def _semantic_edits(base: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    def copy() -> dict[str, Any]:
        return json.loads(json.dumps(base))

    edit = copy()
    edit["orders"][0]["addresses"] = ["no.such.resource"]
    yield "order for an address the plan does not have", edit

    edit = copy()
    edit["orders"][0]["body"]["items"][0]["datastripIds"] = ["DS_ELSEWHERE"]
    yield BODY_NOT_DIGEST, edit

    edit = copy()
    edit["orders"].append(edit["orders"][0])
    yield "the same order twice", edit

    edit = copy()
    edit["resources"] = []
    yield "orders without resources", edit

    edit = copy()
    for resource in edit["resources"]:
        resource["action"] = "no-op"
    yield "resources say no-op, orders say create", edit

    edit = copy()
    edit["orders"][0]["price"]["amount"] = "-100.00"
    yield "negative planned price", edit

    edit = copy()
    edit["orders"][0]["addresses"] = []
    yield "order without addresses", edit

    edit = copy()
    edit["orders"][0]["body"] = {}
    edit["orders"][0]["body_digest"] = digest({})
    yield "empty body with a matching digest", edit


def test_hand_edited_plans_never_crash_nor_order_twice(
    applied: tuple[Project, bytes, bytes], tmp_path: Path
) -> None:
    source, plan_bytes, _ = applied
    base = json.loads(plan_bytes)
    project = Project(root=tmp_path, base_url=source.base_url)
    for case, data in _semantic_edits(base):
        # Each case starts from an empty state (as the plan expects), so it may order
        # again what another case ordered; within one case, never twice.
        before = len(source.ledger())
        project.state_path.unlink(missing_ok=True)
        plan = tmp_path / "edited.json"
        plan.write_bytes(json.dumps(data).encode())
        unsealed = cli(project, "apply", str(plan))
        assert unsealed.code == ExitCode.ERROR and "checksum mismatch" in unsealed.err, case
        try:
            sealed = _reseal(data)
        except Exception:  # noqa: BLE001 - the model itself refuses it: fine
            continue
        plan.write_bytes(sealed)
        shown = cli(project, "show", str(plan))
        assert shown.code in (ExitCode.OK, ExitCode.ERROR), (case, shown.text)
        result = cli(project, "apply", str(plan))
        assert result.code in (ExitCode.OK, ExitCode.ERROR), (case, result.text)
        if result.code == ExitCode.ERROR and "Error:" in result.err:
            assert str(plan) in result.err or "order" in result.err, (case, result.err)
        added = [o["customerReference"] for o in source.ledger()[before:]]
        assert len(added) == len(set(added)), (case, added)
        if case == BODY_NOT_DIGEST:
            # The re-sealed plan is consistent, but the order body is not what was reviewed.
            assert result.code == ExitCode.ERROR, result.text
            assert "order body does not match its digest" in result.text, result.text
            edited = data["orders"][0]["customer_reference"]
            assert all(o["customerReference"] != edited for o in source.ledger()[before:])


def test_truncated_plans_and_states_are_refused(
    applied: tuple[Project, bytes, bytes], tmp_path: Path
) -> None:
    _, plan_bytes, state_bytes = applied
    project = offline(tmp_path)
    for fraction in (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
        plan = tmp_path / f"plan-{fraction}.json"
        plan.write_bytes(plan_bytes[: int(len(plan_bytes) * fraction)])
        assert_refused(cli(project, "show", str(plan)), plan)
        project.state_path.write_bytes(state_bytes[: int(len(state_bytes) * fraction)])
        assert_refused(cli(project, "state", "list"), project.state_path)
    # Hand-edited without recomputing the checksum: refused, naming the remedy.
    edited = json.loads(plan_bytes)
    edited["totals"] = {"EUR": "1.00"}
    plan = tmp_path / "edited.json"
    plan.write_text(json.dumps(edited))
    result = cli(project, "show", str(plan))
    assert_refused(result, plan)
    assert "checksum mismatch" in result.err


def test_broken_journals_are_refused(applied: tuple[Project, bytes, bytes], tmp_path: Path) -> None:
    _, _, state_bytes = applied
    project = offline(tmp_path)
    state = json.loads(state_bytes)
    journal = project.state_path.with_name(project.state_path.name + ".journal")
    address = next(iter(state["resources"]))
    good = json.dumps(
        {
            "lineage": state["lineage"],
            "serial": state["serial"] + 1,
            "at": "2026-01-01T00:00:00Z",
            "op": "remove",
            "address": address,
        }
    )
    cases = {
        "garbage line in the middle": f"not json\n{good}\n",
        "another lineage": good.replace(state["lineage"], "00000000-0000-4000-8000-000000000000")
        + "\n",
        "a gap in serials": good.replace(
            f'"serial": {state["serial"] + 1}', f'"serial": {state["serial"] + 5}'
        )
        + "\n",
        "unknown op": good.replace('"remove"', '"explode"') + "\n",
        "invalid record": good.replace('"op": "remove"', '"op": "put", "record": {"x": 1}') + "\n",
        "deeply nested line": "[" * 5000 + f"\n{good}\n",
    }
    for case, text in cases.items():
        project.state_path.write_bytes(state_bytes)
        journal.write_text(text)
        result = cli(project, "state", "list")
        assert_refused(result, journal)
        assert journal.read_text() == text, case
    # A torn last line (a crash mid-append) is expected and ignored.
    project.state_path.write_bytes(state_bytes)
    journal.write_text(good + "\n" + good[:20])
    assert cli(project, "state", "list").code == ExitCode.OK
    # A journal (or backup) without its state file: refuse to start from an empty state.
    project.state_path.unlink()
    result = cli(project, "state", "list")
    assert_refused(result, journal)
    assert "refusing to start a new empty state" in result.err


# ------------------------------------------------------------------------------ 50 MB files


# Runs the CLI and reports the peak RSS of this process image (VmHWM is per address space,
# so unlike ru_maxrss it does not include the forked pytest process before exec).
_MEASURED = (
    "import atexit, re, sys\n"
    "def peak():\n"
    "    status = open('/proc/self/status').read()\n"
    "    sys.stderr.write('VMHWM_KB=' + re.search(r'VmHWM:\\s+(\\d+)', status).group(1) + '\\n')\n"
    "atexit.register(peak)\n"
    "from oneatlas_plan.cli import main\n"
    "main(sys.argv[1:])\n"
)


def _run_bounded(args: list[str], cwd: Path) -> tuple[int, str, float]:
    """Run the CLI in a subprocess, killed after 45 s; (exit code, stderr, peak RSS in MB)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEATLAS_")}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _MEASURED, *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=45,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{args} hung (killed after 45 s)") from None
    text = proc.stderr.decode("utf-8", "replace")
    peak = re.search(r"VMHWM_KB=(\d+)", text)
    assert peak is not None, text
    return proc.returncode, text, int(peak.group(1)) / 1024


def _big_files(root: Path) -> Iterator[tuple[list[str], Path]]:
    size = 50 * MB
    spec = root / "big.yaml"
    with spec.open("w") as handle:
        handle.write("version: 1\nname: big\norders:\n")
        line = "  - {name: o, aois: []}\n"
        handle.write(line * (size // len(line)))
    yield ["validate", str(spec)], spec

    plan = root / "big-plan.json"
    with plan.open("w") as handle:
        handle.write('{"format_version": 2, "meta": {"x": "')
        handle.write("a" * size)
        handle.write('"}}')
    yield ["show", str(plan)], plan

    plan_list = root / "big-list-plan.json"
    with plan_list.open("w") as handle:
        handle.write('{"format_version": 2, "resources": [')
        handle.write("[]," * (size // 3))
        handle.write("[]]}")
    yield ["show", str(plan_list)], plan_list

    state = root / "big-state.json"
    with state.open("w") as handle:
        handle.write('{"version": 2, "lineage": "x", "serial": 0, "resources": {"a": "')
        handle.write("b" * size)
        handle.write('"}}')
    yield ["state", "list", "--state", str(state)], state

    binary = root / "big-binary.yaml"
    with binary.open("wb") as handle:
        handle.write(os.urandom(size))
    yield ["validate", str(binary)], binary


def test_50mb_files_are_refused_in_bounded_time_and_memory(tmp_path: Path) -> None:
    for args, path in _big_files(tmp_path):
        code, err, peak = _run_bounded(args, tmp_path)
        assert code == ExitCode.ERROR, (args, err)
        assert "Traceback" not in err and "Internal error" not in err, err
        assert path.name in err, err
        assert peak < MAX_RSS_MB, f"{args}: peak RSS {peak:.0f} MB"
        path.unlink()


# ------------------------------------------------------------------------------ locks, FIFOs


def _lock_with_pid(project: Project, pid: int) -> Path:
    lock = project.state_path.with_name(project.state_path.name + ".lock")
    lock.write_text(
        json.dumps({"lock_id": "x", "user": "u", "host": os.uname().nodename, "pid": pid,
                    "created_at": "2026-01-01T00:00:00Z"})
    )  # fmt: skip
    return lock


def test_a_lock_with_an_impossible_pid_is_refused(
    applied: tuple[Project, bytes, bytes], tmp_path: Path
) -> None:
    _, _, state_bytes = applied
    project = offline(tmp_path)
    project.state_path.write_bytes(state_bytes)  # orders to refresh: refresh takes the lock
    lock = _lock_with_pid(project, 10**30)
    plan = write_empty_plan(project.root / "plan.json", "http://127.0.0.1:9")
    for args in (
        ("apply", str(plan), "--lock-timeout", "0"),
        ("refresh", "--endpoint", project.base_url, "--state", str(project.state_path),
         "--lock-timeout", "0"),
        ("state", "unlock", "x"),
    ):  # fmt: skip
        result = cli(project, *args)
        assert_refused(result, lock)
        assert "is not a process id" in result.err, (args, result.err)
    assert lock.exists() and project.state_path.read_bytes() == state_bytes


def _not_regular(root: Path, name: str, kind: str) -> Path:
    path = root / name
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    return path


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_plan_state_and_journal_that_are_not_regular_files(tmp_path: Path, kind: str) -> None:
    project = offline(tmp_path)
    plan = _not_regular(project.root, "plan.json", kind)
    for args in (("show", str(plan)), ("apply", str(plan)), ("diff", str(plan), str(plan))):
        result = cli(project, *args)
        assert_refused(result, plan)
        assert "not a regular file" in result.err, result.err
    good_plan = write_empty_plan(project.root / "good.json", "http://127.0.0.1:9")
    state = _not_regular(project.root, project.state_path.name, kind)
    for args in (("state", "list"), ("apply", str(good_plan))):
        result = cli(project, *args)
        assert_refused(result, state)
        assert "not a regular file" in result.err, result.err
    state.unlink()
    assert cli(project, "state", "list").code == ExitCode.OK  # no state yet: fine
    project.state_path.write_text(
        json.dumps({"version": 2, "lineage": "0f6f5d4e-3c2b-4a19-8877-665544332211",
                    "serial": 1, "resources": {}})
    )  # fmt: skip
    journal = _not_regular(project.root, project.state_path.name + ".journal", kind)
    result = cli(project, "state", "list")
    assert_refused(result, journal)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "not-utf8"])
def test_api_key_files_that_cannot_be_read(tmp_path: Path, kind: str) -> None:
    project = offline(tmp_path)
    shutil.copytree(ROOT / "specs", project.specs)
    if kind == "not-utf8":
        key_file = project.root / "key"
        key_file.write_bytes(b"sk-\xff\xfe-secret")
    else:
        key_file = _not_regular(project.root, "key", kind)
    result = cli(project, "plan", str(project.specs), "--api-key-file", str(key_file))
    assert_refused(result, key_file)
    assert "secret" not in result.text


def test_a_plan_with_duplicate_keys_is_refused(
    applied: tuple[Project, bytes, bytes], tmp_path: Path
) -> None:
    _, plan_bytes, _ = applied
    text = plan_bytes.decode()
    endpoint = re.search(r'\n  "endpoint": [^\n]*\n', text)
    assert endpoint is not None
    duplicated = text.replace(endpoint.group(0), endpoint.group(0) * 2, 1)  # same value twice
    assert json.loads(duplicated) == json.loads(text), "json.loads alone would accept it"
    plan = tmp_path / "dup.json"
    plan.write_text(duplicated)
    result = cli(offline(tmp_path), "show", str(plan))
    assert_refused(result, plan)
    assert "duplicate key 'endpoint'" in result.err, result.err

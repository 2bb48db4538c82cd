from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.state.lock import StateLock, lock_path_for, read_lock
from oneatlas_plan.state.model import OrderRecord, ResourceRecord
from oneatlas_plan.state.store import StateStore
from tests.conftest import World

HOLDER = """
import sys, time
from pathlib import Path
from oneatlas_plan.state.lock import StateLock
print(StateLock(Path(sys.argv[1])).acquire(timeout=0).lock_id, flush=True)
time.sleep(120)
"""


def _order(key: str, status: str, **fields: object) -> OrderRecord:
    return OrderRecord.model_validate(
        {
            "order_key": key,
            "customer_reference": f"oneatlas-plan:{key}",
            "body_digest": f"sha256:{key}",
            "status": status,
            "submitted_at": "2026-11-23T20:00:00Z",
        }
        | fields
    )


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    path = tmp_path / "state.json"
    shared = _order("k2", "unknown", addresses=["paris.louvre", "paris.orsay"])
    with StateStore(path, fsync=False) as store:
        store.record(
            ResourceRecord(
                address="lyon.centre",
                config_digest="sha256:c3",
                orders=[
                    _order(
                        "k1", "ordered", sales_order_id="SO-1", amount=Decimal(250), currency="EUR"
                    )
                ],
            )
        )
        for address in ("paris.louvre", "paris.orsay"):
            store.record(ResourceRecord(address=address, config_digest="d", orders=[shared]))
    return path


@pytest.fixture
def holder(state_path: Path) -> Iterator[tuple[int, str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state_path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    lock_id = process.stdout.readline().strip()
    yield process.pid, lock_id
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["state", *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def test_list_table(state_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "list", "--state", str(state_path))
    assert code == ExitCode.OK
    lines = out.splitlines()
    assert lines[0].split() == [
        "ADDRESS",
        "#",
        "STATUS",
        "ORDER",
        "ID",
        "AMOUNT",
        "SUBMITTED",
        "DELIVERED",
        "DOWNLOADED",
    ]
    assert lines[1].split()[:5] == ["lyon.centre", "1", "ordered", "SO-1", "EUR"]
    assert "Spent: EUR 250.00" in out
    assert "Unsettled: 1 order" in out


def test_list_reads_the_state_from_the_environment(
    state_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONEATLAS_STATE", str(state_path))
    code, out, _ = cli(capsys, "list", "--format", "json")
    assert code == ExitCode.OK
    data = json.loads(out)
    assert data["serial"] == 3
    assert data["spent"] == {"EUR": "250"}
    assert [row["address"] for row in data["orders"]] == [
        "lyon.centre",
        "paris.louvre",
        "paris.orsay",
    ]


def test_list_without_a_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "list", "--state", str(tmp_path / "none.json"))
    assert code == ExitCode.OK
    assert out == f"No state file {tmp_path / 'none.json'}: nothing was ordered with it yet.\n"


def test_list_during_a_run_sees_the_journal(
    state_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = StateStore(state_path, fsync=False)
    store.load()
    store.remove("lyon.centre")  # a run in progress: only journaled
    _, out, _ = cli(capsys, "list", "--state", str(state_path), "--format", "json")
    listed = json.loads(out)
    assert listed["serial"] == 4
    assert "lyon.centre" not in {row["address"] for row in listed["orders"]}
    assert [row["address"] for row in listed["retired"]] == ["lyon.centre"]  # it spent
    store.close()


def test_show(state_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "show", "lyon.centre", "--state", str(state_path))
    assert code == ExitCode.OK
    assert out.startswith("lyon.centre:\n  status: ordered\n")
    assert "    sales order id: SO-1\n" in out
    code, out, _ = cli(
        capsys, "show", "lyon.centre", "--state", str(state_path), "--format", "json"
    )
    assert json.loads(out)["orders"][0]["sales_order_id"] == "SO-1"


def test_show_an_unknown_address(state_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "show", "nope", "--state", str(state_path))
    assert code == ExitCode.ERROR
    assert err == f"Error: no resource 'nope' in state {state_path}\n"


def test_show_without_a_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "show", "a", "--state", str(tmp_path / "none.json"))
    assert code == ExitCode.ERROR
    assert "does not exist" in err


def test_rm_forgets_and_warns(state_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "rm", "lyon.centre", "--state", str(state_path))
    assert code == ExitCode.OK
    assert out == f"Removed lyon.centre from {state_path}.\n"
    assert "its ordered order (SO-1) was NOT cancelled at Airbus" in err
    state = StateStore(state_path).load()
    assert "lyon.centre" not in state.resources
    assert state.serial == 4
    assert not lock_path_for(state_path).exists()  # lock released
    assert not Path(f"{state_path}.journal").exists()  # checkpointed


def test_rm_takes_the_lock(
    state_path: Path, holder: tuple[int, str], capsys: pytest.CaptureFixture[str]
) -> None:
    pid, lock_id = holder
    code, _, err = cli(capsys, "rm", "lyon.centre", "--state", str(state_path))
    assert code == ExitCode.ERROR
    assert f"(pid {pid}, since " in err
    assert f"oneatlas-plan state unlock {lock_id} --state {state_path}" in err
    assert "lyon.centre" in StateStore(state_path).load().resources


def test_rm_an_unknown_address(state_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "rm", "nope", "--state", str(state_path))
    assert code == ExitCode.ERROR
    assert "no resource 'nope'" in err
    assert read_lock(state_path) is None


def test_resolve_ordered_settles_every_resource_of_the_shared_order(
    state_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys, "resolve", "paris.louvre", "--ordered", "SO-9", "--state", str(state_path)
    )
    assert code == ExitCode.OK
    assert out == "paris.louvre: ordered\nparis.orsay: ordered\n"
    state = StateStore(state_path).load()
    for address in ("paris.louvre", "paris.orsay"):
        order = state.resources[address].current
        assert order is not None
        assert (order.status, order.sales_order_id) == ("ordered", "SO-9")
        assert order.resolved_by is not None
        assert order.resolved_by == f"{order.resolved_by.split('@')[0]}@{socket.gethostname()}"
        assert order.resolved_at is not None


def test_resolve_not_ordered(state_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        capsys, "resolve", "paris.orsay", "--not-ordered", "--state", str(state_path)
    )
    assert code == ExitCode.OK
    assert out == "paris.orsay: not_ordered\nparis.louvre: not_ordered\n"


def test_resolve_refuses_a_settled_order(
    state_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys, "resolve", "lyon.centre", "--not-ordered", "--state", str(state_path)
    )
    assert code == ExitCode.ERROR
    assert err == (
        "Error: lyon.centre: its order is 'ordered'; only an unknown or pending order can be "
        "resolved\n"
    )


@pytest.mark.parametrize("flags", [[], ["--ordered", "SO-1", "--not-ordered"]])
def test_resolve_needs_exactly_one_outcome(
    state_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    code, _, err = cli(capsys, "resolve", "paris.orsay", *flags, "--state", str(state_path))
    assert code == ExitCode.USAGE
    assert "exactly one of --ordered SALES_ORDER_ID or --not-ordered" in err


def test_unlock_refuses_a_live_lock_on_this_host(
    state_path: Path, holder: tuple[int, str], capsys: pytest.CaptureFixture[str]
) -> None:
    pid, lock_id = holder
    code, _, err = cli(capsys, "unlock", lock_id, "--state", str(state_path))
    assert code == ExitCode.ERROR
    assert f"refusing to unlock state {state_path}" in err
    assert f"pid {pid}" in err
    assert read_lock(state_path) is not None


def test_unlock_breaks_a_foreign_host_lock(
    state_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock_id = "0e8f0c52-57a9-4a5c-8d3e-1f7f0f6c2b11"
    lock_path_for(state_path).write_text(
        json.dumps(
            {
                "lock_id": lock_id,
                "user": "alice",
                "host": "ci-runner-7",
                "pid": 123,
                "created_at": "2026-11-23T20:00:00Z",
            }
        ),
        encoding="utf-8",
    )
    code, _, err = cli(capsys, "unlock", "wrong-id", "--state", str(state_path))
    assert code == ExitCode.ERROR
    assert "lock id wrong-id does not match" in err
    code, out, _ = cli(capsys, "unlock", lock_id, "--state", str(state_path))
    assert code == ExitCode.OK
    assert out == (
        f"Unlocked state {state_path} (was held by alice@ci-runner-7 (pid 123, since "
        f"2026-11-23T20:00:00Z, lock id {lock_id})).\n"
    )
    assert read_lock(state_path) is None
    with StateLock(state_path):
        pass


def test_rm_takes_over_a_stale_lock(state_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock_path_for(state_path).write_text(
        json.dumps(
            {
                "lock_id": "stale-id",
                "user": "bob",
                "host": socket.gethostname(),
                "pid": 2**22 + 777,
                "created_at": "2026-11-23T20:00:00Z",
            }
        ),
        encoding="utf-8",
    )
    code, _, err = cli(capsys, "rm", "lyon.centre", "--state", str(state_path))
    assert code == ExitCode.OK
    assert "Warning: took over the stale lock of bob@" in err


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty (truncated?)"),
        (b'{"version": 2, "lineage": ', "is not valid JSON"),
        (b"\x00\x01\xfe\xff", "is not UTF-8 text"),
        (
            b'{"version": 99, "lineage": "l", "serial": 0}',
            "cannot be read: state format version 99 was written by a newer",
        ),
    ],
)
@pytest.mark.parametrize(
    "command", [["list"], ["show", "a"], ["rm", "a"], ["resolve", "a", "--not-ordered"]]
)
def test_a_corrupt_state_exits_1_naming_the_backup(
    state_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    problem: str,
    command: list[str],
) -> None:
    with StateStore(state_path, fsync=False) as store:  # makes a backup
        store.remove("lyon.centre")
    state_path.write_bytes(content)
    code, out, err = cli(capsys, *command, "--state", str(state_path))
    assert code == ExitCode.ERROR
    assert out == ""
    assert err.startswith(f"Error: state file {state_path} {problem}")
    assert f"cp {state_path}.backup {state_path}" in err
    assert state_path.read_bytes() == content
    assert read_lock(state_path) is None


def test_state_list_never_says_ordered_twice(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.cli("apply", "specs/toulouse-pleiades.yaml", "--auto-approve") == 0
    capsys.readouterr()
    assert run(["state", "list"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("toulouse."))
    assert "ordered/ordered" not in out and " ordered " in row

"""A full disk under the state (and the plan) never buys twice, never loses an order.

Default suite: the disk "fills up" at the writes where money is at stake: the plan file, the
lock, the first state file, the first pending record, the first outcome, the final
checkpoint (fault injection at the one write seam: that write is cut short, every later
write gets ENOSPC until space is freed). Each trial must stop with a clear error (exit 1,
naming the customerReference of an order sent but not recorded), then, once space is freed,
plan/apply must converge with every resource ordered exactly once.

Campaign (``-m campaign``): the same at every write of plan + apply in turn, with a short
write, with ENOSPC and with EIO on fsync; and the disk-full sweep: the state on a real tmpfs
with 4 KiB to 64 KiB free. Each prints its counts: duplicates, lost, unparsable, needing a
person.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from oneatlas_plan.errors import ExitCode
from tests.diskfaults import WriteFaults, fill, small_filesystem
from tests.reliability.campaign import Tally, loads, recover
from tests.reliability.conftest import Project, Result, make_project, start_sandbox


def check_clear_stop(project: Project, result: Result) -> None:
    """Exit 1 with an error; an order sent but not recorded is named by its reference."""
    assert result.code == ExitCode.ERROR, result.text
    assert "Error:" in result.err and "Internal error" not in result.err, result.err
    state = project.load_state()
    unrecorded = [
        record["orders"][-1]["customer_reference"]
        for record in state["resources"].values()
        if record["status"] == "pending"
    ]
    sent = {o.get("customerReference") for o in project.ledger()}
    for reference in unrecorded:
        if reference in sent:
            assert reference in result.err, (reference, result.err)


def injected_trial(
    tmp_path: Path,
    kind: str,
    fail_at: int,
    tally: Tally,
    target: str = "",
    stops: list[str] | None = None,
) -> bool:
    """One trial; False once ``fail_at`` is beyond the last (``target``) write."""
    with start_sandbox(tmp_path / "sandbox-data") as sandbox:
        project = make_project(tmp_path, sandbox.base_url)
        faults = WriteFaults(kind, fail_at=fail_at, target=target)
        with faults.active():
            result = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
            if result.code == ExitCode.OK:
                result = project.cli("apply", str(project.plan_path))
        if not faults.fired:
            assert result.code == ExitCode.OK, result.text
            return False
        tally.trials += 1
        tally.faulted += 1
        if faults.full:  # (a one-off EIO may be absorbed by a later write)
            check_clear_stop(project, result)
        if stops is not None:
            stops.append(result.err)
        tally.unparsable += 0 if loads(project) else 1
        faults.free()
        recover(project, tally, result)
    return True


def injection_sweep(tmp_path: Path, kind: str) -> Tally:
    tally = Tally()
    fail_at = 1
    while injected_trial(tmp_path / f"{kind}-{fail_at}", kind, fail_at, tally):
        fail_at += 1
    assert fail_at > 8, "plan + apply make more writes than that: the seam is not used"
    return tally


STATE_FILE = r"/\.oneatlas-state\.json\.(?!lock\.)\w+\.tmp$"
MONEY_WRITES = {
    "plan file": (r"/\.plan\.json\.\w+\.tmp$", 1),
    "lock": (r"\.lock\.\w+\.tmp$", 1),
    "first state file": (STATE_FILE, 1),
    "first pending record": (r"\.journal$", 1),
    "first outcome": (r"\.journal$", 2),
    "final checkpoint": (STATE_FILE, 2),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("where", list(MONEY_WRITES))
def test_a_short_write_where_money_is_at_stake_never_buys_twice(tmp_path: Path, where: str) -> None:
    target, fail_at = MONEY_WRITES[where]
    tally = Tally()
    stops: list[str] = []
    assert injected_trial(tmp_path, "short", fail_at, tally, target, stops), "never reached"
    tally.check(f"short write at the {where}")
    if where == "first pending record":  # the user is told the order was not sent
        assert "its pending record could not be written durably, so it was NOT sent" in stops[0]


@pytest.mark.campaign
@pytest.mark.timeout(900)
@pytest.mark.parametrize("kind", ["short", "enospc", "eio-fsync"])
def test_campaign_enospc_and_eio_at_every_write(tmp_path: Path, kind: str) -> None:
    injection_sweep(tmp_path, kind).check(f"{kind} at every write")


# ---------------------------------------------------------------------------- a real disk


@dataclass
class SmallDiskProject(Project):
    """A project whose state (journal, backup, lock) lives on another filesystem."""

    state_dir: Path = Path()

    @property
    def state_path(self) -> Path:
        return self.state_dir / "oneatlas-state.json"


def disk_full_trial(tmp_path: Path, disk: Path, free_kib: int, tally: Tally) -> None:
    for leftover in disk.iterdir():  # the last trial's state files and spec cache
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    with start_sandbox(tmp_path / "sandbox-data") as sandbox:
        base = make_project(tmp_path, sandbox.base_url)
        project = SmallDiskProject(root=base.root, base_url=base.base_url, state_dir=disk)
        planned = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
        assert planned.code == ExitCode.OK, planned.text
        filler = fill(disk, leave=free_kib * 1024)
        result = project.cli("apply", str(project.plan_path))
        tally.trials += 1
        if result.code != ExitCode.OK:
            tally.faulted += 1
            check_clear_stop(project, result)
        tally.unparsable += 0 if loads(project) else 1
        filler.unlink()
        recover(project, tally, result)


@pytest.mark.timeout(120)
def test_apply_on_a_real_nearly_full_disk(tmp_path: Path) -> None:
    """One point of the sweep in the default suite: 12 KiB free (the lock and the state
    file fit; the journal does not)."""
    tally = Tally()
    with small_filesystem(tmp_path / "disk", 128) as disk:
        disk_full_trial(tmp_path / "trial", disk, 12, tally)
    assert tally.faulted == 1, "12 KiB should not be enough for a whole apply"
    tally.check("12 KiB free")


@pytest.mark.campaign
@pytest.mark.timeout(1200)
def test_campaign_disk_full_sweep(tmp_path: Path) -> None:
    """The state on a tmpfs with 4, 8, ... 64 KiB free (every page size step)."""
    tally = Tally()
    with small_filesystem(tmp_path / "disk", 128) as disk:
        for free_kib in range(4, 68, 4):
            disk_full_trial(tmp_path / f"free-{free_kib}", disk, free_kib, tally)
    tally.check("disk-full sweep 4-64 KiB")


@pytest.mark.timeout(120)
def test_an_order_of_two_resources_is_written_ahead_all_or_none(tmp_path: Path) -> None:
    """Its two pending records are one journal line, so a disk that fills up right after
    it cannot leave one recorded and the other not (which blocked the first for a person):
    the order is sent, its outcome cannot be recorded, the next plan reconciles both."""
    with start_sandbox(tmp_path / "sandbox-data") as sandbox:
        project = make_project(tmp_path, sandbox.base_url)
        for other in ("tanzania-spot.yaml", "xinjiang-pleiades-neo.yaml"):
            (project.specs / other).unlink()
        spec = project.specs / "toulouse-pleiades.yaml"
        text = spec.read_text(encoding="utf-8")
        text = (
            text.replace(
                "    search:\n",
                "      - {name: polygon-2, bbox: [1.42, 43.63, 1.46, 43.66]}\n    search:\n",
                1,
            )
            .replace(
                "      primary_market: NQUAL\n",
                "      primary_market: NQUAL\n      pairs_per_order: 2\n",
            )
            .replace("budget: 1000 EUR", "budget: 5000 EUR")
        )
        spec.write_text(text, encoding="utf-8")
        planned = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
        assert planned.code == ExitCode.OK, planned.text
        orders = json.loads(project.plan_path.read_text())["orders"]
        assert [len(o["addresses"]) for o in orders] == [2], orders
        faults = WriteFaults("enospc", fail_at=2, target=r"\.journal$")
        with faults.active():
            result = project.cli("apply", str(project.plan_path))
        assert faults.fired
        (order,) = project.ledger()
        reference = orders[0]["customer_reference"]
        assert order["customerReference"] == reference
        assert result.code == ExitCode.ERROR and reference in result.err, result.text
        statuses = {a: r["status"] for a, r in project.load_state()["resources"].items()}
        assert sorted(statuses.values()) == ["pending", "pending"], statuses
        replanned = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
        assert replanned.code == ExitCode.OK, replanned.text
        assert "reconciled" in replanned.err, replanned.err
        statuses = {a: r["status"] for a, r in project.load_state()["resources"].items()}
        assert sorted(statuses.values()) == ["ordered", "ordered"], statuses
        assert len(project.ledger()) == 1


@pytest.mark.timeout(120)
def test_a_lost_answer_on_a_full_disk_names_the_order_and_is_reconciled(tmp_path: Path) -> None:
    """Two faults at once: Airbus's answer is lost and the disk is full when its outcome
    ("unknown") is recorded. The stop names the order sent; the next plan finds it."""
    with start_sandbox(tmp_path / "sandbox-data") as sandbox:
        project = make_project(tmp_path, sandbox.base_url)
        for other in ("tanzania-spot.yaml", "xinjiang-pleiades-neo.yaml"):
            (project.specs / other).unlink()
        planned = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
        assert planned.code == ExitCode.OK, planned.text
        (order,) = json.loads(project.plan_path.read_text())["orders"]
        project.faults(drop_next_orders=1)
        faults = WriteFaults("enospc", fail_at=2, target=r"\.journal$")
        with faults.active():
            result = project.cli("apply", str(project.plan_path))
        assert faults.fired
        reference = order["customer_reference"]
        assert [o["customerReference"] for o in project.ledger()] == [reference]
        assert result.code == ExitCode.ERROR, result.text
        assert f"STOPPED: order {order['key']} was sent to Airbus" in result.err, result.err
        assert reference in result.err and "Internal error" not in result.err, result.err
        faults.free()
        replanned = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
        assert replanned.code == ExitCode.OK and "reconciled" in replanned.err, replanned.text
        statuses = [r["status"] for r in project.load_state()["resources"].values()]
        assert statuses == ["ordered"] and len(project.ledger()) == 1

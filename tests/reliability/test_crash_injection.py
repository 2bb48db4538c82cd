"""SIGKILL `apply` at many points, then run plan/apply again until done.

After every trial: each resource is ordered at most once at Airbus (the sandbox ledger),
every ledger order is in the state (ordered, or unknown then reconciled), and the state
file parses at every step. Precise points use the test-only hook
``oneatlas_plan/_testhooks.py``; "in flight" holds the order's answer in the sandbox (kill
once the order is committed and held, before the answer: ``tests/holds.py``) and "commit then
drop".

CI runs the fixed points plus ``ONEATLAS_CRASH_TRIALS`` (default 2) kills at random times;
the campaign (``-m campaign``) runs ``ONEATLAS_KILL_CAMPAIGN_TRIALS`` (default 100) random
SIGKILLs during apply with network latency and order delays, and prints its counts:
duplicates, lost, unparsable, needing a person. Its trials come from a seed
(``ONEATLAS_KILL_CAMPAIGN_SEED``); a failure names the seed, each failed trial with its faults,
kill time, where the kill landed and what recovery left (the state's records, the ordering
requests and the orders the sandbox holds), and the command to replay just those trials
(``ONEATLAS_KILL_CAMPAIGN_ONLY=kill-17,...``; the kill lands at the same time, not
necessarily at the same point of the run).
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan._testhooks import ENV as PAUSE_ENV
from oneatlas_plan._testhooks import MARKER, RELEASE_ENV
from oneatlas_plan.errors import ExitCode, StateError
from tests.holds import ORDER_ENDPOINTS, hold, release, wait_until_held
from tests.pg_server import PostgresServer
from tests.reliability.campaign import Tally, loads, recover
from tests.reliability.conftest import (
    HELD_KILL_TIMEOUT,
    UNSETTLED,
    Project,
    Result,
    StderrWatcher,
    check_done,
    check_ledger_in_state,
    converge,
    kill,
    make_project,
    start_sandbox,
)

RANDOM_TRIALS = int(os.environ.get("ONEATLAS_CRASH_TRIALS", "2"))
CAMPAIGN_TRIALS = int(os.environ.get("ONEATLAS_KILL_CAMPAIGN_TRIALS", "100"))


@dataclass(frozen=True)
class Trial:
    name: str
    pause: str | None = None  # a _testhooks point, "POINT:N"
    faults: dict[str, Any] = field(default_factory=dict)
    # kill while Airbus holds the answer of the N-th order (committed, unanswered)
    kill_while_held: int | None = None
    kill_after: float | None = None  # seconds after start


FIXED = [
    Trial("before-first-pending", pause="before-pending:1"),
    Trial("after-first-pending", pause="after-pending:1"),
    Trial("after-third-pending (neo quotation)", pause="after-pending:3"),
    Trial("after-first-outcome", pause="after-outcome:1"),
    Trial("after-second-outcome", pause="after-outcome:2"),
    Trial("in flight: committed, answer held", kill_while_held=1),
    Trial("in flight: second order committed, answer held", kill_while_held=2),
    Trial(
        "commit then drop, killed after recording unknown",
        pause="after-outcome:1",
        faults={"drop_next_orders": 1},
    ),
    Trial("state write: first state file", pause="state-replace:1"),
    Trial("state write: final checkpoint", pause="state-replace:2"),
]


def random_trials(count: int) -> list[Trial]:
    rng = random.Random(20260523)
    trials = []
    for index in range(count):
        faults: dict[str, Any] = {"order_delay_ms": rng.choice([0, 0, 100, 400])}
        if rng.random() < 0.3:
            faults["drop_probability"] = 0.5
        trials.append(Trial(f"random-{index}", faults=faults, kill_after=rng.uniform(0.2, 2.0)))
    return trials


def wait_until_sandbox_idle(project: Project) -> None:
    """Wait, as a user would before running again, until nothing a killed client sent can
    still reach Airbus: a request still in progress holds the one ordering slot (the next
    one would be refused with 429 and the key banned), and an order created after the next
    run looked would be ordered again.

    Unanswered ordering requests are not enough to look at: a request the sandbox has not
    admitted yet (unread in its socket, in its latency) is in no list. But a killed client's
    connection closes only once the sandbox has read and answered everything sent on it, and
    the sandbox counts a connection as soon as it accepts it (before this one, which came
    later): idle is when the only open connection is the one asking."""
    deadline = time.monotonic() + 60  # bounds a failure only
    while True:
        stats = project.stats()
        unanswered = [r for r in stats["ordering_requests"] if r.get("completed") is None]
        if stats["open_connections"] == 1 and not unanswered:
            return
        assert time.monotonic() < deadline, stats
        time.sleep(0.01)


def wait_while_held(
    project: Project, proc: subprocess.Popen[str], watcher: StderrWatcher, nth: int
) -> None:
    """Return once the ``nth`` order (or quotation) is committed and its answer held; the
    earlier ones are let go as they arrive. Arm ``hold(…, count=nth)`` before spawning."""

    def running() -> None:
        if proc.poll() is not None:
            raise AssertionError(f"apply ended early: {watcher.text}\n{project.stats()}")

    for arrived in range(1, nth + 1):
        (entry,) = wait_until_held(project.base_url, check=running)
        if arrived < nth:
            release(project.base_url, [entry["id"]])
    assert len(project.ledger()) == nth, project.ledger()


def run_trial(tmp_path: Path, trial: Trial, state_location: str | None = None) -> None:
    with start_sandbox(tmp_path / "sandbox-data") as sandbox:
        project = make_project(tmp_path, sandbox.base_url, state_location)
        planned = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
        assert planned.code == 0, planned.text
        if trial.faults:
            project.faults(**trial.faults)
        if trial.kill_while_held is not None:
            hold(project.base_url, *ORDER_ENDPOINTS, count=trial.kill_while_held)
        extra = {PAUSE_ENV: trial.pause} if trial.pause else {}
        if trial.kill_while_held is not None:
            extra["ONEATLAS_HTTP_TIMEOUT"] = HELD_KILL_TIMEOUT
        proc = project.spawn("apply", str(project.plan_path), **extra)
        watcher = StderrWatcher(proc)
        try:
            if trial.pause:
                point = trial.pause.split(":")[0]
                assert watcher.wait_for(f"{MARKER} {point}", timeout=30), watcher.text
            elif trial.kill_while_held is not None:
                wait_while_held(project, proc, watcher, trial.kill_while_held)
            elif trial.kill_after is not None:
                time.sleep(trial.kill_after)  # a random moment is the point of this trial
        finally:
            kill(proc)
            release(project.base_url)  # the killed client's answer, if any, goes nowhere
        wait_until_sandbox_idle(project)
        # Right after the crash: the state parses, and whatever Airbus committed is at
        # least recorded as pending (write-ahead).
        check_ledger_in_state(project, settled=False)
        if trial.kill_while_held is not None:
            assert len(project.ledger()) == trial.kill_while_held
            statuses = {a: r["status"] for a, r in project.load_state()["resources"].items()}
            assert sum(s in UNSETTLED for s in statuses.values()) == 1, statuses
        project.faults(order_delay_ms=0, drop_next_orders=0, drop_probability=0)
        converge(project)
        check_done(project)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("trial", FIXED, ids=[t.name for t in FIXED])
def test_kill_at_a_fixed_point(tmp_path: Path, trial: Trial) -> None:
    run_trial(tmp_path, trial)


# The file's own write points do not exist on the database; the rest run there too (the
# cheapest in the default run, all of them in the campaign).
DATABASE_TRIALS = [t for t in FIXED if not t.name.startswith("state write")]
DEFAULT_DATABASE_TRIALS = {
    "after-first-pending",
    "after-second-outcome",
    "in flight: committed, answer held",
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "trial",
    [
        t if t.name in DEFAULT_DATABASE_TRIALS else pytest.param(t, marks=pytest.mark.campaign)
        for t in DATABASE_TRIALS
    ],
    ids=[t.name for t in DATABASE_TRIALS],
)
def test_kill_at_a_fixed_point_on_the_database(tmp_path: Path, trial: Trial, pg_url: str) -> None:
    run_trial(tmp_path, trial, pg_url)


@pytest.mark.timeout(60 + 30 * RANDOM_TRIALS)
def test_kill_at_random_times(tmp_path: Path) -> None:
    for index, trial in enumerate(random_trials(RANDOM_TRIALS)):
        run_trial(tmp_path / str(index), trial)


def test_in_flight_kill_is_reconciled_not_reordered(tmp_path: Path) -> None:
    """The precise "Airbus committed, state not recorded" window: reconciled by reference."""
    with start_sandbox(tmp_path / "sandbox-data") as sandbox:
        project = make_project(tmp_path, sandbox.base_url)
        assert project.cli("plan", str(project.specs), "--out", str(project.plan_path)).code == 0
        hold(project.base_url, *ORDER_ENDPOINTS)
        proc = project.spawn("apply", str(project.plan_path),
                             ONEATLAS_HTTP_TIMEOUT=HELD_KILL_TIMEOUT)
        try:
            wait_while_held(project, proc, StderrWatcher(proc), 1)
        finally:
            kill(proc)
            release(project.base_url)
        wait_until_sandbox_idle(project)
        committed = project.ledger()[0]
        pending = [
            r for r in project.load_state()["resources"].values() if r["status"] == "pending"
        ]
        assert [r["orders"][-1]["customer_reference"] for r in pending] == [
            committed["customerReference"]
        ]
        replan = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
        assert "took over a stale lock" in replan.err or "reconciled" in replan.err, replan.err
        assert "reconciled" in replan.err, replan.err
        assert converge(project) == [], "nothing needed a manual resolve"
        check_done(project)


def _apply_session(project: Project, postgres_server: PostgresServer) -> int:
    holder = project.lock_holder()
    assert holder is not None
    schema = project.state_location.rsplit("schema=", 1)[1]  # type: ignore[union-attr]
    return int(postgres_server.sql(f'SELECT backend_pid FROM "{schema}".lock_holder'))


@pytest.mark.timeout(120)
def test_database_restarted_during_apply_stops_resumably(
    tmp_path: Path, pg_url: str, postgres_server: PostgresServer
) -> None:
    with start_sandbox(tmp_path / "sandbox-data") as sandbox:
        project = make_project(tmp_path, sandbox.base_url, pg_url)
        assert project.cli("plan", str(project.specs), "--out", str(project.plan_path)).code == 0
        release = tmp_path / "release"
        proc = project.spawn(
            "apply",
            str(project.plan_path),
            **{PAUSE_ENV: "after-pending:1", RELEASE_ENV: str(release)},
        )
        watcher = StderrWatcher(proc)
        try:
            assert watcher.wait_for(f"{MARKER} after-pending", timeout=30), watcher.text
            postgres_server.restart()  # the first order's pending record is committed
            release.touch()
            assert proc.wait(timeout=60) == ExitCode.ERROR, watcher.text
        finally:
            release.touch()
            kill(proc)
        assert "lost the connection to the state database" in watcher.text, watcher.text
        assert "Traceback" not in watcher.text
        wait_until_sandbox_idle(project)
        check_ledger_in_state(project, settled=False)  # nothing lost
        converge(project)  # nothing duplicated
        check_done(project)


@pytest.mark.timeout(120)
def test_connection_dropped_after_the_order_is_reconciled_not_reordered(
    tmp_path: Path, pg_url: str, postgres_server: PostgresServer
) -> None:
    """Airbus committed the order, then the outcome's transaction lost its connection."""
    with start_sandbox(tmp_path / "sandbox-data") as sandbox:
        project = make_project(tmp_path, sandbox.base_url, pg_url)
        assert project.cli("plan", str(project.specs), "--out", str(project.plan_path)).code == 0
        hold(project.base_url, *ORDER_ENDPOINTS)
        proc = project.spawn("apply", str(project.plan_path))
        watcher = StderrWatcher(proc)
        try:
            wait_while_held(project, proc, watcher, 1)
            session = _apply_session(project, postgres_server)
            postgres_server.sql(f"SELECT pg_terminate_backend({session})")
            release(project.base_url)  # the answer arrives after the connection is gone
            assert proc.wait(timeout=60) == ExitCode.ERROR, watcher.text
        finally:
            release(project.base_url)
            kill(proc)
        assert "lost the connection to the state database" in watcher.text, watcher.text
        wait_until_sandbox_idle(project)
        committed = project.ledger()[0]
        pending = [
            r for r in project.load_state()["resources"].values() if r["status"] == "pending"
        ]
        assert [r["orders"][-1]["customer_reference"] for r in pending] == [
            committed["customerReference"]
        ]
        replan = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
        assert "reconciled" in replan.err, replan.err
        assert converge(project) == [], "nothing needed a manual resolve"
        check_done(project)


CAMPAIGN_SEED = int(os.environ.get("ONEATLAS_KILL_CAMPAIGN_SEED", "20261130"))
# Replaying: "kill-17,kill-42" runs those trials only (same seed: same faults and kill times).
CAMPAIGN_ONLY = {t for t in os.environ.get("ONEATLAS_KILL_CAMPAIGN_ONLY", "").split(",") if t}


def campaign_trials(count: int, seed: int = CAMPAIGN_SEED) -> list[Trial]:
    """Random kill times during apply, with latency on every request and order delays."""
    rng = random.Random(seed)
    trials = []
    for index in range(count):
        faults: dict[str, Any] = {
            "latency_ms": rng.choice([0, 20, 50, 150]),
            "order_delay_ms": rng.choice([0, 100, 400, 800]),
        }
        if rng.random() < 0.2:
            faults["drop_probability"] = 0.5
        trials.append(Trial(f"kill-{index}", faults=faults, kill_after=rng.uniform(0.3, 3.0)))
    return trials


def situation(project: Project, watcher: StderrWatcher | None = None) -> str:
    """Where a kill landed, or what recovery left, for the failure report: the state's
    records, what the sandbox had received and the orders it holds (and the child's last
    lines)."""
    try:
        statuses: dict[str, object] = {
            a: (r["status"], r["orders"][-1]["customer_reference"] if r["orders"] else None)
            for a, r in project.load_state()["resources"].items()
        }
    except (AssertionError, ValueError, OSError, StateError) as error:
        statuses = {"(state)": f"unreadable: {error}"}
    requests_seen = [(r["endpoint"], r["status"]) for r in project.stats()["ordering_requests"]]
    orders = [
        (o.get("endpoint"), o.get("customerReference"), o.get("salesOrderId"),
         o.get("quotationId"), o.get("quotationStatus"))
        for o in project.ledger()
    ]
    text = f"state {statuses}; ordering requests {requests_seen}; sandbox orders {orders}"
    if watcher is not None:
        text += f"; child's last lines {watcher.text.strip().splitlines()[-3:]}"
    return text


def counted_kill_trial(tmp_path: Path, trial: Trial, tally: Tally) -> str:
    """One trial; returns where the kill landed and what recovery left."""
    with start_sandbox(tmp_path / "sandbox-data") as sandbox:
        project = make_project(tmp_path, sandbox.base_url)
        planned = project.cli("plan", str(project.specs), "--out", str(project.plan_path))
        assert planned.code == 0, planned.text
        project.faults(**trial.faults)
        proc = project.spawn("apply", str(project.plan_path))
        watcher = StderrWatcher(proc)
        assert trial.kill_after is not None
        time.sleep(trial.kill_after)  # a random moment is the point of this trial
        tally.trials += 1
        tally.faulted += proc.poll() is None
        kill(proc)
        wait_until_sandbox_idle(project)
        tally.unparsable += 0 if loads(project) else 1
        point = situation(project, watcher)
        project.faults(order_delay_ms=0, drop_next_orders=0, drop_probability=0, latency_ms=0)
        recover(project, tally, Result(0, "", ""))
        return f"{point}\n  after recovery: {situation(project)}"


def _problems(tally: Tally) -> tuple[int, int, int, int]:
    return tally.duplicates, tally.lost, tally.unparsable, len(tally.not_converged)


@pytest.mark.campaign
@pytest.mark.timeout(60 + 30 * CAMPAIGN_TRIALS)
def test_campaign_random_sigkills_during_apply(tmp_path: Path) -> None:
    tally = Tally()
    failed: list[str] = []
    print(f"\nseed {CAMPAIGN_SEED} (ONEATLAS_KILL_CAMPAIGN_SEED)")
    for trial in campaign_trials(CAMPAIGN_TRIALS):
        if CAMPAIGN_ONLY and trial.name not in CAMPAIGN_ONLY:
            continue
        described = f"{trial.name} (faults {trial.faults}, kill after {trial.kill_after:.3f} s)"
        before = _problems(tally)
        try:
            point = counted_kill_trial(tmp_path / trial.name, trial, tally)
        except Exception as error:
            raise AssertionError(
                f"seed {CAMPAIGN_SEED}, {described}: {error}\nreplay: "
                f"ONEATLAS_KILL_CAMPAIGN_SEED={CAMPAIGN_SEED} "
                f"ONEATLAS_KILL_CAMPAIGN_ONLY={trial.name}"
            ) from error
        # one line per trial: a failure outside the tally (a timeout) shows where it was
        print(f"{described}: {'ok' if _problems(tally) == before else 'FAILED'}")
        if _problems(tally) != before:
            failed.append(f"{described}, killed at: {point}")
    name = f"{tally.trials} random SIGKILLs during apply"
    if failed:
        replay = ",".join(f.split(" ", 1)[0] for f in failed)
        raise AssertionError(
            f"{tally.report(name)}\nseed {CAMPAIGN_SEED}; replay: "
            f"ONEATLAS_KILL_CAMPAIGN_SEED={CAMPAIGN_SEED} ONEATLAS_KILL_CAMPAIGN_ONLY={replay}\n"
            + "\n".join(failed)
            + f"\nnot converged: {tally.not_converged}"
        )
    tally.check(name)


@pytest.mark.timeout(120)
def test_idle_wait_covers_a_request_still_on_its_way(tmp_path: Path) -> None:
    """The harness's wait after a kill (``wait_until_sandbox_idle``) must also cover a request
    the killed client sent that the sandbox has not yet admitted (here: in its latency, before
    the limiter sees it); otherwise it lands during the recovery, meets its ordering requests
    (a ban) or creates an order after the operator checked the ledger (a duplicate)."""
    with start_sandbox(tmp_path / "sandbox-data") as sandbox:
        project = make_project(tmp_path, sandbox.base_url)
        assert project.cli("plan", str(project.specs), "--out", str(project.plan_path)).code == 0
        go_on = tmp_path / "release"
        proc = project.spawn(
            "apply",
            str(project.plan_path),
            **{PAUSE_ENV: "after-pending:1", RELEASE_ENV: str(go_on)},
        )
        watcher = StderrWatcher(proc)
        try:
            assert watcher.wait_for(f"{MARKER} after-pending", timeout=60), watcher.text
            project.faults(latency_ms=2000)
            sent = sum(project.stats()["requests"].get(e, 0) for e in ORDER_ENDPOINTS)
            go_on.touch()
            deadline = time.monotonic() + 60
            while sum(project.stats()["requests"].get(e, 0) for e in ORDER_ENDPOINTS) == sent:
                assert proc.poll() is None and time.monotonic() < deadline, watcher.text
                time.sleep(0.01)
        finally:
            kill(proc)  # the order is in the sandbox's latency: not admitted yet
        wait_until_sandbox_idle(project)
        assert len(project.ledger()) == 1, "the wait ended before the order was created"

"""Shared harness of the reliability suite: a loopback sandbox, a project, the CLI both
in-process and as a subprocess, and the invariants every test checks.

Invariants (``check_*``): each resource is ordered at most once at Airbus (the sandbox
ledger), every order in the ledger is recorded in the state, and the state file parses.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from oneatlas_plan.cli import run
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.sandbox.embedded import RunningSandbox, start_embedded
from oneatlas_plan.state.backends import open_backend
from oneatlas_plan.state.lock import LockInfo, read_lock
from oneatlas_plan.state.postgres import PostgresBackend

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-reliability-5b9e0c2f7d4a41e3"
ADDRESSES = {
    "tanzania-spot.malagarasi.malagarasi-west",
    "toulouse.city-centre.polygon-1",
    "xinjiang-pneo.hejing-west.hejing-west",
}
SETTLED = {"ordered", "quoted"}
# The client's timeouts (connect, read): a run killed mid-request holds the key back for
# connect + 2 x read (the ordering gate), which the next run of a trial then waits for; the
# loopback sandbox answers in milliseconds.
CLIENT_TIMEOUT = "1,4"
# A run killed while Airbus holds its answer: every earlier call is answered at once, so a
# shorter read timeout only shortens the hold its kill leaves (1 + 2 x 2 = 5 s, not 9 s).
HELD_KILL_TIMEOUT = "1,2"
UNSETTLED = {"pending", "unknown"}
# Variables that would change what a child process does.
_SCRUBBED_ENV = (
    "ONEATLAS_ENDPOINT",
    "ONEATLAS_STATE",
    "ONEATLAS_API_KEY",
    "ONEATLAS_HTTP_TIMEOUT",
    "ONEATLAS_PLAN_TEST_PAUSE",
    "ONEATLAS_PLAN_TEST_PAUSE_SECONDS",
    "ONEATLAS_PLAN_TEST_RELEASE",
    "ONEATLAS_PLAN_TEST_MARKS",
    "ONEATLAS_PLAN_TEST_REACHED",
)


def start_sandbox(data_dir: Path, **options: Any) -> RunningSandbox:
    options.setdefault("time_scale", 50)
    return start_embedded(data_dir, api_key=API_KEY, **options)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def _interruptible() -> None:
    """Ctrl-C reaches the child as it would from a terminal: a suite started from a background
    job (a CI script, nohup) passes SIGINT down ignored, and Python then installs no
    KeyboardInterrupt handler at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Project:
    """A directory with the shipped specs, a state file and a sandbox to talk to."""

    root: Path
    base_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    state_location: str | None = None  # a postgresql:// URL; None: the state file

    @property
    def on_database(self) -> bool:
        return self.state_location is not None

    @property
    def specs(self) -> Path:
        return self.root / "specs"

    @property
    def state_path(self) -> Path:
        return self.root / "oneatlas-state.json"

    @property
    def state_arg(self) -> str:
        return self.state_location or str(self.state_path)

    @property
    def plan_path(self) -> Path:
        return self.root / "plan.json"

    # ------------------------------------------------------------------ running the CLI
    def _args(self, args: tuple[str, ...]) -> list[str]:
        command = args[0]
        extra: list[str] = []
        if command in ("plan", "apply"):
            extra = ["--endpoint", self.base_url, "--state", self.state_arg]
        elif command == "state":
            extra = ["--state", self.state_arg]
        return [*args, *extra]

    def cli(self, *args: str) -> Result:
        """In-process, through the one error boundary (fast)."""
        out, err = io.StringIO(), io.StringIO()
        saved = {k: os.environ.get(k) for k in (*_SCRUBBED_ENV, *self.extra_env)}
        for key in _SCRUBBED_ENV:
            os.environ.pop(key, None)
        os.environ.update(self.env_overrides())
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = run(self._args(args))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        result = Result(int(code), out.getvalue(), err.getvalue())
        assert_no_traceback(result)
        return result

    def env_overrides(self) -> dict[str, str]:
        return {"ONEATLAS_API_KEY": API_KEY, "ONEATLAS_HTTP_TIMEOUT": CLIENT_TIMEOUT,
                **self.extra_env}

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        env.update(self.env_overrides())
        env.update(extra)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def spawn(self, *args: str, **extra_env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "oneatlas_plan", *self._args(args)],
            cwd=self.root,
            env=self.env(**extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_interruptible,
        )

    def subprocess(self, *args: str, timeout: float = 60, **extra_env: str) -> Result:
        proc = self.spawn(*args, **extra_env)
        out, err = proc.communicate(timeout=timeout)
        result = Result(proc.returncode, out, err)
        assert_no_traceback(result)
        return result

    # ------------------------------------------------------------------ the sandbox
    def ledger(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.base_url}/sandbox/v1/ledger", timeout=10)
        response.raise_for_status()
        return [o for o in response.json() if o.get("endpoint") != "prices"]

    def stats(self) -> dict[str, Any]:
        response = requests.get(f"{self.base_url}/sandbox/v1/stats", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def faults(self, **knobs: Any) -> None:
        response = requests.post(f"{self.base_url}/sandbox/v1/faults", json=knobs, timeout=10)
        response.raise_for_status()

    # ------------------------------------------------------------------ the state
    def load_state(self) -> dict[str, Any]:
        """The state as the tool sees it (file + journal); asserts the file parses."""
        if self.state_path.exists():
            json.loads(self.state_path.read_text(encoding="utf-8"))  # always complete
        with open_backend(self.state_arg) as backend:
            state = backend.store().load()
        return state.model_dump(mode="json")

    def lock_holder(self) -> LockInfo | None:
        """Who holds the run lock (from the lock file, or the database's holder row)."""
        if self.state_location is None:
            return read_lock(self.state_path)
        with PostgresBackend.from_url(self.state_location) as backend:
            found = backend.holder()
        return found[1] if found else None


def make_project(tmp_path: Path, base_url: str, state_location: str | None = None) -> Project:
    root = tmp_path / "project"
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "specs", root / "specs")
    return Project(root=root, base_url=base_url, state_location=state_location)


BACKENDS = ["file", "postgresql"]


@pytest.fixture(params=BACKENDS)
def state_location(request: pytest.FixtureRequest) -> str | None:
    """None (the state file) or a URL on a fresh schema of the session's PostgreSQL."""
    if request.param == "file":
        return None
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def any_project(tmp_path: Path, sandbox: RunningSandbox, state_location: str | None) -> Project:
    """A project on each state backend in turn."""
    return make_project(tmp_path, sandbox.base_url, state_location)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    with start_sandbox(tmp_path / "sandbox-data") as running:
        yield running


@pytest.fixture
def project(tmp_path: Path, sandbox: RunningSandbox) -> Project:
    return make_project(tmp_path, sandbox.base_url)


def assert_no_traceback(result: Result) -> None:
    assert "Traceback (most recent call last)" not in result.text, result.text
    assert result.code != 70, f"internal error:\n{result.text}"


# ---------------------------------------------------------------------------- invariants


def check_no_duplicate(project: Project) -> list[dict[str, Any]]:
    """Every resource (customerReference carries its idempotency key) ordered at most once."""
    ledger = project.ledger()
    counts = Counter(o.get("customerReference") for o in ledger)
    doubled = {ref: n for ref, n in counts.items() if n > 1}
    assert not doubled, f"duplicate orders at Airbus: {doubled}"
    return ledger


def check_ledger_in_state(project: Project, *, settled: bool) -> None:
    """Every ledger order is in the state: as its order (settled) or as pending/unknown."""
    state = project.load_state()
    records = {
        order["customer_reference"]: (address, record["status"], order)
        for address, record in state["resources"].items()
        for order in record["orders"][-1:]
    }
    for entry in check_no_duplicate(project):
        reference = entry.get("customerReference")
        assert reference in records, f"order {entry} at Airbus is missing from the state"
        address, status, order = records[reference]
        allowed = SETTLED if settled else SETTLED | UNSETTLED
        assert status in allowed, f"{address}: {status} but Airbus has {entry}"
        if status in SETTLED:
            assert order["sales_order_id"] == entry.get("salesOrderId"), (address, entry)
            assert order["quotation_id"] == entry.get("quotationId"), (address, entry)


def blocked(project: Project) -> dict[str, str]:
    """address -> customer reference of the records whose outcome is unknown."""
    state = project.load_state()
    return {
        address: record["orders"][-1]["customer_reference"]
        for address, record in state["resources"].items()
        if record["status"] in UNSETTLED
    }


def converge(project: Project, *, rounds: int = 6) -> list[str]:
    """Run plan/apply until nothing is left to do, as a careful operator would.

    A record still unknown after reconciliation is settled with ``state resolve
    --not-ordered`` only after checking that Airbus (the ledger) has no such order (the
    documented manual step). Returns the addresses so resolved.
    """
    resolved: list[str] = []
    arrived_late: set[str] = set()
    for _ in range(rounds):
        plan = project.cli(
            "plan", str(project.specs), "--out", str(project.plan_path), "--detailed-exitcode"
        )
        assert plan.code in (ExitCode.OK, ExitCode.CHANGES), plan.text
        still = blocked(project)
        if still:
            at_airbus = {o.get("customerReference") for o in project.ledger()}
            for address, reference in still.items():
                if reference in at_airbus and address not in arrived_late:
                    # The killed run's request was still on its way when this plan looked:
                    # Airbus created the order after the reconcile searched. It stays
                    # blocked (never re-ordered); the next plan's reconcile must find it.
                    arrived_late.add(address)
                    continue
                assert reference not in at_airbus, (
                    f"{address}: Airbus has its order {reference} but reconciliation did "
                    f"not find it\n{plan.text}"
                )
                settle = project.cli("state", "resolve", address, "--not-ordered")
                assert settle.code == 0, settle.text
                resolved.append(address)
            continue
        state = project.load_state()
        statuses = {a: r["status"] for a, r in state["resources"].items()}
        settled = set(statuses) == ADDRESSES and set(statuses.values()) <= SETTLED
        if settled and plan.code == ExitCode.OK:  # e.g. no quotation left to accept
            return resolved
        applied = project.cli("apply", str(project.plan_path))
        assert applied.code in (0, 1), applied.text
    raise AssertionError(f"not converged: {project.load_state()['resources'].keys()}")


def check_done(project: Project) -> None:
    state = project.load_state()
    statuses = {a: r["status"] for a, r in state["resources"].items()}
    assert set(statuses) == ADDRESSES, statuses
    assert set(statuses.values()) <= SETTLED, statuses
    check_ledger_in_state(project, settled=True)
    assert len(project.ledger()) == len(ADDRESSES)
    stats = project.stats()
    assert stats["bans"] == 0, f"the key was banned: {stats['ordering_requests']}"


# ---------------------------------------------------------------------------- subprocess kill


class StderrWatcher:
    """Reads a child's stderr in a thread; ``wait_for(text)`` blocks until it appears.

    The watcher owns the stream (``proc.stderr`` is None afterwards): it alone reads it and
    closes it at its end. Once the child has exited (been waited for, or killed with
    :func:`kill`), ``text`` is everything the child wrote: it waits for the reader to reach
    the end of the stream. (Closing the stream under the reader, as ``kill`` once did, made
    it lose the child's last lines and die of "I/O operation on closed file", which the
    suite's warnings-as-errors turned into the failure of a test that had passed.)
    """

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        if proc.stderr is None:
            raise ValueError("a watched child needs stderr=subprocess.PIPE, read by no one else")
        self.proc = proc
        self.lines: list[str] = []
        self._stream = proc.stderr
        proc.stderr = None  # nobody else reads or closes it (kill(), Popen's cleanup)
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._stream:
                with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()
        finally:
            self._stream.close()
            with self._cond:
                self._cond.notify_all()

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(text in line for line in self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._thread.is_alive()):
                    return any(text in line for line in self.lines)
                self._cond.wait(min(remaining, 0.05))
            return True

    def finish(self, timeout: float = 60) -> None:
        """Wait until the reader has read the stream to its end (the child has exited)."""
        self._thread.join(timeout)  # bounds a failure only: a dead child's pipe ends at once
        if self._thread.is_alive():
            raise AssertionError(
                f"the stderr of pid {self.proc.pid} is still open {timeout} s after it "
                f"exited (a process it started still holds it?): {''.join(self.lines)}"
            )

    @property
    def text(self) -> str:
        """What the child wrote so far; all of it once the child has exited."""
        if self.proc.returncode is not None:
            self.finish()
        with self._cond:
            return "".join(self.lines)


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL and reap (an unreaped zombie would still look like a live lock holder); its
    pipes are closed, except a stderr a :class:`StderrWatcher` reads (it closes it itself)."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)  # bounds a failure only (a killed process in uninterruptible I/O)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

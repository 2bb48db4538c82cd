"""The reliability harness itself: what its helpers promise the crash tests."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import StderrWatcher, kill

# Writes two lines on stderr, says so in a file, then waits to be killed.
_CHILD = (
    "import sys, time, pathlib\n"
    "sys.stderr.write('first\\nlast\\n'); sys.stderr.flush()\n"
    "pathlib.Path(sys.argv[1]).write_text('written')\n"
    "time.sleep(120)\n"
)


def test_a_child_killed_while_its_watcher_lags_loses_no_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The campaign's kill comes at any moment, also while the watcher has read the child's
    last lines but not yet handled them (a loaded machine: its thread waits for the CPU).
    kill() used to close the stream under it: its next read died of "I/O operation on closed
    file" (an exception in a thread, which the suite's warnings-as-errors turned into the
    failure of the whole 100-trial campaign, with no trial named) and the lines were lost."""
    raised: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    written = tmp_path / "written"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(written)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watcher = StderrWatcher(proc)
    try:
        with watcher._cond:  # the reader stops before it records a line, as if descheduled
            deadline = time.monotonic() + 60  # bounds a failure only
            while not written.exists():
                assert proc.poll() is None and time.monotonic() < deadline, proc.returncode
                time.sleep(0.01)
            kill(proc)
    finally:
        kill(proc)
    assert watcher.text == "first\nlast\n"
    assert raised == []

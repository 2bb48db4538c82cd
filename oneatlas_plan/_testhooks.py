"""TEST-ONLY crash points and handshakes, inert unless their variables are set.

The crash-injection tests (``tests/reliability/``) run ``apply`` in a subprocess with
``ONEATLAS_PLAN_TEST_PAUSE=POINT[:N]``: the N-th time (default 1) the code reaches
``pause(POINT)``, it prints ``ONEATLAS_PLAN_TEST_PAUSE POINT`` on stderr and waits, so the
test can SIGKILL it exactly there. It waits until the file named by
``ONEATLAS_PLAN_TEST_RELEASE`` exists (a handshake: the test lets it go on when it is
ready), or, without that variable, ``ONEATLAS_PLAN_TEST_PAUSE_SECONDS`` (default 30). With
``ONEATLAS_PLAN_TEST_REACHED=PATH`` it also writes the point's name to PATH on arrival, so a
test can wait for that file, act at that exact point (send a signal), then release it.
Points: ``before-pending``, ``after-pending``, ``after-outcome`` (apply), ``before-accept``
(apply: a quotation recorded, its automatic acceptance not yet sent), ``after-accept``
(quotations: the acceptance answered, not yet recorded), ``state-replace`` (state store: new
file written, not yet renamed over the old one), ``plan-queued`` (plan: a resource resolved
while an order is queued for pricing or being priced).

With ``ONEATLAS_PLAN_TEST_MARKS`` set, ``mark(POINT)`` prints ``ONEATLAS_PLAN_TEST_MARK POINT``
on stderr without stopping: ``lock-wait`` (the state lock is held by another process and
this one starts waiting for it).

Never set these variables outside tests.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ENV = "ONEATLAS_PLAN_TEST_PAUSE"
SECONDS_ENV = "ONEATLAS_PLAN_TEST_PAUSE_SECONDS"
RELEASE_ENV = "ONEATLAS_PLAN_TEST_RELEASE"
REACHED_ENV = "ONEATLAS_PLAN_TEST_REACHED"
MARKS_ENV = "ONEATLAS_PLAN_TEST_MARKS"
MARKER = "ONEATLAS_PLAN_TEST_PAUSE"
MARK = "ONEATLAS_PLAN_TEST_MARK"

_seen: dict[str, int] = {}


def pause(point: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != point:
        return
    _seen[point] = _seen.get(point, 0) + 1
    if _seen[point] != int(nth or 1):
        return
    sys.stderr.write(f"{MARKER} {point}\n")
    sys.stderr.flush()
    reached = os.environ.get(REACHED_ENV)
    if reached:
        Path(reached).write_text(point, encoding="utf-8")
    seconds = float(os.environ.get(SECONDS_ENV, "30"))
    release = os.environ.get(RELEASE_ENV)
    if not release:
        time.sleep(seconds)
        return
    deadline = time.monotonic() + max(seconds, 30.0)
    while not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def mark(point: str) -> None:
    if os.environ.get(MARKS_ENV):
        sys.stderr.write(f"{MARK} {point}\n")
        sys.stderr.flush()

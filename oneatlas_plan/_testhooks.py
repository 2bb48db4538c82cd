"""TEST-ONLY crash points, inert unless ``ONEATLAS_PLAN_TEST_PAUSE`` is set.

The crash-injection tests (``tests/reliability/test_crash_injection.py``) run ``apply`` in a
subprocess with ``ONEATLAS_PLAN_TEST_PAUSE=POINT[:N]``: the N-th time (default 1) the code
reaches ``pause(POINT)``, it prints ``ONEATLAS_PLAN_TEST_PAUSE POINT`` on stderr and sleeps
(``ONEATLAS_PLAN_TEST_PAUSE_SECONDS``, default 30), so the test can SIGKILL it exactly there.
Points: ``before-pending``, ``after-pending``, ``after-outcome`` (apply), ``state-replace``
(state store: new file written, not yet renamed over the old one).

Never set these variables outside tests.
"""

from __future__ import annotations

import os
import sys
import time

ENV = "ONEATLAS_PLAN_TEST_PAUSE"
SECONDS_ENV = "ONEATLAS_PLAN_TEST_PAUSE_SECONDS"
MARKER = "ONEATLAS_PLAN_TEST_PAUSE"

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
    time.sleep(float(os.environ.get(SECONDS_ENV, "30")))

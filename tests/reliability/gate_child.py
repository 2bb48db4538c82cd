"""A client process for tests/reliability/test_cut_off_turns.py: one price request through the
ordering gate the CLI would use (the machine's gate file, or the key's row of a PostgreSQL
state), with the client timeouts given on the command line.

Start-up (imports, token, limits) happens first; the child then prints ``READY`` and sends
when a line arrives on stdin: the test decides the moment, not the child's start-up time.

``python -m tests.reliability.gate_child BASE_URL STATE CONNECT READ``: STATE is a directory
(the runtime directory of the machine gate) or a ``postgresql://`` URL. Prints ``ANSWER <what>``
on stdout; the gate's own messages go to stderr.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient
from oneatlas_plan.api.gate import OrderingGate, machine_gate
from oneatlas_plan.api.profiles import origin_of, resolve_endpoint
from oneatlas_plan.errors import ToolError
from oneatlas_plan.state.postgres import PostgresBackend
from tests.reliability.conftest import API_KEY


def _gate(state: str, origin: str) -> OrderingGate:
    if state.startswith("postgresql://"):
        return PostgresBackend.from_url(state).ordering_gate(origin, API_KEY, Path("unused"))
    return machine_gate(Path(state), origin, API_KEY)


def main(base_url: str, state: str, connect: str, read: str) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    profile = resolve_endpoint(base_url)
    gate = _gate(state, origin_of(profile.order))
    client = OneAtlasClient(profile, ApiKey(API_KEY), gate=gate,
                            timeout=(float(connect), float(read)))
    try:
        client.me()  # the token and the sandbox's limits: nothing left but the price request
        print("READY", flush=True)
        sys.stdin.readline()
        client.price({})
        print("ANSWER ok", flush=True)
    except ToolError as error:
        print(f"ANSWER {type(error).__name__}: {error}", flush=True)
    finally:
        client.close()
        gate.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

"""One measured run in its own process (its peak RSS is its own, not the sandbox's).

``python _child.py ours BASE_URL SPEC_DIR`` plans SPEC_DIR against the sandbox at BASE_URL;
``python _child.py naive BASE_URL AOIS_JSON ORDERING_RPS`` runs the naive client. Prints one
JSON line: wall time, time from the first to the last price, client-side request counts, the
round trip of every price call (``price_rtts``: timed around ``requests.Session.send``, from
handing the prepared request over to having read the whole answer, server time included: the
mechanism of ``bench_apply``), the CPU time of the run (user + system, every thread: local
overhead, robust to a loaded machine) and the process's peak RSS (VmHWM).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import _common as c

PRICE_PATH = "/api/v1/prices"


def timed_requests(started: float) -> list[tuple[str, float, float]]:
    """(path, start since ``started``, round trip) of every request sent from now on, as
    ``bench_apply`` times its apply process: around ``requests.Session.send``, the answer read
    whole (the client never streams)."""
    import requests

    calls: list[tuple[str, float, float]] = []
    send = requests.Session.send

    def timed(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        begun = time.perf_counter()
        try:
            return send(self, request, **kwargs)
        finally:
            calls.append((request.path_url, begun - started, time.perf_counter() - begun))

    requests.Session.send = timed  # type: ignore[method-assign]
    return calls


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


def ours(base_url: str, spec_dir: Path) -> dict[str, Any]:
    from oneatlas_plan.api.auth import ApiKey
    from oneatlas_plan.api.client import OneAtlasClient
    from oneatlas_plan.api.profiles import resolve_endpoint
    from oneatlas_plan.planning.run import plan_specs
    from oneatlas_plan.state.model import State

    client = OneAtlasClient(resolve_endpoint(base_url), ApiKey(c.API_KEY))
    marks: dict[str, float] = {}

    def on_event(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done == 0:
            marks.setdefault(f"{stage}_start", now)
        if done == total:
            marks[f"{stage}_end"] = now

    started = time.perf_counter()
    calls = timed_requests(started)
    plan = plan_specs([spec_dir], State.new(), lambda: client, endpoint="sandbox",
                      on_event=on_event)
    wall = time.perf_counter() - started
    client.close()
    return {
        "wall": wall,
        "pricing": marks.get("price_end", started) - marks.get("price_start", started),
        "marks": {name: round(moment - started, 3) for name, moment in sorted(marks.items())},
        "client": client.stats.as_dict(),
        "price_rtts": [rtt for path, _, rtt in calls if path.startswith(PRICE_PATH)],
        "price_calls": [(at, rtt) for path, at, rtt in calls if path.startswith(PRICE_PATH)],
        # every request: (endpoint, start, round trip), to see what the first price waited for
        "timeline": [(_endpoint(path), round(at, 4), round(rtt, 4)) for path, at, rtt in calls],
        "first_price_call_s": next((round(at, 3) for path, at, _ in calls
                                    if path.startswith(PRICE_PATH)), None),
        "resources": len(plan.resources),
        "orders": len(plan.orders),
        "priced": sum(1 for o in plan.orders if o.price is not None),
    }


def _endpoint(path: str) -> str:
    """A request's endpoint without its query or identifiers (``/api/v1/prices``)."""
    return "/".join(part for part in path.split("?")[0].split("/")[:4])


def naive(base_url: str, aois_path: Path, ordering_rps: float) -> dict[str, Any]:
    from naive_client import naive_plan

    aois = [(name, geometry) for name, geometry in json.loads(aois_path.read_text())]
    result = naive_plan(base_url, c.API_KEY, aois, contract=c.CONTRACT,
                        ordering_rps=ordering_rps)
    return {"wall": result.seconds, "requests": result.requests, "priced": result.priced,
            "unsatisfied": result.unsatisfied, "errors": result.errors}


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    kind, base_url, path = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    started = cpu_seconds()
    result = ours(base_url, path) if kind == "ours" else naive(base_url, path, float(sys.argv[4]))
    result["cpu_s"] = cpu_seconds() - started
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main()

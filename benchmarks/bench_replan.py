"""Benchmark 2: incremental re-plan after editing one spec of an applied spec set.

100 specs of 10 AOIs, all applied; one spec's image format is edited (another product: its 10
resources must be ordered again); re-plan. Requests and wall time against the naive client,
which can only re-run everything.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import _common as c
import yaml
from naive_client import naive_plan

from oneatlas_plan.applying.session import plan_with_state


def main() -> None:
    args = c.parse_args(__doc__ or "")
    n_specs, per_spec = (4, 3) if args.quick else (100, 10)
    with tempfile.TemporaryDirectory(prefix="bench-replan-") as temp:
        work = Path(temp)
        world = c.applied_world(work, n_specs, per_spec, endpoint="sandbox")
        edited = world["specs"] / "bench-0001.yaml"
        document = yaml.safe_load(edited.read_text())
        document["orders"][0]["product"]["options"]["image_format"] = "dimap_jpeg2000_regular"
        edited.write_text(yaml.safe_dump(document, sort_keys=False))
        with c.sandbox(world["sandbox"]) as running:
            limits = c.limits(running)
            made = c.client(running)
            space = c.workspace(world["state"], "sandbox", lambda: made)
            c.reset_stats(running)
            started = time.perf_counter()
            plan = plan_with_state(space, [world["specs"]], out=work / "plan.json")
            ours_wall = time.perf_counter() - started
            ours_server = c.server_stats(running)
            made.close()
            time.sleep(2 / limits["ordering_rps"])
            c.reset_stats(running)
            aois = [(f"t{i:05d}", polygon)
                    for i, polygon in enumerate(c.world_aois("grid", n_specs * per_spec))]
            naive = naive_plan(running.base_url, running.api_key, aois, contract=c.CONTRACT,
                               ordering_rps=limits["ordering_rps"])
            naive_server = c.server_stats(running)
    actions: dict[str, int] = {}
    for resource in plan.resources:
        actions[resource.action] = actions.get(resource.action, 0) + 1
    ours_requests = ours_server["total"]
    row = {
        "resources": n_specs * per_spec,
        "edited_specs": 1,
        "actions": actions,
        "ours_wall_s": ours_wall,
        "ours_requests": ours_requests,
        "ours_requests_by_endpoint": ours_server["requests"],
        "ours_429": ours_server["too_many_requests"],
        "naive_wall_s": naive.seconds,
        "naive_requests": naive_server["total"],
        "naive_429": naive_server["too_many_requests"],
        "fewer_requests_x": naive_server["total"] / max(1, ours_requests),
        "less_time_x": naive.seconds / ours_wall,
    }
    goals = [
        c.goal("naive / ours requests", row["fewer_requests_x"], ">= 50",
               row["fewer_requests_x"] >= 50,
               "" if row["fewer_requests_x"] >= 50 or not args.quick else "quick: 12 AOIs only"),
        c.goal("naive / ours time", row["less_time_x"], ">= 20", row["less_time_x"] >= 20,
               "" if row["less_time_x"] >= 20 or not args.quick else "quick: 12 AOIs only"),
        c.goal("429s", row["ours_429"], "0", row["ours_429"] == 0),
    ]
    c.write_results("replan", quick=args.quick,
                    params={"specs": n_specs, "aois_per_spec": per_spec,
                            "time_scale": c.TIME_SCALE, "latency_ms": c.LATENCY_MS},
                    rows=[row], goals=goals, results_dir=args.results)


if __name__ == "__main__":
    main()

"""Benchmark 3: no-op re-plan of an applied spec set (nothing changed).

In-process (``plan_with_state``, no spec cache) and through the real CLI (``oneatlas-plan
plan ... --out``, a whole process): requests made (goal 0) and wall time (goal < 0.5 s for
1,000 resources, issue 18). The CLI keeps a spec cache beside the state
(``.oneatlas-cache/specs``); the world is applied in-process without it, so the first CLI run
fills it ("cold") and the next ones are what a user sees on every later no-op ("warm": the
median of three runs, with their CPU time, user + system, less sensitive to a loaded machine).
The package's bytecode is written first, as installing it does (``_common.compile_bytecode``).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import _common as c

from oneatlas_plan.applying.session import plan_with_state


def main() -> None:
    args = c.parse_args(__doc__ or "")
    n_specs, per_spec = (4, 3) if args.quick else (100, 10)
    c.compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="bench-noop-") as temp:
        work = Path(temp)
        port = c.free_port()
        endpoint = f"http://127.0.0.1:{port}"
        world = c.applied_world(work, n_specs, per_spec, endpoint=endpoint)
        with c.sandbox_on_port(world["sandbox"], port) as running:
            created: list[object] = []

            def make_client() -> object:
                created.append(c.client(running))
                return created[-1]

            c.reset_stats(running)
            started = time.perf_counter()
            plan = plan_with_state(c.workspace(world["state"], endpoint, make_client),
                                   [world["specs"]], out=work / "plan-lib.json")
            library_wall = time.perf_counter() - started
            library_server = c.server_stats(running)
            runs = []
            for name in ("cli-cold", "cli-1", "cli-2", "cli"):
                cpu_before = c.children_cpu_s()
                run = c.run_cli_rss(
                    ["plan", str(world["specs"]), "--endpoint", endpoint,
                     "--state", str(world["state"]), "--out", str(work / f"plan-{name}.json"),
                     "--detailed-exitcode"],
                    cwd=work, env={"ONEATLAS_API_KEY": c.API_KEY},
                )
                runs.append({**run, "cpu_s": c.children_cpu_s() - cpu_before})
            cold, warm = runs[0], runs[1:]
            cli_server = c.server_stats(running)
            cli_plan = json.loads((work / "plan-cli.json").read_text())
    noop = sum(1 for r in plan.resources if r.action == "no-op")
    row = {
        "resources": n_specs * per_spec,
        "no_op": noop,
        "library_wall_s": library_wall,
        "library_requests": library_server["total"],
        "library_clients_created": len(created),
        "cli_cold_cache_wall_s": cold["seconds"],
        "cli_cold_cache_cpu_s": cold["cpu_s"],
        "cli_wall_s": statistics.median(r["seconds"] for r in warm),
        "cli_wall_min_s": min(r["seconds"] for r in warm),
        "cli_cpu_s": statistics.median(r["cpu_s"] for r in warm),
        "cli_exit_code": max(r["exit_code"] for r in runs),
        "cli_peak_rss_mb": max(r["peak_rss_mb"] or 0 for r in warm),
        "cli_requests": cli_server["total"] - library_server["total"],
        "cli_plan_meta_requests": sum(cli_plan["meta"].get("requests", {}).values()),
    }
    goals = [
        c.goal("requests (library)", row["library_requests"], "0", row["library_requests"] == 0),
        c.goal("requests (CLI)", row["cli_requests"], "0", row["cli_requests"] == 0),
        c.goal("CLI wall time (warm spec cache, median of 3)", row["cli_wall_s"], "< 0.5 s",
               row["cli_wall_s"] < 0.5),
        c.goal("all no-op", noop, str(n_specs * per_spec), noop == n_specs * per_spec),
    ]
    c.write_results("noop", quick=args.quick,
                    params={"specs": n_specs, "aois_per_spec": per_spec},
                    rows=[row], goals=goals, results_dir=args.results)
    if row["cli_exit_code"] != 0:
        raise SystemExit("CLI plan failed: " + "".join(r["stderr"] for r in runs))


if __name__ == "__main__":
    main()

"""Benchmark 3: no-op re-plan of an applied spec set (nothing changed).

In-process (``plan_with_state``, no spec cache) and through the real CLI (``oneatlas-plan
plan ... --out``, a whole process): requests made (goal 0) and wall time (goal < 0.5 s for
1,000 resources, issue 18). The CLI keeps a spec cache beside the state
(``.oneatlas-cache/specs``); the world is applied in-process without it, so the first CLI run
fills it ("cold") and the second is the one a user sees on every later no-op ("warm").
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import _common as c

from oneatlas_plan.applying.session import plan_with_state


def main() -> None:
    args = c.parse_args(__doc__ or "")
    n_specs, per_spec = (4, 3) if args.quick else (100, 10)
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
            runs = [
                c.run_cli_rss(
                    ["plan", str(world["specs"]), "--endpoint", endpoint,
                     "--state", str(world["state"]), "--out", str(work / f"plan-{name}.json"),
                     "--detailed-exitcode"],
                    cwd=work, env={"ONEATLAS_API_KEY": c.API_KEY},
                )
                for name in ("cli-cold", "cli")
            ]
            cold, cli = runs
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
        "cli_wall_s": cli["seconds"],
        "cli_exit_code": max(cold["exit_code"], cli["exit_code"]),
        "cli_peak_rss_mb": cli["peak_rss_mb"],
        "cli_requests": cli_server["total"] - library_server["total"],
        "cli_plan_meta_requests": sum(cli_plan["meta"].get("requests", {}).values()),
    }
    goals = [
        c.goal("requests (library)", row["library_requests"], "0", row["library_requests"] == 0),
        c.goal("requests (CLI)", row["cli_requests"], "0", row["cli_requests"] == 0),
        c.goal("CLI wall time (warm spec cache)", row["cli_wall_s"], "< 0.5 s",
               row["cli_wall_s"] < 0.5),
        c.goal("all no-op", noop, str(n_specs * per_spec), noop == n_specs * per_spec),
    ]
    c.write_results("noop", quick=args.quick,
                    params={"specs": n_specs, "aois_per_spec": per_spec},
                    rows=[row], goals=goals, results_dir=args.results)
    if row["cli_exit_code"] != 0:
        raise SystemExit(f"CLI plan failed: {cold['stderr']}{cli['stderr']}")


if __name__ == "__main__":
    main()

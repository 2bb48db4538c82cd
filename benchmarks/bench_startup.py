"""Benchmark 5: start-up, whole process: ``oneatlas-plan --version`` and ``validate`` on one
spec (goals < 0.3 s and < 1 s), their CPU time (user + system), plus which heavy modules each
one imported. The package's bytecode is written first, as installing it does."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import _common as c

HEAVY = ("shapely", "pyproj", "matplotlib", "werkzeug", "oneatlas_plan.sandbox",
         "numpy", "requests")
PROBE = (
    "import sys, json\n"
    "from oneatlas_plan.cli import run\n"
    "try:\n"
    "    run(sys.argv[1:])\n"
    "finally:\n"
    f"    heavy = {HEAVY!r}\n"
    "    loaded = [h for h in heavy if h in sys.modules]\n"
    "    print('HEAVY', json.dumps(loaded), file=sys.stderr)\n"
)


def heavy_imports(args: list[str]) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          check=False, cwd=c.ROOT)
    line = next(x for x in done.stderr.splitlines() if x.startswith("HEAVY"))
    return list(json.loads(line.split(" ", 1)[1]))


def main() -> None:
    args = c.parse_args(__doc__ or "")
    repeats = 3 if args.quick else 7
    c.compile_bytecode()
    spec = c.ROOT / "specs" / "toulouse-pleiades.yaml"
    cases = {"--version": ["--version"], "validate (1 spec)": ["validate", str(spec)]}
    goals_s = {"--version": 0.3, "validate (1 spec)": 1.0}
    rows, goals = [], []
    for name, argv in cases.items():
        runs = []
        for _ in range(repeats):
            cpu_before = c.children_cpu_s()
            runs.append({**c.run_cli(argv, cwd=c.ROOT), "cpu_s": c.children_cpu_s() - cpu_before})
        if any(r["exit_code"] != 0 for r in runs):
            raise SystemExit(f"{name} failed: {runs[0]['stderr']}")
        seconds = [r["seconds"] for r in runs]
        row = {"command": f"oneatlas-plan {' '.join(argv[:1])}", "case": name,
               "median_s": statistics.median(seconds), "min_s": min(seconds),
               "max_s": max(seconds), "cpu_median_s": statistics.median(r["cpu_s"] for r in runs),
               "runs": repeats,
               "heavy_imports": ", ".join(heavy_imports(argv)) or "none"}
        rows.append(row)
        goals.append(c.goal(f"{name} (median)", row["median_s"], f"< {goals_s[name]} s",
                            row["median_s"] < goals_s[name]))
    version_heavy = rows[0]["heavy_imports"]
    goals.append(c.goal("--version imports no heavy module", version_heavy, "none",
                        version_heavy == "none"))
    c.write_results("startup", quick=args.quick, params={"repeats": repeats,
                    "python": sys.executable, "spec": str(Path(spec).relative_to(c.ROOT))},
                    rows=rows, goals=goals, results_dir=args.results)


if __name__ == "__main__":
    main()

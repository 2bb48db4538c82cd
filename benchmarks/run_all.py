"""Run every benchmark (``--quick`` for the small sizes) and print the combined tables."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "performance.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
BENCHMARKS = ("bench_startup", "bench_noop", "bench_replan", "bench_plan", "bench_apply",
              "bench_bigplan", "bench_state_backends")


def update_docs() -> None:
    """Put the latest tables (benchmarks/results/*.md) and the machine into docs/performance.md."""
    import json

    results = HERE / "results"
    machine = json.loads((results / "plan.json").read_text())["machine"]
    parts = [
        f"Machine: {machine['cpu']}, {machine['nproc']} CPUs (nproc), Python {machine['python']}, "
        f"{machine['platform']}.",
        "",
        "Commands: `.venv/bin/python benchmarks/run_all.py` (each table: "
        "`.venv/bin/python benchmarks/bench_<name>.py`). The machine is shared: seconds vary "
        "with its load, so compare the ratios measured within one run.",
        "",
    ]
    for name in BENCHMARKS:
        table = results / f"{name.removeprefix('bench_')}.md"
        if table.exists():
            parts += [table.read_text().replace("## ", "### ", 1), ""]
    text = DOC.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + START + "\n" + "\n".join(parts) + END + tail)


def main() -> int:
    extra = sys.argv[1:]
    if extra == ["--docs-only"]:
        update_docs()
        return 0
    failed = []
    for name in BENCHMARKS:
        started = time.perf_counter()
        print(f"== {name} {' '.join(extra)}", flush=True)
        code = subprocess.call([sys.executable, str(HERE / f"{name}.py"), *extra])
        print(f"   {name}: exit {code} in {time.perf_counter() - started:.1f} s", flush=True)
        if code != 0:
            failed.append(name)
    results = HERE / "results"
    for name in BENCHMARKS:
        table = results / f"{name.removeprefix('bench_')}.md"
        if table.exists() and "--results" not in extra:
            print(table.read_text())
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
    elif not extra:
        update_docs()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

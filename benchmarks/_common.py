"""Shared pieces of the benchmarks: the scaled sandbox, generated specs, clients, results.

Every benchmark runs against the embedded sandbox with Airbus's limits time-scaled by
``TIME_SCALE`` and a latency scaled the same way, so that the ratio latency / ordering interval
is the production one (80 ms ± 20 ms against a 1 s interval). The client is the production
client: it reads the scaled limits from ``/sandbox/v1/config``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from oneatlas_plan.api.auth import ApiKey  # noqa: E402
from oneatlas_plan.api.client import OneAtlasClient  # noqa: E402
from oneatlas_plan.api.profiles import resolve_endpoint  # noqa: E402
from oneatlas_plan.sandbox.embedded import RunningSandbox, start_embedded  # noqa: E402

API_KEY = "sandbox-key"
TIME_SCALE = 20.0  # ordering 20 rps one at a time, search 2,000 rps
PRODUCTION_LATENCY_MS = 80.0
PRODUCTION_JITTER_MS = 20.0
LATENCY_MS = PRODUCTION_LATENCY_MS / TIME_SCALE  # 4 ms: the production latency/interval ratio
JITTER_MS = PRODUCTION_JITTER_MS / TIME_SCALE
FAST_SCALE = 1000.0  # for set-up steps that are not measured (1 ms ordering interval)

CONTRACT = "Test_E2E_BR_1392-1375"
WORKSPACE = "1a7aaef1-839e-4eaa-826c-aabee39eac85"
REGION = (1.0, 43.2)  # south-west corner: the Garonne plain south-west of Toulouse
TILE_KM = 3.0  # 9 km² tiles

# The spread world: random small polygons in clusters over 8 land regions (fixed seed).
SPREAD_SEED = 18
SPREAD_REGIONS = (  # (lon, lat) of each region's centre: farmland, far apart
    (1.3, 43.6),  # Garonne plain, France
    (-3.7, 40.4),  # Meseta around Madrid
    (10.0, 45.2),  # Po valley
    (11.5, 48.3),  # Bavaria
    (31.0, 30.4),  # Nile delta
    (-98.0, 38.5),  # Kansas
    (-47.9, -15.8),  # Brazilian cerrado
    (146.0, -34.5),  # Riverina, Australia
)
SPREAD_CLUSTERS = 5  # per region, centres within ±0.75° of it
SPREAD_CLUSTER_SIGMA_DEG = 0.1  # AOIs scatter ~10 km around their cluster's centre
SPREAD_AREA_KM2 = (6.0, 32.0)
SPREAD_VERTICES = (5, 8)
WORLDS = ("grid", "spread")


def parse_args(description: str, *, worlds: bool = False) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    if worlds:
        parser.add_argument("--world", choices=(*WORLDS, "both"), default="both",
                            help="grid tiles, spread polygons, or both (default)")
        parser.add_argument("--size", type=int, default=None,
                            help="number of AOIs per world (default 1,000; 10 with --quick)")
        parser.add_argument("--no-memory", action="store_true",
                            help="skip the 10,000-AOI memory-only row")
        parser.add_argument("--no-naive", action="store_true",
                            help="skip the naive client (its ratios are then not measured)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="output directory")
    return parser.parse_args()


# ------------------------------------------------------------------------------ the world


@contextmanager
def sandbox(data_dir: Path, *, fast: bool = False, **options: Any) -> Iterator[RunningSandbox]:
    """The embedded sandbox, scaled for measurement (or ``fast`` for set-up)."""
    settings: dict[str, Any] = (
        {"time_scale": FAST_SCALE}
        if fast
        else {"time_scale": TIME_SCALE, "latency_ms": LATENCY_MS, "jitter_ms": JITTER_MS}
    )
    settings.update(options)
    with start_embedded(data_dir, api_key=API_KEY, delivery_delay_s=0, **settings) as running:
        yield running


def client(running: RunningSandbox) -> OneAtlasClient:
    return OneAtlasClient(resolve_endpoint(running.base_url), ApiKey(running.api_key))


def server_stats(running: RunningSandbox) -> dict[str, Any]:
    stats = requests.get(running.base_url + "/sandbox/v1/stats", timeout=30).json()
    return {
        "requests": dict(sorted(stats["requests"].items())),
        "total": sum(stats["requests"].values()),
        "too_many_requests": stats["too_many_requests"],
        "bans": stats["bans"],
        "max_concurrent_ordering": stats["max_concurrent_ordering"],
    }


def reset_stats(running: RunningSandbox) -> None:
    requests.post(running.base_url + "/sandbox/v1/reset-stats", timeout=30).raise_for_status()


def limits(running: RunningSandbox) -> dict[str, float]:
    config = requests.get(running.base_url + "/sandbox/v1/config", timeout=30).json()
    return {
        "ordering_rps": float(config["limits"]["ordering_rps"]),
        "search_rps": float(config["limits"]["search_rps"]),
        "latency_s": LATENCY_MS / 1000.0,
    }


# ------------------------------------------------------------------------------ specs


def tiles(count: int) -> list[tuple[float, float, float, float]]:
    """``count`` square tiles of TILE_KM on a grid (5 % gaps) starting at REGION."""
    lon0, lat0 = REGION
    dlat = TILE_KM / 111.0
    dlon = TILE_KM / (111.0 * math.cos(math.radians(lat0)))
    columns = math.ceil(math.sqrt(count))
    boxes = []
    for k in range(count):
        row, column = divmod(k, columns)
        west, south = lon0 + column * dlon * 1.05, lat0 + row * dlat * 1.05
        boxes.append(
            (round(west, 5), round(south, 5), round(west + dlon, 5), round(south + dlat, 5))
        )
    return boxes


def _polygon(rng: random.Random, lon: float, lat: float) -> dict[str, Any]:
    """A simple (star-shaped) polygon of 5–8 vertices and 6–32 km² centred on lon, lat."""
    count = rng.randint(*SPREAD_VERTICES)
    step = 2 * math.pi / count
    # jittered, evenly spread angles: every gap < π, so the polygon is simple (star-shaped)
    angles = [step * (k + rng.uniform(-0.4, 0.4)) for k in range(count)]
    radii = [rng.uniform(0.55, 1.0) for _ in range(count)]
    points = [(r * math.cos(a), r * math.sin(a)) for r, a in zip(radii, angles, strict=True)]
    area = 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1)
                         in zip(points, points[1:] + points[:1], strict=True)))
    km = math.sqrt(rng.uniform(*SPREAD_AREA_KM2) / area)  # unit -> km scale
    km_lon = 111.32 * math.cos(math.radians(lat))
    ring = [[round(lon + x * km / km_lon, 6), round(lat + y * km / 110.57, 6)] for x, y in points]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def spread(count: int, seed: int = SPREAD_SEED) -> list[dict[str, Any]]:
    """``count`` polygons of the spread world; AOI i lies in region i mod 8, cluster (i // 8)
    mod 5. Every polygon depends only on (seed, i): a smaller world is a prefix of a larger."""
    centres = []
    for r, (lon, lat) in enumerate(SPREAD_REGIONS):
        rng = random.Random(f"{seed}-region-{r}")
        centres.append([(lon + rng.uniform(-0.75, 0.75), lat + rng.uniform(-0.75, 0.75))
                        for _ in range(SPREAD_CLUSTERS)])
    polygons = []
    for i in range(count):
        region = i % len(SPREAD_REGIONS)
        lon, lat = centres[region][(i // len(SPREAD_REGIONS)) % SPREAD_CLUSTERS]
        rng = random.Random(f"{seed}-aoi-{i}")
        polygons.append(_polygon(rng, lon + rng.gauss(0, SPREAD_CLUSTER_SIGMA_DEG),
                                 lat + rng.gauss(0, SPREAD_CLUSTER_SIGMA_DEG)))
    return polygons


def world_aois(world: str, count: int) -> list[dict[str, Any]]:
    """The GeoJSON polygons of ``count`` AOIs of a world (grid tiles or spread polygons)."""
    if world == "spread":
        return spread(count)
    if world != "grid":
        raise ValueError(f"unknown world {world!r}")
    return [
        {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
        for w, s, e, n in tiles(count)
    ]


def _aoi_entry(name: str, shape: tuple[float, float, float, float] | dict[str, Any]
               ) -> dict[str, Any]:
    if isinstance(shape, dict):
        return {"name": name, "geometry": shape}
    return {"name": name, "bbox": list(shape)}


def spec_document(
    name: str,
    boxes: Sequence[tuple[float, float, float, float] | dict[str, Any]],
    *,
    first: int = 0,
    pairs_per_order: int = 1,
    cloud_max: float = 10,
) -> dict[str, Any]:
    """One spec: a Pléiades archive order, best scene per AOI in summer 2023, cloud ≤ 10 %."""
    return {
        "version": 1,
        "name": name,
        "orders": [
            {
                "name": "summer",
                "aois": [
                    _aoi_entry(f"t{first + i:05d}", box) for i, box in enumerate(boxes)
                ],
                "search": {
                    "constellation": ["PHR"],
                    "acquired": {"from": "2023-06-01", "to": "2023-08-31"},
                    "cloud_cover": {"max": cloud_max},
                },
                "selection": {"rank_by": ["cloud_cover", "-acquisition_date"]},
                "product": {
                    "type": "PleiadesArchiveMono",
                    "options": {
                        "spectral_processing": "pansharpened_natural_color",
                        "radiometric_processing": "display",
                        "pixel_coding": "8bits",
                        "image_format": "dimap_geotiff",
                        "processing_level": "ortho",
                        "projection": "auto",
                        "dem": "best_available",
                        "licence": "standard",
                    },
                },
                "order": {
                    "contract": CONTRACT,
                    "primary_market": "AGRI",
                    "customer_reference": "{spec}-{aoi}",
                    "delivery": {"workspace": WORKSPACE},
                    "pairs_per_order": pairs_per_order,
                },
            }
        ],
    }


def write_specs(
    directory: Path, n_aois: int, *, n_specs: int = 1, pairs_per_order: int = 1,
    world: str = "grid",
) -> list[Path]:
    """``n_specs`` spec files sharing ``n_aois`` AOIs of ``world`` (in order); their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    boxes: Sequence[Any] = tiles(n_aois) if world == "grid" else spread(n_aois)
    per_spec = math.ceil(n_aois / n_specs)
    paths = []
    for s in range(n_specs):
        chunk = boxes[s * per_spec : (s + 1) * per_spec]
        document = spec_document(
            f"bench-{s:04d}", chunk, first=s * per_spec, pairs_per_order=pairs_per_order
        )
        path = directory / f"bench-{s:04d}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------ timing


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start


def run_cli(args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``oneatlas-plan ARGS`` as its own process; wall time and exit code."""
    executable = Path(sys.executable).with_name("oneatlas-plan")
    command = [str(executable), *args]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        check=False,
    )
    return {
        "seconds": time.perf_counter() - started,
        "exit_code": done.returncode,
        "stderr": done.stderr[-2000:],
        "stdout_bytes": len(done.stdout),
    }


# ------------------------------------------------------------------------------ machine / results


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],  # the machine is shared
    }


def goal(metric: str, value: float | int | None, target: str, met: bool, why: str = "") -> dict:
    return {"metric": metric, "value": value, "goal": target, "met": bool(met), "why": why}


def write_results(
    name: str,
    *,
    quick: bool,
    params: dict[str, Any],
    rows: list[dict[str, Any]],
    goals: list[dict[str, Any]],
    results_dir: Path = RESULTS,
) -> Path:
    """``<results>/<name>.json`` and ``<name>.md`` (rows table + goals table)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "quick": quick,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "params": params,
        "rows": rows,
        "goals": goals,
    }
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    (results_dir / f"{name}.md").write_text(markdown(document))
    return path


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def markdown(document: dict[str, Any]) -> str:
    lines = [f"## {document['benchmark']}" + (" (quick)" if document["quick"] else ""), ""]
    load = document.get("machine", {}).get("load_average")
    if load:  # the machine is shared: seconds mean little without it
        lines += [f"Load average (1, 5, 15 min) when written: {', '.join(map(str, load))}.", ""]
    rows = document["rows"]
    if rows:
        columns = list(dict.fromkeys(key for row in rows for key in row))
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for row in rows:
            lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
        lines.append("")
    if document["goals"]:
        lines += ["| metric | value | goal | met | why |", "|---|---|---|---|---|"]
        for g in document["goals"]:
            mark = "yes" if g["met"] else "**no**"
            lines.append(
                f"| {g['metric']} | {_cell(g['value'])} | {g['goal']} | {mark} | {g['why']} |"
            )
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ applied worlds


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox_on_port(data_dir: Path, port: int, **options: Any) -> Iterator[RunningSandbox]:
    """The scaled sandbox on a chosen port (plans name their endpoint by URL)."""
    from oneatlas_plan.sandbox.embedded import make_config

    settings: dict[str, Any] = {
        "time_scale": TIME_SCALE, "latency_ms": LATENCY_MS, "jitter_ms": JITTER_MS,
        "delivery_delay_s": 0,
    }
    settings.update(options)
    running = RunningSandbox(Path(data_dir), make_config(API_KEY, **settings), port=port)
    try:
        yield running
    finally:
        running.stop()


def workspace(state: Path | str, endpoint: str, make_client: Any) -> Any:
    from oneatlas_plan.applying.session import Workspace
    from oneatlas_plan.state.backends import open_backend

    return Workspace(endpoint=endpoint, state=open_backend(state), client=make_client,
                     warn=lambda message: print("warning:", message, file=sys.stderr))


def plan_and_apply(
    spec_dir: Path, state_path: Path, running: RunningSandbox, endpoint: str
) -> dict[str, Any]:
    """Plan and apply everything (a set-up step: use a ``fast`` sandbox)."""
    from oneatlas_plan.applying.apply import ApplySettings
    from oneatlas_plan.applying.session import apply_with_state, plan_with_state

    made = client(running)
    try:
        space = workspace(state_path, endpoint, lambda: made)
        plan = plan_with_state(space, [spec_dir], out=None)
        result = apply_with_state(space, plan, ApplySettings())
    finally:
        made.close()
    return {"orders": len(result.outcomes), "ordered": result.count("ordered"),
            "failed": result.failed}


def applied_world(work: Path, n_specs: int, per_spec: int, endpoint: str) -> dict[str, Path]:
    """``n_specs`` specs of ``per_spec`` AOIs, planned and applied (orders in the sandbox's
    world under ``work/sandbox``, records in ``work/oneatlas-state.json``)."""
    spec_dir = work / "specs"
    write_specs(spec_dir, n_specs * per_spec, n_specs=n_specs)
    state_path = work / "oneatlas-state.json"
    with sandbox(work / "sandbox", fast=True) as running:
        outcome = plan_and_apply(spec_dir, state_path, running, endpoint)
    if outcome["failed"] or outcome["ordered"] != n_specs * per_spec:
        raise RuntimeError(f"set-up apply did not order everything: {outcome}")
    return {"specs": spec_dir, "state": state_path, "sandbox": work / "sandbox"}


# The console entry point (``main``, as the installed ``oneatlas-plan`` runs it), then the peak
# RSS: VmHWM, not ru_maxrss (Linux carries a parent's peak RSS into ru_maxrss across fork + exec)
CLI_WITH_RSS = (
    "import sys\n"
    "from oneatlas_plan.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "finally:\n"
    "    hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
    "    print('MAXRSS_KB', hwm[0] if hwm else 0, file=sys.stderr)\n"
)


def run_cli_rss(args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None
                ) -> dict[str, Any]:
    """The CLI in its own process; wall time, exit code and the process's peak RSS."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CLI_WITH_RSS, *args], cwd=cwd,
        env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False,
    )
    seconds = time.perf_counter() - started
    rss = [line for line in done.stderr.splitlines() if line.startswith("MAXRSS_KB")]
    return {
        "seconds": seconds,
        "exit_code": done.returncode,
        "peak_rss_mb": int(rss[-1].split()[1]) / 1024 if rss else None,
        "stderr": done.stderr[-2000:],
        "stdout": done.stdout,
    }


def compile_bytecode() -> None:
    """The package's bytecode, as installing it writes it (pip compiles a wheel's modules): an
    editable install run with ``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile every module
    it imports on every run (≈ 0.1–0.2 s of a start-up), which no installed user pays."""
    import compileall

    compileall.compile_dir(str(ROOT / "oneatlas_plan"), quiet=1)


def children_cpu_s() -> float:
    """User + system CPU seconds of the finished child processes so far (delta = one run)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

"""``oneatlas-plan sandbox serve|ledger``: the click group the main CLI adds lazily."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import click

DEFAULT_DATA_DIR = Path(".oneatlas-sandbox")


@click.group(name="sandbox")
def sandbox() -> None:
    """Run the local OneAtlas sandbox (no API key or network needed)."""


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address only.")
@click.option("--port", default=8642, show_default=True, type=int, help="0 = ephemeral port.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Where orders, quotations and deliveries persist.",
)
@click.option(
    "--catalog",
    "catalogs",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="GeoJSON FeatureCollection of fixed features to add (repeatable).",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the archive.")
@click.option("--api-key", default="sandbox-key", show_default=True)
@click.option(
    "--time-scale",
    default=1.0,
    show_default=True,
    type=float,
    help="Multiply rate limits and divide the ban duration by this factor.",
)
@click.option("--no-limits", is_flag=True, help="Disable rate limiting entirely.")
@click.option("--latency", "latency_ms", default=0.0, type=float, help="Added latency (ms).")
@click.option("--jitter", "jitter_ms", default=0.0, type=float, help="Latency jitter ± (ms).")
@click.option("--error-rate", default=0.0, type=float, help="Probability of a 500/502/503.")
@click.option("--token-ttl", default=3600.0, type=float, help="Token lifetime (s).")
@click.option(
    "--drop-probability",
    default=0.0,
    type=float,
    help="Probability to commit an order and then drop the connection.",
)
@click.option(
    "--drop-next-orders",
    default=0,
    type=int,
    help="Commit then drop the connection for the next N orders.",
)
@click.option(
    "--order-delay",
    "order_delay_ms",
    default=0.0,
    type=float,
    help="Delay between committing an order and answering (ms).",
)
@click.option(
    "--delivery-delay",
    "delivery_delay_s",
    default=0.0,
    type=float,
    help="Delay before an accepted order is delivered (s).",
)
@click.option(
    "--corrupt-downloads",
    default=0,
    type=int,
    help="Flip one byte in the next N downloads (the checksum header stays right).",
)
@click.option(
    "--truncate-downloads-at",
    default=0,
    type=int,
    help="Cut every download from byte 0 at this byte, then close the connection.",
)
@click.option("--ignore-ranges", is_flag=True, help="Answer downloads in full despite Range.")
def serve(
    host: str,
    port: int,
    data_dir: Path,
    catalogs: tuple[Path, ...],
    seed: int,
    api_key: str,
    time_scale: float,
    no_limits: bool,
    **faults: float,
) -> None:
    """Serve the sandbox until interrupted."""
    from .embedded import RunningSandbox, make_config

    config = make_config(
        api_key,
        seed=seed,
        time_scale=time_scale,
        limits_enabled=not no_limits,
        catalog_files=tuple(str(c) for c in catalogs),
        **faults,
    )
    running = RunningSandbox(data_dir, config, host=host, port=port)
    click.echo(f"OneAtlas sandbox listening on {running.base_url}")
    click.echo(f"API key: {running.api_key}")
    click.echo(f"Data dir: {data_dir}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


@sandbox.command()
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=DEFAULT_DATA_DIR, show_default=True
)
def ledger(data_dir: Path) -> None:
    """Print every order the sandbox ever received (JSON list)."""
    from .store import read_ledger

    click.echo(json.dumps(read_ledger(data_dir), indent=2, ensure_ascii=False))

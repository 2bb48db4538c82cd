"""A real, throwaway PostgreSQL server for the tests (Debian's initdb/pg_ctl, loopback only).

The cluster lives in a temporary directory, listens on a free 127.0.0.1 port with ``trust``
authentication, and is run as the ``postgres`` user when the tests run as root (initdb
refuses root). Each test gets its own schema (:meth:`PostgresServer.url`).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SKIP_REASON = (
    "no PostgreSQL server binaries (initdb/pg_ctl in PATH or /usr/lib/postgresql/*/bin); "
    "install Debian's postgresql package to run the PostgreSQL backend tests"
)


def find_bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def url(self, schema: str | None = None, database: str = "postgres") -> str:
        name = schema or f"t_{uuid.uuid4().hex[:12]}"
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}?schema={name}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c fsync=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop("fast")
        self.start()

    def sql(self, statement: str) -> str:
        result = self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-At",
            "-c",
            statement,
        )
        return result.stdout.strip()


def start_server() -> PostgresServer:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError(SKIP_REASON)
    root = Path(tempfile.mkdtemp(prefix="oneatlas-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    server = PostgresServer(bin_dir=bin_dir, root=root, port=_free_port())
    server._run(
        "initdb",
        "-D",
        str(server.data),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
        "--locale=C",
    )
    server.start()
    return server


def destroy(server: PostgresServer) -> None:
    server.stop("immediate")
    shutil.rmtree(server.root, ignore_errors=True)


GATE_APPLICATION = "oneatlas-plan gate "


def gate_sessions(conninfo: str) -> dict[int, tuple[int, set[int]]]:
    """The ordering-gate sessions on the server (oneatlas_plan/state/pg_gate.py names them
    after their process): client process id → (server session pid, sessions blocking it)."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT application_name, pid, pg_blocking_pids(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE %s", (GATE_APPLICATION + "%",)).fetchall()
    return {int(name.removeprefix(GATE_APPLICATION)): (int(pid), set(blocking))
            for name, pid, blocking in rows}


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90.0,
             describe: Callable[[], object] = lambda: "") -> None:
    """Poll ``condition`` (a handshake with another process, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what} {describe()}"
        time.sleep(0.02)

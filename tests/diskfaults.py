"""A full disk for tests: a real small filesystem (tmpfs, when mounting is allowed) and
fault injection at the two system calls every durable write of the tool goes through
(``oneatlas_plan._files._write`` and ``_fsync``)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from oneatlas_plan import _files

PAGE = 4096


@contextlib.contextmanager
def small_filesystem(mountpoint: Path, size_kib: int) -> Iterator[Path]:
    """A tmpfs of ``size_kib`` KiB at ``mountpoint``; skips the test when it cannot mount."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("a real small filesystem needs root and mount(8): covered by fault injection")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here ({mounted.stderr.strip()})")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def free_bytes(path: Path) -> int:
    info = os.statvfs(path)
    return info.f_bavail * info.f_frsize


def fill(directory: Path, leave: int) -> Path:
    """A filler file taking all but ``leave`` bytes (rounded to pages) of the filesystem."""
    filler = directory / "filler"
    target = max(0, free_bytes(directory) - leave)
    with filler.open("wb") as handle:
        handle.write(b"\0" * target)
    return filler


@dataclass
class WriteFaults:
    """The disk fills up at the ``fail_at``-th write (or fsync) and stays full until
    :meth:`free` (every later write fails too, as on a real full disk).

    kinds: ``short`` (that write gets half its bytes, the rest ENOSPC), ``enospc`` (that
    write fails outright), ``eio-fsync`` (the ``fail_at``-th fsync fails with EIO, once).
    With ``target`` (a regular expression), only writes to files whose path matches it
    are counted.
    """

    kind: str = "short"
    fail_at: int | None = None
    target: str = ""
    writes: int = 0
    fsyncs: int = 0
    full: bool = False
    fired: bool = False

    def _counted(self, fd: int) -> bool:
        if not self.target:
            return True
        try:
            return re.search(self.target, os.readlink(f"/proc/self/fd/{fd}")) is not None
        except OSError:
            return False

    def write(self, fd: int, data: memoryview | bytes) -> int:
        self.writes += self._counted(fd)
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if self.kind in ("short", "enospc") and self.writes == self.fail_at:
            self.full = self.fired = True
            if self.kind == "short" and len(data) > 1:
                return os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        self.fsyncs += 1
        if self.kind == "eio-fsync" and self.fsyncs == self.fail_at:
            self.fired = True
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        os.fsync(fd)

    def free(self) -> None:
        self.full = False
        self.fail_at = None

    @contextlib.contextmanager
    def active(self) -> Iterator[WriteFaults]:
        saved = (_files._write, _files._fsync)
        _files._write, _files._fsync = self.write, self.fsync  # type: ignore[assignment]
        try:
            yield self
        finally:
            _files._write, _files._fsync = saved

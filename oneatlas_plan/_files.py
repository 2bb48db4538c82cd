"""The tool's own files: durable writes that complete or fail, and bounded reads.

Writes: ``os.write`` may write fewer bytes than asked (a nearly full disk), so every write
here loops until all bytes are written, fsyncs, then checks the size and the bytes on
disk before returning. Any failure (``ENOSPC``, ``EIO``, a short write) raises
:class:`OSError` and leaves nothing half written that a later reader could take for data:
a replaced file is untouched, an append is truncated back, an exclusive file is not
created. Used by the state store, the state lock and the plan writer.

Reads: :func:`read_regular` refuses what is not a regular file (a FIFO blocks a read
forever, ``/dev/zero`` never ends) without blocking, and reads at most ``limit`` bytes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

VERIFY_BYTES = 64 * 1024  # how much of the end of a write is read back and compared
DEFAULT_MODE = 0o644


class NotRegularFileError(OSError):
    """The path is a FIFO, a device, a socket or a directory, not a regular file."""


class FileTooLargeError(OSError):
    """The file is larger than the caller's limit."""


# The two system calls every durable write goes through (tests inject faults here).
_write = os.write
_fsync = os.fsync


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data``; ``OSError`` instead of a silent short write."""
    view = memoryview(data)
    while view:
        written = _write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, "no space left on device (short write)")
        view = view[written:]


def fsync(fd: int) -> None:
    """Flush ``fd`` to the disk through the injectable ``_fsync``."""
    _fsync(fd)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        _fsync(fd)
    finally:
        os.close(fd)


def _verify(fd: int, offset: int, data: bytes) -> None:
    """Read back the end of what was just written at ``offset`` (``fd`` must be readable)."""
    size = os.fstat(fd).st_size
    if size != offset + len(data):
        raise OSError(
            errno.EIO, f"incomplete write: {size} bytes on disk, {offset + len(data)} expected"
        )
    tail = min(len(data), VERIFY_BYTES)
    if tail and os.pread(fd, tail, offset + len(data) - tail) != data[len(data) - tail :]:
        raise OSError(errno.EIO, "the bytes read back differ from the bytes written")


def append(fd: int, data: bytes, *, fsync: bool = True) -> None:
    """Append ``data`` to the file open as ``fd`` (``O_RDWR|O_APPEND``): all of it, durably,
    or nothing (on failure the file is truncated back to its previous end and the error
    re-raised)."""
    start = os.lseek(fd, 0, os.SEEK_END)
    try:
        write_all(fd, data)
        if fsync:
            _fsync(fd)
        _verify(fd, start, data)
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)
            if fsync:
                _fsync(fd)
        raise


def _write_temp(directory: Path, name: str, data: bytes, mode: int, fsync: bool) -> Path:
    """A complete, fsynced, verified temp file next to ``name``; removed on failure."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    temp = Path(temp_name)
    _fill(fd, temp, data, fsync, mode)
    return temp


def _fill(fd: int, path: Path, data: bytes, fsync: bool, mode: int | None = None) -> None:
    """Write ``data`` into the new file ``fd`` (at ``path``) completely, fsynced if asked, read
    back; the descriptor is closed, and the file removed if any of it failed."""
    try:
        try:
            write_all(fd, data)
            if mode is not None:
                os.fchmod(fd, mode)
            if fsync:
                _fsync(fd)
            _verify(fd, 0, data)
        finally:
            os.close(fd)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_atomic(
    path: Path,
    data: bytes,
    *,
    mode: int | None = None,
    fsync: bool = True,
    before_replace: Callable[[], None] | None = None,
) -> None:
    """Replace ``path`` by ``data``: a temp file in the same directory (complete, fsynced,
    verified), renamed over ``path``, then the directory fsynced. On failure ``path`` is
    unchanged (or, if only the directory fsync failed, already replaced) and no temp file
    is left. ``mode`` defaults to the mode of the file replaced, else 0o644;
    ``before_replace`` runs just before the rename."""
    if mode is None:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = DEFAULT_MODE
    temp = _write_temp(path.parent, path.name, data, mode, fsync)
    try:
        if before_replace is not None:
            before_replace()
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if fsync:
        fsync_dir(path.parent)


def create_exclusive(path: Path, data: bytes, *, fsync: bool = True) -> bool:
    """Create ``path`` holding ``data``, unless it exists (then False).

    ``path`` never exists half written: the content goes to a complete temp file first,
    which is hard-linked into place (atomic; fails if ``path`` exists). On a filesystem
    without hard links, falls back to ``O_EXCL`` and removes the file if writing fails.
    """
    temp = _write_temp(path.parent, path.name, data, DEFAULT_MODE, fsync)
    try:
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            if not _create_in_place(path, data, fsync):
                return False
    finally:
        temp.unlink(missing_ok=True)
    if fsync:
        try:
            fsync_dir(path.parent)
        except BaseException:
            path.unlink(missing_ok=True)  # not durably created: not created
            raise
    return True


def _create_in_place(path: Path, data: bytes, fsync: bool) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, DEFAULT_MODE)
    except FileExistsError:
        return False
    _fill(fd, path, data, fsync)
    return True


def open_regular(path: Path, limit: int) -> BinaryIO:
    """``path`` opened for reading if it is a regular file of at most ``limit`` bytes (the
    checks of :func:`read_regular`); the caller reads it as a stream and bounds what it
    reads itself (the file may still grow)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO, socket or device"
            raise NotRegularFileError(errno.EINVAL, f"not a regular file ({kind})", str(path))
        if info.st_size > limit:
            raise FileTooLargeError(
                errno.EFBIG, f"too large ({info.st_size:,} bytes; the limit is {limit:,})",
                str(path),
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Never blocks on a FIFO nor reads a device forever: raises :class:`NotRegularFileError`
    or :class:`FileTooLargeError` (both ``OSError``, like ``FileNotFoundError``).
    """
    with open_regular(path, limit) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileTooLargeError(
            errno.EFBIG, f"too large (over {limit:,} bytes, still growing)", str(path)
        )
    return data

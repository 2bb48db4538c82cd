"""Unpack a product ZIP without trusting it.

The whole archive is checked before anything is written; one bad entry refuses it all:
no absolute path, drive letter or ``..`` component, nothing resolving outside the
destination, no symbolic link or special file, at most ``max_entries`` entries and
``max_bytes`` bytes once unpacked (counted while writing too, so lying headers cannot
exceed it).
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from oneatlas_plan.errors import InputError

MAX_ENTRIES = 10_000
MAX_BYTES = 64 * 1024**3  # Pléiades Neo bundles reach several GB; far below a zip bomb's size


class UnsafeArchiveError(InputError):
    """A ZIP that could write outside its destination, or that is too big."""


def _refuse(archive: Path, why: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(f"{archive}: refusing to extract it: {why}; nothing was unpacked")


def _target(archive: Path, root: Path, info: zipfile.ZipInfo) -> Path:
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or (parts and parts[0].endswith(":")):
        raise _refuse(archive, f"entry {info.filename!r} has an absolute path")
    if ".." in parts:
        raise _refuse(archive, f"entry {info.filename!r} climbs out of the destination (..)")
    if "\x00" in name or not parts:
        raise _refuse(archive, f"entry {info.filename!r} has an invalid name")
    target = (root / Path(*parts)).resolve()
    if not target.is_relative_to(root):
        raise _refuse(archive, f"entry {info.filename!r} resolves outside the destination")
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        raise _refuse(archive, f"entry {info.filename!r} is a symbolic link")
    if kind and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise _refuse(archive, f"entry {info.filename!r} is a special file")
    return target


def check_archive(
    archive: Path, dest: Path, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES
) -> list[tuple[zipfile.ZipInfo, Path]]:
    """Every entry with where it would go; :class:`UnsafeArchiveError` when one is unsafe."""
    root = dest.resolve()
    try:
        with zipfile.ZipFile(archive) as opened:
            infos = opened.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise UnsafeArchiveError(f"{archive}: not a readable ZIP archive ({error})") from None
    if len(infos) > max_entries:
        raise _refuse(archive, f"{len(infos)} entries (at most {max_entries} are accepted)")
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        raise _refuse(archive, f"{total:,} bytes once unpacked (at most {max_bytes:,})")
    return [(info, _target(archive, root, info)) for info in infos]


def safe_extract(
    archive: Path, dest: Path, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES
) -> Path:
    """Unpack ``archive`` under ``dest`` after :func:`check_archive`; returns ``dest``."""
    entries = check_archive(archive, dest, max_entries=max_entries, max_bytes=max_bytes)
    budget = max_bytes
    with zipfile.ZipFile(archive) as opened:
        for info, target in entries:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with opened.open(info) as source, target.open("wb") as sink:
                budget -= _copy(source, sink, budget, archive)
    return dest


def _copy(source: IO[bytes], sink: IO[bytes], budget: int, archive: Path) -> int:
    copied = 0
    while chunk := source.read(1 << 20):
        copied += len(chunk)
        if copied > budget:
            raise UnsafeArchiveError(
                f"{archive}: extraction stopped: it unpacks to more than its headers declare "
                "(the files written so far are incomplete)"
            )
        sink.write(chunk)
    return copied

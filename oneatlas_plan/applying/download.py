"""Download delivered products: streamed, resumable, MD5-verified, recorded in the state.

Each delivered item recorded by `refresh` is fetched through its ``_links.download`` href
(never a forged URL) into ``<dest>/<resourceId>``; an item offering several links (several
files: parts, tiles) has each fetched, verified and recorded on its own, under distinct names
(``<stem>-2.zip``… when two would share one):

* bytes go to ``<name>.part``; an interrupted transfer keeps it and resumes with ``Range``
  when the server honours it (``206``), and restarts cleanly when it answers ``200``;
* every block is appended to the ``.part`` as it arrives (a connection cut keeps every byte
  received, however early), flushed, and fsynced every few MiB and when the stream ends;
* a ``416`` to a resume (the ``.part`` is not a prefix of the file, e.g. longer than it)
  restarts the file from byte 0;
* the checksum is verified with the method ``X-Ads-Checksum-Method`` names (``md5``, the
  only one Airbus documents; an absent method means md5); an unknown method is refused
  rather than skipped; a mismatch deletes the partial file (a corrupt product is never
  kept) and the transfer starts again;
* a local write failure (a full disk, a read-only directory) stops the downloads with the
  reason, keeping the ``.part`` for a later resume;
* only a verified file is renamed into place; a file already there whose MD5 is the one
  recorded (or the one the server announces) is skipped;
* every verified file is recorded (a :class:`~oneatlas_plan.state.model.Download`, and the
  delivery's checksum) through ``record``, which takes the state lock only for that write.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from oneatlas_plan._files import fsync, fsync_dir
from oneatlas_plan.applying.extract import safe_extract
from oneatlas_plan.errors import (
    ApiError,
    AuthenticationError,
    InputError,
    RateLimitedError,
    StateError,
)
from oneatlas_plan.state.backends import StateStore
from oneatlas_plan.state.model import Download, ResourceRecord, State, utc_iso

if TYPE_CHECKING:
    from oneatlas_plan.api.client import Download as Stream
    from oneatlas_plan.api.client import OneAtlasClient
    from oneatlas_plan.applying.session import Workspace

CHUNK = 1 << 20
SYNC_EVERY = 8 * CHUNK
MAX_ATTEMPTS = 3
CHECKSUM_METHODS = frozenset({"md5"})  # what X-Ads-Checksum-Method may name (Airbus: md5)
STOP_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def chunk_size(total: int | None) -> int:
    """Largest block read at once (blocks are handed over as they arrive, so this bounds
    memory, not what a cut connection loses): 1/64 of the file, 4 KiB to 1 MiB."""
    if total is None:
        return 64 * 1024
    return max(4 * 1024, min(CHUNK, total // 64))


class ByteProgress(Protocol):
    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


# (file name, total size or None, bytes already there) -> a progress bar
ProgressFactory = Callable[[str, int | None, int], ByteProgress]


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class DownloadTask:
    """One delivered item to fetch, and every resource sharing its order."""

    addresses: tuple[str, ...]
    order_key: str
    item_id: str
    href: str
    path: Path
    known_md5: str | None = None  # verified by an earlier download

    @property
    def part(self) -> Path:
        return self.path.with_name(self.path.name + ".part")


@dataclass
class FileResult:
    task: DownloadTask
    status: Literal["downloaded", "skipped", "failed"]
    size: int | None = None
    md5: str | None = None
    message: str = ""
    extracted: Path | None = None
    stop: bool = False  # a local failure every later file would meet too (a full disk)


@dataclass
class DownloadResult:
    files: list[FileResult] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # addresses with nothing delivered yet
    unusable: list[str] = field(default_factory=list)  # delivered, but no link to follow

    @property
    def failed(self) -> bool:
        return bool(self.unusable) or any(f.status == "failed" for f in self.files)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)


# --------------------------------------------------------------------------- what to fetch


def download_tasks(
    state: State, addresses: Sequence[str], dest: Path
) -> tuple[list[DownloadTask], list[str]]:
    """The deliveries of the resources named (all when none), and the resources still
    waiting for a delivery. An address may be a prefix (``spec`` or ``spec.order``)."""
    tasks, waiting, _ = plan_downloads(state, addresses, dest)
    return tasks, waiting


def plan_downloads(
    state: State, addresses: Sequence[str], dest: Path
) -> tuple[list[DownloadTask], list[str], list[str]]:
    """:func:`download_tasks` plus one message per delivered item that offers no usable
    link (so that it is reported, not mistaken for "not delivered yet")."""
    records = _selected(state, addresses)
    tasks: dict[tuple[str, str], DownloadTask] = {}  # by item and link: an item may have several
    names: set[str] = set()
    waiting = []
    unusable: list[str] = []
    for record in records:
        order = record.current
        if order is None or order.status not in ("ordered", "accepted"):
            continue
        if not order.deliveries:
            waiting.append(record.address)
        for item in order.deliveries:
            href = item.download_href
            if not href:
                message = NO_LINK.format(address=record.address, item=item.item_id)
                if message not in unusable:
                    unusable.append(message)
                continue
            if (item.item_id, href) in tasks:
                continue
            name = distinct(file_name(item.resource_id, item.item_id), names)
            names.add(name)
            tasks[(item.item_id, href)] = DownloadTask(
                addresses=tuple(order.addresses or [record.address]),
                order_key=order.order_key,
                item_id=item.item_id,
                href=href,
                path=dest / name,
                known_md5=item.checksum,
            )
    return list(tasks.values()), waiting, unusable


NO_LINK = (
    "{address}: delivered item {item} offers no usable download link (no _links.download, "
    "no access link to derive the documented download path from; its dataAccess links point "
    "at Airbus-internal hosts): get it from OneAtlas (My Data) or ask Airbus support"
)


def _selected(state: State, addresses: Sequence[str]) -> list[ResourceRecord]:
    if not addresses:
        return [state.resources[a] for a in sorted(state.resources)]
    chosen: dict[str, ResourceRecord] = {}
    for wanted in addresses:
        prefix = wanted.rstrip(".") + "."
        found = [a for a in state.resources if a == wanted or a.startswith(prefix)]
        if not found:
            raise StateError(
                f"no resource {wanted!r} in the state (`oneatlas-plan state list` shows them)"
            )
        for address in sorted(found):
            chosen[address] = state.resources[address]
    return list(chosen.values())


def file_name(resource_id: str | None, item_id: str) -> str:
    """The local name: the resourceId Airbus gives, reduced to a plain file name."""
    name = (resource_id or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or name in (".", "..") or name.startswith(".") or "\x00" in name:
        name = f"{item_id}.zip"
    return name


def distinct(name: str, taken: set[str]) -> str:
    """``name``, or ``<stem>-2.<ext>``, ``-3``… when another file of this run has it."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    found, n = name, 1
    while found in taken:
        n += 1
        found = f"{stem}-{n}{dot}{ext}"
    return found


# --------------------------------------------------------------------------- fetching


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(
    client: OneAtlasClient,
    task: DownloadTask,
    *,
    progress: ProgressFactory | None = None,
    attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> FileResult:
    """Bring ``task`` to a verified file at ``task.path`` (see the module docstring)."""
    bars = progress or (lambda name, total, initial: _NoProgress())
    problem = ""
    try:
        task.path.parent.mkdir(parents=True, exist_ok=True)
        skipped = _already_there(client, task)
        if skipped is not None:
            return skipped
        for attempt in range(attempts):
            if attempt:
                sleep(0.25 * attempt)
            outcome = _transfer(client, task, bars)
            if isinstance(outcome, FileResult):
                return outcome
            problem = outcome
    except (AuthenticationError, RateLimitedError):
        raise  # every other file would fail alike
    except ApiError as error:
        problem = f"{task.path.name}: {error}"
    except OSError as error:
        return _local_failure(task, error)
    kept = " (the partial file is kept: run download again to resume)" if task.part.exists() else ""
    return FileResult(task, "failed", message=problem + kept)


def _local_failure(task: DownloadTask, error: OSError) -> FileResult:
    reason = error.strerror or str(error)
    where = error.filename or task.part
    kept = task.part.exists() and task.part.stat().st_size > 0
    hint = (
        f"; the {task.part.stat().st_size:,} bytes received are kept in {task.part.name}: "
        "run download again to resume"
        if kept
        else ""
    )
    return FileResult(
        task,
        "failed",
        message=f"{task.path.name}: cannot write {where}: {reason}{hint}",
        stop=error.errno in STOP_ERRNOS,
    )


def checksum_method(stream: Stream) -> str:
    """The method announced for ``X-Ads-Checksum-Value``, lower-case (``md5`` when absent)."""
    return (stream.checksum_method or "md5").strip().lower()


def _verified_locally(task: DownloadTask) -> bool:
    return (
        task.known_md5 is not None and task.path.is_file() and md5_of(task.path) == task.known_md5
    )


def _already_there(client: OneAtlasClient, task: DownloadTask) -> FileResult | None:
    if not task.path.is_file():
        return None
    local = md5_of(task.path)
    expected = task.known_md5
    if expected is None:  # not recorded: ask the server for the checksum, read no body
        with client.open_download(task.href) as stream:
            if checksum_method(stream) in CHECKSUM_METHODS:
                expected = (stream.checksum or "").strip().lower() or None
    if expected is not None and local == expected:
        size = task.path.stat().st_size
        return FileResult(task, "skipped", size=size, md5=local, message="already downloaded")
    return None  # another or a damaged file: fetch it again, replace it once verified


def _transfer(
    client: OneAtlasClient, task: DownloadTask, progress: ProgressFactory
) -> FileResult | str:
    """One attempt: a verified :class:`FileResult`, or why it must be tried again."""
    offset = task.part.stat().st_size if task.part.exists() else 0
    try:
        stream = client.open_download(task.href, offset)
    except ApiError as error:
        if error.status == 416 and offset:  # the partial file is not a prefix: start again
            task.part.unlink(missing_ok=True)
            return f"{task.path.name}: the server refused to resume; restarting"
        raise
    with stream:
        method = checksum_method(stream)
        if stream.checksum and method not in CHECKSUM_METHODS:
            return FileResult(
                task,
                "failed",
                message=(
                    f"{task.path.name}: Airbus announces checksum method {method!r} "
                    f"(X-Ads-Checksum-Method), which this version cannot verify "
                    f"(it knows {', '.join(sorted(CHECKSUM_METHODS))}); nothing was kept: "
                    "an unverifiable product is never accepted"
                ),
            )
        digest, written = _write(stream, task, offset, progress)
        if isinstance(written, str):
            return written
    expected = (stream.checksum or "").strip().lower() or None
    md5 = digest.hexdigest()
    total = stream.total_size
    if total is not None and written != total:
        return f"{task.path.name}: {written} of {total} bytes received; resuming"
    if expected is not None and md5 != expected:
        task.part.unlink(missing_ok=True)
        return (
            f"{task.path.name}: MD5 {md5} does not match the {expected} announced by Airbus "
            "(corrupted in transit); the file was not kept"
        )
    os.replace(task.part, task.path)
    fsync_dir(task.path.parent)
    message = "" if expected else "Airbus sent no checksum: the file could not be verified"
    return FileResult(task, "downloaded", size=written, md5=md5, message=message)


def _write(
    stream: Stream, task: DownloadTask, offset: int, progress: ProgressFactory
) -> tuple[hashlib._Hash, int | str]:
    """Append (resumed, ``206``) or rewrite (``200``) the partial file, hashing it all."""
    digest = hashlib.md5(usedforsecurity=False)
    resumed = offset > 0 and stream.offset == offset
    if resumed:
        with task.part.open("rb") as existing:
            for chunk in iter(lambda: existing.read(CHUNK), b""):
                digest.update(chunk)
    written = offset if resumed else 0
    unsynced = 0
    bar = progress(task.path.name, stream.total_size, written)
    try:
        with task.part.open("ab" if resumed else "wb") as handle:
            try:
                for chunk in stream.iter_chunks(chunk_size(stream.total_size)):
                    handle.write(chunk)
                    handle.flush()  # in the OS at once: a cut or a kill loses none of it
                    digest.update(chunk)
                    written += len(chunk)
                    unsynced += len(chunk)
                    bar.update(len(chunk))
                    if unsynced >= SYNC_EVERY:
                        fsync(handle.fileno())
                        unsynced = 0
            except ApiError as error:  # the stream broke: keep the partial file
                handle.flush()
                fsync(handle.fileno())
                return digest, f"{task.path.name}: {error}"
            handle.flush()
            fsync(handle.fileno())
    finally:
        bar.close()
    return digest, written


# --------------------------------------------------------------------------- recording


def record_download(store: StateStore, result: FileResult, now: datetime) -> None:
    """Record a verified file on every resource sharing its order (caller holds the lock)."""
    task = result.task
    entry = Download(path=str(task.path), md5=result.md5, size=result.size, at=utc_iso(now))
    for address in task.addresses:

        def change(record: ResourceRecord) -> ResourceRecord:
            for order in record.orders:
                if order.order_key != task.order_key:
                    continue
                order.deliveries = [
                    d.model_copy(update={"checksum": result.md5})
                    if (d.item_id, d.download_href) == (task.item_id, task.href)
                    else d
                    for d in order.deliveries
                ]
                if not any(d.path == entry.path and d.md5 == entry.md5 for d in order.downloads):
                    kept = [d for d in order.downloads if d.path != entry.path]
                    order.downloads = [*kept, entry]
            return record

        if store.get(address) is not None:
            store.update(address, change)


# --------------------------------------------------------------------------- the use case


def download_deliveries(
    client: OneAtlasClient,
    tasks: Sequence[DownloadTask],
    record: Callable[[FileResult], None],
    *,
    extract: bool = False,
    progress: ProgressFactory | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[FileResult]:
    """Fetch every task, record each verified file, and unpack it when ``extract``."""
    results: list[FileResult] = []
    for index, task in enumerate(tasks):
        result = fetch(client, task, progress=progress, sleep=sleep)
        if result.status != "failed":
            record(result)
            if extract:
                try:
                    result.extracted = safe_extract(task.path, task.path.parent)
                except InputError as error:
                    result.status, result.message = "failed", str(error)
                except OSError as error:
                    reason = error.strerror or str(error)
                    result.status, result.stop = "failed", error.errno in STOP_ERRNOS
                    result.message = (
                        f"{task.path.name} is downloaded and verified, but unpacking it failed: "
                        f"cannot write {error.filename or task.path.parent}: {reason}"
                    )
        results.append(result)
        if result.stop:
            results += [
                FileResult(later, "failed", message="not attempted: " + result.message)
                for later in tasks[index + 1 :]
            ]
            break
    return results


def download_with_state(
    workspace: Workspace,
    addresses: Sequence[str],
    dest: Path,
    *,
    extract: bool = False,
    progress: ProgressFactory | None = None,
    now: Callable[[], datetime],
) -> DownloadResult:
    """Read the state, download, and take the state lock for each recording.

    A recorded link to a host that is not the endpoint's (a sandbox restarted on another
    port) is never followed: the order is refreshed first, to read Airbus's current link.
    """
    from oneatlas_plan.api.profiles import origin_of
    from oneatlas_plan.applying.refresh import refresh_with_state
    from oneatlas_plan.applying.session import locked_store

    tasks, waiting, unusable = plan_downloads(
        workspace.state.store().load(), addresses, dest
    )
    if not tasks:
        return DownloadResult(waiting=waiting, unusable=unusable)
    client = workspace.client()
    origins = client.profile.origins()
    foreign = sorted(
        {
            address
            for task in tasks
            if origin_of(task.href) not in origins and not _verified_locally(task)
            for address in task.addresses
        }
    )
    if foreign:
        refresh_with_state(workspace, targets=foreign)
        tasks, waiting, unusable = plan_downloads(
            workspace.state.store().load(), addresses, dest
        )

    def record(file: FileResult) -> None:
        with locked_store(workspace) as store:
            record_download(store, file, now())

    files = download_deliveries(client, tasks, record, extract=extract, progress=progress)
    return DownloadResult(files=files, waiting=waiting, unusable=unusable)

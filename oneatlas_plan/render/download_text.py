"""DownloadResult -> text (pure)."""

from __future__ import annotations

from oneatlas_plan.applying.download import DownloadResult


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def render_download(result: DownloadResult) -> str:
    lines = []
    for file in result.files:
        where = f"{file.task.path} ({_size(file.size)}, md5 {file.md5})"
        if file.status == "downloaded":
            lines.append(f"downloaded {where}")
        elif file.status == "skipped":
            lines.append(f"skipped {where}: already downloaded and verified")
        else:
            lines.append(f"FAILED {file.task.path.name} ({', '.join(file.task.addresses)})")
        if file.message and file.status != "skipped":
            lines.append(f"    {file.message}")
        if file.extracted is not None:
            lines.append(f"    extracted into {file.extracted}")
    for address in result.waiting:
        lines.append(f"{address}: nothing delivered recorded yet (run `oneatlas-plan refresh`)")
    lines += result.unusable
    if not result.files and not result.waiting and not result.unusable:
        lines.append("Nothing to download: no delivered order in the state.")
    lines.append(
        f"Download: {result.count('downloaded')} downloaded, {result.count('skipped')} already "
        f"there, {result.count('failed')} failed, {len(result.waiting)} not delivered yet"
        + (f", {len(result.unusable)} without a usable link" if result.unusable else "")
    )
    return "\n".join(lines) + "\n"

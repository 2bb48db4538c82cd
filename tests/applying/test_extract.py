"""Safe ZIP extraction: crafted archives are refused whole, before anything is written."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from oneatlas_plan.applying.extract import UnsafeArchiveError, safe_extract


def _zip(path: Path, entries: list[tuple[str, bytes]], *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def test_a_product_zip_is_extracted(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "p.zip", [("P/DIM_1.XML", b"<x/>"), ("P/IMG_1.png", b"png")])
    dest = tmp_path / "out"
    assert safe_extract(archive, dest) == dest
    assert (dest / "P" / "DIM_1.XML").read_bytes() == b"<x/>"
    assert (dest / "P" / "IMG_1.png").read_bytes() == b"png"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../evil.txt", "climbs out of the destination"),
        ("P/../../evil.txt", "climbs out of the destination"),
        ("..\\evil.txt", "climbs out of the destination"),
        ("/etc/evil.txt", "absolute path"),
        ("C:/evil.txt", "absolute path"),
    ],
)
def test_escaping_entries_refuse_the_whole_archive(tmp_path: Path, name: str, why: str) -> None:
    archive = _zip(tmp_path / "bad.zip", [("P/ok.txt", b"fine"), (name, b"evil")])
    dest = tmp_path / "out" / "inner"
    with pytest.raises(UnsafeArchiveError, match=why) as raised:
        safe_extract(archive, dest)
    assert "nothing was unpacked" in str(raised.value)
    assert not (dest / "P" / "ok.txt").exists()
    assert not (tmp_path / "out" / "evil.txt").exists()


def test_symlinks_are_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "link.zip", [("P/ok.txt", b"fine")], symlink="P/passwd")
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_too_many_entries_or_bytes_are_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "many.zip", [(f"f{i}", b"x" * 100) for i in range(5)])
    with pytest.raises(UnsafeArchiveError, match="5 entries"):
        safe_extract(archive, tmp_path / "a", max_entries=4)
    with pytest.raises(UnsafeArchiveError, match="500 bytes once unpacked"):
        safe_extract(archive, tmp_path / "b", max_bytes=499)
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "b").exists()


def test_a_file_that_is_not_a_zip_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "x.zip"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(UnsafeArchiveError, match="not a readable ZIP archive"):
        safe_extract(bogus, tmp_path / "out")

"""A cache of the costly parts of loading a spec file: the YAML parse and the AOI checks.

One entry per spec file (named by the sha256 of its resolved path) in a directory beside the
state file (``.oneatlas-cache/specs``; ``specs`` in the per-user cache directory for a database
state, see ``AppContext.spec_cache_dir``). An entry holds the parsed document with its positions,
keyed by the sha256 of the file's bytes, and the outcome of each AOI's resolution (geometry
checks, area, findings), keyed by the AOI entry's own content. Validation, the order checks
and every cross-file check still run on every load, so errors, warnings and their locations
are exactly those of a load without cache.

Never trusted blindly: an entry is used only when its format, the tool's fingerprint (its
version, the source of the modules whose results it holds, the installed libraries they call),
the spec's path and the entry's checksum match; the parse only for the same file bytes; an AOI
read from a file only while that file still has the same bytes at the same place. Anything
else (missing, unreadable, corrupt, written by another version) is a miss: the file is parsed
and checked again. A file with an error is never stored. Deleting the directory is always safe.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oneatlas_plan import __version__, _files

if TYPE_CHECKING:
    from oneatlas_plan._yaml import Marks
    from oneatlas_plan.spec.aois import Outcome

FORMAT = 1
CACHE_DIR_NAME = ".oneatlas-cache"
SPEC_CACHE_DIR_NAME = "specs"
MAX_ENTRY_BYTES = 64 * 1024 * 1024
# The modules whose results an entry holds, and the libraries they call.
_SOURCES = (
    "_yaml.py",
    "spec/aois.py",
    "spec/geometry.py",
    "spec/models.py",
    "geodesy.py",
    "spec/cache.py",
)
_LIBRARIES = ("yaml", "pydantic", "pydantic_core", "shapely", "pyproj")
_TAG = "\x00"  # never in a key from YAML (NUL is refused in spec files)
_TAG_TEXT = b"\\u0000"  # how JSON writes it (json.dumps escapes every control character)


def spec_cache_dir(state_dir: Path) -> Path:
    return state_dir / CACHE_DIR_NAME / SPEC_CACHE_DIR_NAME


class NotCacheable(ValueError):
    """A value the cache cannot store exactly (the file is then simply not cached)."""


# ------------------------------------------------------------------------ exact encoding


def encode(value: Any) -> Any:
    """YAML data as JSON data, exactly: dates, date-times and bytes are tagged."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) and not key.startswith(_TAG) for key in value):
            raise NotCacheable("mapping key")
        return {key: encode(item) for key, item in value.items()}
    if isinstance(value, datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, bytes):
        return {_TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    raise NotCacheable(type(value).__name__)


def decode(value: Any) -> Any:
    if isinstance(value, list):  # scalars (a geometry's coordinates) are taken as they are
        return [decode(item) if isinstance(item, list | dict) else item for item in value]
    if isinstance(value, dict):
        kind = value.get(_TAG)
        if kind is None:
            return {key: decode(item) for key, item in value.items()}
        text = value["v"]
        if kind == "datetime":
            return datetime.fromisoformat(text)
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "bytes":
            return base64.b64decode(text, validate=True)
        raise ValueError(f"unknown tag {kind!r}")
    return value


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _compact(value: Any) -> str:
    """Keys stay in their order: the order of a spec's mappings is kept through the cache."""
    return _COMPACT.encode(value)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------ fingerprint


def fingerprint() -> str:
    """What the cached results depend on besides the inputs: changes with any upgrade."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(f"{FORMAT} {__version__}".encode())
    for name in _SOURCES:
        digest.update(name.encode() + b"\0" + (package / name).read_bytes())
    for library in _LIBRARIES:  # where it is and when it was installed, without importing it
        spec = importlib.util.find_spec(library)
        origin = spec.origin if spec is not None else None
        info = os.stat(origin) if origin else None
        size, mtime = (info.st_size, info.st_mtime_ns) if info else (0, 0)
        digest.update(f"{library} {origin} {size} {mtime}".encode() + b"\0")
    return digest.hexdigest()


# ------------------------------------------------------------------------ AOI outcomes


@dataclass
class _AoiHit:
    aois: list[list[Any]]  # [name, geometry, area_km2, projection, dem]
    findings: list[list[Any]]  # [severity, loc, message]
    sources: list[list[str]]  # [reference, resolved target, sha256 of its bytes]

    def to_json(self) -> dict[str, Any]:
        return {"aois": self.aois, "findings": self.findings, "sources": self.sources}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _AoiHit:
        return cls(list(data["aois"]), list(data["findings"]), list(data["sources"]))


def _aoi_key(raw_aoi: Any) -> str:
    try:  # plain JSON data (almost always): its text is already exact
        text = _compact(raw_aoi)
    except (TypeError, ValueError):
        text = _compact(encode(raw_aoi))
    return _sha256(text.encode("utf-8", "surrogateescape"))


def _sources_unchanged(sources: list[list[str]], spec_path: Path, root: Path) -> bool:
    from oneatlas_plan.spec.aois import MAX_AOI_FILE_BYTES

    try:
        for reference, target, digest in sources:
            resolved = (spec_path.parent / reference).resolve()
            if str(resolved) != target or not resolved.is_relative_to(root.resolve()):
                return False
            if _sha256(_files.read_regular(resolved, MAX_AOI_FILE_BYTES)) != digest:
                return False
    except (OSError, RuntimeError, ValueError, TypeError):
        return False
    return True


def _outcome_of(hit: _AoiHit, source: str) -> Outcome:
    from oneatlas_plan.spec.aois import Outcome
    from oneatlas_plan.spec.loader import ResolvedAoi
    from oneatlas_plan.spec.problems import Severity

    outcome = Outcome()
    for name, geometry, area, projection, dem in hit.aois:
        outcome.aois.append(ResolvedAoi(name, geometry, float(area), source, projection, dem))
    for severity, loc, message in hit.findings:
        outcome.findings.append((Severity(severity), tuple(loc), str(message)))
    outcome.sources = [(a, b, c) for a, b, c in hit.sources]
    return outcome


def _hit_of(outcome: Outcome) -> _AoiHit:
    return _AoiHit(
        aois=[[a.name, a.geometry, a.area_km2, a.projection, a.dem] for a in outcome.aois],
        findings=[[s.value, list(loc), message] for s, loc, message in outcome.findings],
        sources=[list(source) for source in outcome.sources],
    )


# ------------------------------------------------------------------------ one entry


@dataclass
class Entry:
    """The cache entry of one spec file: read at the start of its load, saved at the end."""

    digest: str | None = None  # sha256 of the bytes the cached parse is of
    parse: dict[str, Any] | None = None  # {"data": ..., "marks": ...}, encoded
    aois: dict[str, _AoiHit] = field(default_factory=dict)
    used: dict[str, _AoiHit] = field(default_factory=dict)  # what this load used or computed
    changed: bool = False
    plain: bool = False  # read from a text without any tag: the parse needs no decoding

    def parsed(self, digest: str) -> tuple[Any, Marks] | None:
        if self.digest != digest or self.parse is None:
            return None
        try:
            data = self.parse["data"] if self.plain else decode(self.parse["data"])
            marks = {tuple(path): (int(line), int(col)) for path, line, col in self.parse["marks"]}
        except (KeyError, TypeError, ValueError):
            return None
        return data, marks

    def remember_parse(self, digest: str, data: Any, marks: Marks) -> None:
        try:
            encoded = encode(data)
        except NotCacheable:
            return
        self.digest = digest
        positions = [[list(path), line, column] for path, (line, column) in marks.items()]
        self.parse = {"data": encoded, "marks": positions}
        self.changed = True

    def resolve_aoi(
        self,
        raw_aoi: Any,
        spec_path: Path,
        root: Path,
        source: str,
        resolve: Callable[[Any, Path, Path, str], Outcome],
    ) -> Outcome:
        """``resolve(raw_aoi, spec_path, root, source)``, or its remembered outcome."""
        try:
            key = _aoi_key(raw_aoi)
        except NotCacheable:
            return resolve(raw_aoi, spec_path, root, source)
        hit = self.aois.get(key)
        if hit is not None and _sources_unchanged(hit.sources, spec_path, root):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                outcome = _outcome_of(hit, source)
                self.used[key] = hit
                return outcome
        outcome = resolve(raw_aoi, spec_path, root, source)
        self.used[key] = _hit_of(outcome)
        self.changed = True
        return outcome

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "parse": self.parse,
            "aois": {key: hit.to_json() for key, hit in sorted(self.used.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, plain: bool = False) -> Entry:
        aois = {str(key): _AoiHit.from_json(hit) for key, hit in data["aois"].items()}
        digest = data["digest"]
        return cls(
            digest=digest if isinstance(digest, str) else None,
            parse=data["parse"],
            aois=aois,
            plain=plain,
        )


class SpecCache:
    """The entries of one directory; every failure to read or write is a miss, never an error."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fingerprint: str | None = None

    def _header(self, resolved: str) -> dict[str, Any]:
        if self._fingerprint is None:
            self._fingerprint = fingerprint()
        return {"format": FORMAT, "tool": self._fingerprint, "spec": resolved}

    def _file(self, resolved: str) -> Path:
        name = _sha256(resolved.encode("utf-8", "surrogateescape"))
        return self.directory / f"{name}.json"

    def entry(self, spec_path: Path) -> Entry:
        """The entry of the spec at ``spec_path`` (resolved: symbolic links followed)."""
        try:
            resolved = str(spec_path)
            header_line, _, body = _files.read_regular(
                self._file(resolved), MAX_ENTRY_BYTES
            ).partition(b"\n")
            header = json.loads(header_line)
            if header.pop("sha256", None) != _sha256(body) or header != self._header(resolved):
                return Entry()
            # A tag's key is NUL, which JSON always writes as \u0000: a body without that
            # text holds no tag, and its parse is used as json.loads gives it.
            return Entry.from_json(json.loads(body), plain=_TAG_TEXT not in body)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return Entry()

    def save(self, spec_path: Path, entry: Entry) -> None:
        """Store ``entry`` (atomically; best effort: a cache that cannot be written is skipped).
        ``spec_path`` is resolved, as for :meth:`entry`."""
        if not entry.changed and entry.used.keys() == entry.aois.keys():
            return
        try:
            resolved = str(spec_path)
            body = _compact(entry.to_json()).encode("utf-8")
            header = {**self._header(resolved), "sha256": _sha256(body)}
            data = _compact(header).encode("utf-8") + b"\n" + body
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        except (OSError, ValueError, TypeError):
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, self._file(resolved))
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp)

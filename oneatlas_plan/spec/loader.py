"""Load spec files: find, read, parse with positions, merge defaults, validate, resolve AOIs.

``load_specs`` raises :class:`SpecError` with every located problem at once; on success it
returns a :class:`SpecSet` whose orders carry their resolved AOIs, so the planner does no I/O.
"""

from __future__ import annotations

import copy
import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from oneatlas_plan._yaml import Marks, YamlError
from oneatlas_plan.errors import SpecError
from oneatlas_plan.spec import aois as aoi_resolver
from oneatlas_plan.spec.cache import Entry, SpecCache
from oneatlas_plan.spec.checks import check_order
from oneatlas_plan.spec.models import Money, OrderSpec, SpecFile
from oneatlas_plan.spec.problems import Loc, Locator, Problem, Severity, display_path, translate

MAX_FILE_BYTES = 5 * 1024 * 1024
SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ResolvedAoi:
    """An AOI ready for search and ordering: a closed GeoJSON Polygon with float coordinates."""

    name: str
    geometry: dict[str, Any]
    area_km2: float
    source: str  # "specs/toulouse.yaml:14"
    projection: str | None = None  # per-AOI override of product.options.projection
    dem: str | None = None  # per-AOI override of product.options.dem


@dataclass
class LoadedSpec:
    """One valid spec file; ``model.orders`` already have ``defaults`` merged in."""

    path: Path
    root: Path
    digest: str  # sha256 hex of the file bytes
    model: SpecFile
    aois: dict[str, list[ResolvedAoi]]  # order name → its AOIs, in spec order
    findings: list[Problem] = field(default_factory=list)  # its warnings and notes
    name_position: tuple[int, int] = field(default=(1, 1), repr=False)

    @property
    def warnings(self) -> list[str]:
        return [p.render() for p in self.findings if p.severity is Severity.WARNING]

    @property
    def notes(self) -> list[str]:  # rendered when asked: a plan shows none of them
        return [p.render() for p in self.findings if p.severity is Severity.NOTE]

    def orders(self) -> Iterator[LoadedOrder]:
        for order in self.model.orders:
            yield LoadedOrder(self, order, self.aois.get(order.name, []))


@dataclass(frozen=True)
class LoadedOrder:
    spec: LoadedSpec
    order: OrderSpec
    aois: list[ResolvedAoi]

    @property
    def address(self) -> str:
        """``<spec>/<order>``: the prefix of this order's resource addresses."""
        return f"{self.spec.model.name}/{self.order.name}"


@dataclass
class SpecSet:
    files: list[LoadedSpec]

    def orders(self) -> Iterator[LoadedOrder]:
        for spec in self.files:
            yield from spec.orders()

    @property
    def warnings(self) -> list[str]:
        return [warning for spec in self.files for warning in spec.warnings]

    @property
    def notes(self) -> list[str]:
        return [note for spec in self.files for note in spec.notes]

    def total_budget(self) -> Money | None:
        """The smallest ``budget.total`` set by any file (None when no file sets one)."""
        totals = [
            s.model.budget.total for s in self.files if s.model.budget and s.model.budget.total
        ]
        return min(totals, key=lambda money: money.amount) if totals else None


@dataclass
class LoadResult:
    """Everything found, valid or not (``validate`` prints it; ``load_specs`` raises on errors)."""

    specs: SpecSet
    problems: list[Problem]
    files: list[Path]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]


def load_specs(
    paths: Sequence[Path], *, today: date | None = None, cache_dir: Path | None = None
) -> SpecSet:
    """Load and check every spec under ``paths``; raise SpecError listing all problems.

    ``cache_dir``: keep the parse and AOI checks of valid files there (see spec/cache.py).
    """
    result = load(paths, today=today, cache_dir=cache_dir)
    if result.errors:
        raise SpecError([problem.render() for problem in result.errors])
    return result.specs


def load(
    paths: Sequence[Path], *, today: date | None = None, cache_dir: Path | None = None
) -> LoadResult:
    today = today or date.today()
    found, problems = _discover(paths)
    cache = SpecCache(cache_dir) if cache_dir is not None else None
    loaded: list[LoadedSpec] = []
    for path, root, resolved in found:
        spec, file_problems = _load_file(path, root, today, cache, resolved)
        problems.extend(file_problems)
        if spec is not None:
            loaded.append(spec)
    problems.extend(_unique_spec_names(loaded))
    with_errors = {p.file for p in problems if p.severity is Severity.ERROR}
    valid = [spec for spec in loaded if spec.path not in with_errors]
    return LoadResult(SpecSet(valid), problems, [path for path, _, _ in found])


# ---------------------------------------------------------------------------- discovery


def discover(paths: Sequence[Path]) -> tuple[list[tuple[Path, Path]], list[Problem]]:
    """(spec file, spec root) pairs: directories are searched recursively for *.yaml/*.yml
    (skipping hidden files and directories); the root is the directory given, or the file's
    own directory."""
    found, problems = _discover(paths)
    return [(file, root) for file, root, _ in found], problems


def _discover(paths: Sequence[Path]) -> tuple[list[tuple[Path, Path, Path]], list[Problem]]:
    """``discover``'s pairs with each file's resolved path (its identity)."""
    found: list[tuple[Path, Path, Path]] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files = _spec_files(path)
            if not files:
                problems.append(Problem(path, 1, 1, "", "no spec files (*.yaml, *.yml) found"))
            pairs = [(file, path) for file in files]
        elif path.is_file():
            pairs = [(path, path.parent)]
        else:
            problems.append(Problem(path, 1, 1, "", "no such file or directory"))
            continue
        for file, root in pairs:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                found.append((file, root, key))
    return found, problems


def _spec_files(directory: Path) -> list[Path]:
    files = []
    for current, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.endswith(SPEC_SUFFIXES) and not name.startswith("."):
                files.append(Path(current) / name)
    return files


# ---------------------------------------------------------------------------- one file


def _read_text(path: Path) -> tuple[bytes, str]:
    """The file's bytes and text; raises YamlError for unusable files."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read forever
            raise YamlError("not a regular file (a FIFO, socket or device?)")
        size = info.st_size
        if size > MAX_FILE_BYTES:
            raise YamlError(f"file is too large ({size} bytes; the limit is {MAX_FILE_BYTES})")
        data = path.read_bytes()
    except OSError as error:
        raise YamlError(f"cannot read file: {error.strerror or error}") from None
    if b"\x00" in data:
        raise YamlError("not a text file (binary content)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise YamlError(f"not UTF-8 text (invalid byte at offset {error.start})") from None
    return data, text


def _load_file(
    path: Path, root: Path, today: date, cache: SpecCache | None, resolved: Path
) -> tuple[LoadedSpec | None, list[Problem]]:
    entry = cache.entry(resolved) if cache is not None else Entry()
    try:
        data, text = _read_text(path)
        digest = hashlib.sha256(data).hexdigest()
        parsed = entry.parsed(digest)
        if parsed is None:
            parsed = _parse(text, str(path))
            entry.remember_parse(digest, *parsed)
        raw, marks = parsed
    except YamlError as error:
        return None, [Problem(path, error.line, error.column, "", error.message)]
    locator = Locator(path, marks)
    if raw is None:
        return None, [locator.at_file("file is empty (expected a spec: version, name, orders)")]
    if not isinstance(raw, dict):
        kind = "a list" if isinstance(raw, list) else f"a {type(raw).__name__} value"
        return None, [locator.at_file(f"expected a mapping at the top level (got {kind})")]
    context = _FileContext(path, root, locator, today, entry)
    model = context.run(raw)
    if model is None or context.has_errors:
        return None, context.problems
    if cache is not None:
        cache.save(resolved, entry)
    spec = LoadedSpec(
        path=path,
        root=root,
        digest=digest,
        model=model,
        aois=context.aois,
        findings=[p for p in context.problems if p.severity is not Severity.ERROR],
        name_position=marks.get(("name",), (1, 1)),
    )
    return spec, context.problems


@dataclass
class _FileContext:
    path: Path
    root: Path
    locator: Locator
    today: date
    cache: Entry
    problems: list[Problem] = field(default_factory=list)
    aois: dict[str, list[ResolvedAoi]] = field(default_factory=dict)
    _seen: set[Problem] = field(default_factory=set, repr=False)

    @property
    def has_errors(self) -> bool:
        return any(p.severity is Severity.ERROR for p in self.problems)

    def add(self, loc: Loc, message: str, severity: Severity = Severity.ERROR) -> None:
        problem = self.locator.problem(loc, message, severity)
        if problem not in self._seen:  # inherited defaults are reported once
            self._seen.add(problem)
            self.problems.append(problem)

    def run(self, raw: dict[str, Any]) -> SpecFile | None:
        merged = self._merge_defaults(raw)
        model = self._validate(merged)
        orders = dict(enumerate(model.orders)) if model else self._valid_orders(merged)
        raw_orders = merged.get("orders")
        raw_orders = raw_orders if isinstance(raw_orders, list) else []
        for index, raw_order in enumerate(raw_orders):
            self._check_order(index, raw_order, orders.get(index))
        self._unique_order_names(raw_orders)
        return model

    def _merge_defaults(self, raw: dict[str, Any]) -> dict[str, Any]:
        defaults = raw.get("defaults")
        orders = raw.get("orders")
        if not isinstance(defaults, dict) or not isinstance(orders, list):
            return raw
        merged_orders = []
        for index, order in enumerate(orders):
            if isinstance(order, dict):
                order = deep_merge(
                    defaults, order, ("defaults",), ("orders", index), self.locator.origins
                )
            merged_orders.append(order)
        return {**raw, "orders": merged_orders}

    def _validate(self, merged: dict[str, Any]) -> SpecFile | None:
        try:
            return SpecFile.model_validate(merged)
        except ValidationError as error:
            for details in error.errors(include_url=False):
                loc, message = translate(details, SpecFile)
                self.add(loc, message)
            return None

    def _valid_orders(self, merged: dict[str, Any]) -> dict[int, OrderSpec]:
        """When the file is invalid, the orders that are valid on their own (for more checks)."""
        valid: dict[int, OrderSpec] = {}
        orders = merged.get("orders")
        for index, raw_order in enumerate(orders if isinstance(orders, list) else []):
            try:
                valid[index] = OrderSpec.model_validate(raw_order)
            except ValidationError:
                continue
        return valid

    def _check_order(self, index: int, raw_order: Any, order: OrderSpec | None) -> None:
        at: Loc = ("orders", index)
        if order is not None:
            for severity, loc, message in check_order(order, self.today):
                self.add((*at, *loc), message, severity)
        raw_aois = raw_order.get("aois") if isinstance(raw_order, dict) else None
        if isinstance(raw_aois, list):
            resolved = self._resolve_aois(at, raw_aois)
            if order is not None:
                self.aois[order.name] = resolved

    def _resolve_aois(self, at: Loc, raw_aois: list[Any]) -> list[ResolvedAoi]:
        resolved: list[ResolvedAoi] = []
        names: dict[str, int] = {}
        shown = display_path(self.path)
        for index, raw_aoi in enumerate(raw_aois):
            loc = (*at, "aois", index)
            line = self.locator.resolve(loc)[1][0]
            source = f"{shown}:{line}"
            outcome = self.cache.resolve_aoi(
                raw_aoi, self.path, self.root, source, aoi_resolver.resolve
            )
            for severity, sub, message in outcome.findings:
                self.add((*loc, *sub), message, severity)
            for aoi in outcome.aois:
                if aoi.name in names:
                    other = names[aoi.name]
                    self.add(
                        (*loc, "name"),
                        f"duplicate AOI name {aoi.name!r} in this order (also aois[{other}])",
                    )
                names.setdefault(aoi.name, index)
                resolved.append(aoi)
        return resolved

    def _unique_order_names(self, raw_orders: list[Any]) -> None:
        seen: dict[str, int] = {}
        for index, raw_order in enumerate(raw_orders):
            name = raw_order.get("name") if isinstance(raw_order, dict) else None
            if not isinstance(name, str):
                continue
            if name in seen:
                self.add(
                    ("orders", index, "name"),
                    f"duplicate order name {name!r} (also orders[{seen[name]}])",
                )
            seen.setdefault(name, index)


def _parse(text: str, filename: str) -> tuple[Any, Marks]:
    from oneatlas_plan._yaml import load_with_marks

    return load_with_marks(text, filename)


def deep_merge(
    base: dict[str, Any],
    override: dict[str, Any],
    base_loc: Loc,
    dest_loc: Loc,
    origins: dict[Loc, Loc],
) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge, lists and scalars replace.

    Values taken from ``base`` are recorded in ``origins`` (destination → source path) so that
    problems in inherited values point at the defaults block.
    """
    result: dict[str, Any] = {}
    for key, value in base.items():
        if key not in override:
            result[key] = copy.deepcopy(value)
            origins[(*dest_loc, key)] = (*base_loc, key)
    for key, value in override.items():
        inherited = base.get(key)
        if isinstance(value, dict) and isinstance(inherited, dict):
            result[key] = deep_merge(inherited, value, (*base_loc, key), (*dest_loc, key), origins)
        else:
            result[key] = value
    return result


def _unique_spec_names(specs: list[LoadedSpec]) -> list[Problem]:
    problems = []
    seen: dict[str, LoadedSpec] = {}
    for spec in specs:
        name = spec.model.name
        if name in seen:
            first = seen[name]
            locator = Locator(spec.path, {("name",): spec.name_position})
            problems.append(
                locator.problem(
                    ("name",), f"spec name {name!r} is also used by {display_path(first.path)}"
                )
            )
        seen.setdefault(name, spec)
    return problems

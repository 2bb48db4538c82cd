"""Resolve one AOI entry (bbox, geometry, WKT or GeoJSON file) into checked Polygons.

File references are relative to the spec file, resolved with symlinks, and must stay under the
spec root (the directory given on the command line, or the spec file's directory).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from oneatlas_plan import _files
from oneatlas_plan.spec import geometry
from oneatlas_plan.spec.models import SLUG_PATTERN, AoiSpec
from oneatlas_plan.spec.problems import Loc, Severity, display_path

if TYPE_CHECKING:
    from oneatlas_plan.spec.loader import ResolvedAoi

MAX_AOI_FILE_BYTES = 5 * 1024 * 1024

Finding = tuple[Severity, Loc, str]


@dataclass
class Outcome:
    aois: list[ResolvedAoi] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    sources: list[tuple[str, str, str]] = field(default_factory=list)  # files read: see cache

    def error(self, loc: Loc, message: str) -> None:
        self.findings.append((Severity.ERROR, loc, message))


@dataclass(frozen=True)
class _Feature:
    label: str  # "feature 2 ('north')", for messages
    geometry: Any
    properties: dict[str, Any]


def resolve(raw: Any, spec_path: Path, root: Path, source: str) -> Outcome:
    """Check and resolve one raw AOI entry; schema errors are reported by the loader."""
    outcome = Outcome()
    try:
        aoi = AoiSpec.model_validate(raw)
    except ValidationError:
        return outcome
    if aoi.bbox is not None:
        findings = geometry.Findings()
        polygon = geometry.bbox_polygon(aoi.bbox, findings)
        _absorb(outcome, findings, ("bbox",), flatten=True)
        if polygon is not None:
            _add(outcome, aoi, aoi.name or "", polygon, ("bbox",), source, flatten=True)
    elif aoi.geometry is not None:
        _add(outcome, aoi, aoi.name or "", aoi.geometry, ("geometry",), source, flatten=False)
    elif aoi.wkt is not None:
        findings = geometry.Findings()
        parsed = geometry.wkt_geometry(aoi.wkt, findings)
        _absorb(outcome, findings, ("wkt",), flatten=True)
        if parsed is not None:
            _add(outcome, aoi, aoi.name or "", parsed, ("wkt",), source, flatten=True)
    elif aoi.file is not None:
        _resolve_file(outcome, aoi, spec_path, root, source)
    return outcome


def _absorb(
    outcome: Outcome, findings: geometry.Findings, at: Loc, *, flatten: bool, prefix: str = ""
) -> None:
    groups = (
        (Severity.ERROR, findings.errors),
        (Severity.WARNING, findings.warnings),
        (Severity.NOTE, findings.notes),
    )
    for severity, items in groups:
        for sub, message in items:
            # area and width findings (no sub-path) are about the whole AOI entry
            loc = () if not sub else at if flatten else (*at, *sub)
            outcome.findings.append((severity, loc, f"{prefix}{message}"))


def _add(
    outcome: Outcome,
    aoi: AoiSpec,
    name: str,
    raw_geometry: Any,
    at: Loc,
    source: str,
    *,
    flatten: bool,
    prefix: str = "",
) -> None:
    from oneatlas_plan.spec.loader import ResolvedAoi

    checked = geometry.check_polygon(raw_geometry)
    _absorb(outcome, checked.findings, at, flatten=flatten, prefix=prefix)
    if checked.geometry is not None:
        outcome.aois.append(
            ResolvedAoi(name, checked.geometry, checked.area_km2, source, aoi.projection, aoi.dem)
        )


# ---------------------------------------------------------------------------- files


def _resolve_file(outcome: Outcome, aoi: AoiSpec, spec_path: Path, root: Path, source: str) -> None:
    assert aoi.file is not None
    features = _read_features(outcome, aoi.file, spec_path, root)
    if features is None:
        return
    for name, feature in _select(outcome, aoi, features):
        prefix = f"{aoi.file} {feature.label}: "
        _add(outcome, aoi, name, feature.geometry, ("file",), source, flatten=True, prefix=prefix)


def _read_features(
    outcome: Outcome, reference: str, spec_path: Path, root: Path
) -> list[_Feature] | None:
    at: Loc = ("file",)
    try:
        target = (spec_path.parent / reference).resolve()
        inside = target.is_relative_to(root.resolve())
        is_file = inside and target.is_file()
    except (OSError, RuntimeError, ValueError) as error:  # RuntimeError: a symlink loop
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        outcome.error(at, f"{reference[:200]!r} cannot be opened: {reason}")
        return None
    if not inside:
        outcome.error(
            at,
            f"{reference!r} is outside the spec root '{display_path(root)}': "
            "AOI files must stay under it",
        )
        return None
    if not is_file:
        what = "is not a file" if target.exists() else "not found"
        outcome.error(at, f"{reference!r} {what} (looked for {display_path(target)})")
        return None
    document = _read_json(outcome, target, reference)
    if document is None:
        return None
    return _features_of(outcome, document, reference)


def _read_json(outcome: Outcome, target: Path, reference: str) -> Any:
    at: Loc = ("file",)
    try:
        data = _files.read_regular(target, MAX_AOI_FILE_BYTES)
    except OSError as error:
        outcome.error(at, f"{reference!r} cannot be read: {error.strerror or error}")
        return None
    outcome.sources.append((reference, str(target), hashlib.sha256(data).hexdigest()))
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        outcome.error(at, f"{reference!r} is not UTF-8 text")
    except json.JSONDecodeError as error:
        outcome.error(
            at,
            f"{reference!r} is not valid JSON: {error.msg} "
            f"at line {error.lineno} column {error.colno}",
        )
    except (RecursionError, ValueError) as error:
        outcome.error(at, f"{reference!r} cannot be read as JSON: {error}")
    return None


def _features_of(outcome: Outcome, document: Any, reference: str) -> list[_Feature] | None:
    at: Loc = ("file",)
    kind = document.get("type") if isinstance(document, dict) else None
    if kind == "FeatureCollection" and isinstance(document.get("features"), list):
        items = document["features"]
    elif kind == "Feature":
        items = [document]
    elif isinstance(kind, str) and "coordinates" in document:
        items = [{"type": "Feature", "geometry": document, "properties": {}}]
    else:
        outcome.error(at, f"{reference!r} is not a GeoJSON FeatureCollection, Feature or geometry")
        return None
    if not items:
        outcome.error(at, f"{reference!r} has no features")
        return None
    return [_feature(index, item) for index, item in enumerate(items)]


def _feature(index: int, item: Any) -> _Feature:
    if not isinstance(item, dict):
        return _Feature(f"feature {index}", None, {})
    properties = item.get("properties") if isinstance(item.get("properties"), dict) else {}
    name = properties.get("name") if properties else None
    label = f"feature {index} ({name!r})" if isinstance(name, str) else f"feature {index}"
    return _Feature(label, item.get("geometry"), properties or {})


def _select(outcome: Outcome, aoi: AoiSpec, features: list[_Feature]) -> list[tuple[str, _Feature]]:
    at: Loc = ("file",)
    if aoi.name_property is not None:
        return _expand(outcome, aoi.name_property, features)
    name = aoi.name or ""
    if aoi.feature is None:
        if len(features) != 1:
            outcome.error(
                at,
                f"{aoi.file!r} has {len(features)} features: pick one with feature: <index or "
                "name>, or make one AOI per feature with name_property: <property>",
            )
            return []
        return [(name, features[0])]
    chosen = _find(features, aoi.feature)
    if chosen is None:
        names = [
            f.properties.get("name") for f in features if isinstance(f.properties.get("name"), str)
        ]
        listing = f" (names: {', '.join(map(str, names))})" if names else ""
        outcome.error(
            ("feature",),
            f"no feature {aoi.feature!r} in {aoi.file!r}: it has {len(features)}{listing}",
        )
        return []
    return [(name, chosen)]


def _find(features: list[_Feature], selector: str | int) -> _Feature | None:
    if isinstance(selector, int):
        return features[selector] if 0 <= selector < len(features) else None
    for feature in features:
        if feature.properties.get("name") == selector or feature.properties.get("id") == selector:
            return feature
    return None


def _expand(outcome: Outcome, prop: str, features: list[_Feature]) -> list[tuple[str, _Feature]]:
    selected = []
    for feature in features:
        value = feature.properties.get(prop)
        if value is None or value == "":
            outcome.error(("name_property",), f"{feature.label} has no property {prop!r}")
            continue
        name = slugify(str(value))
        if not re.match(SLUG_PATTERN, name):
            outcome.error(
                ("name_property",),
                f"{feature.label}: {prop} {value!r} does not make a usable AOI name",
            )
            continue
        selected.append((name, feature))
    return selected


def slugify(text: str) -> str:
    """'Zone Nord 2' → 'zone-nord-2'."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.strip().lower()).strip("-_")
    return slug[:63]

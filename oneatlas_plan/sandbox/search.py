"""OpenSearch over the procedural archive, fixed catalog features and delivered items.

Area and date criteria bound the (platform, cell, day) combos to generate; days are processed in
chunks in the primary sort direction and generation stops once the 10,000-result window is full
(``totalResults`` is capped at 10,000 as on OneAtlas). ``relation`` reads "footprint <relation>
geometry": ``contains`` returns scenes whose footprint contains the search geometry.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from . import catalog
from .criteria import RESULT_WINDOW, Criteria, Range
from .features import rebase_links, scene_feature, scene_record
from .world import PUBLIC, PUBLIC_PNEO, workspace_by_key

MAX_COMBOS_PER_CHUNK = 400_000
PUBLISH_DELAY_MAX_S = catalog.PUBLISH_DELAY_MIN_S + catalog.PUBLISH_SPREAD_S


@dataclass
class _Candidates:
    scenes: list[catalog.Scenes]
    dicts: list[dict[str, Any]]


class Archive:
    """The searchable world: procedural scenes plus fixed (``--catalog``) features."""

    def __init__(
        self, seed: int = 0, fixed: list[dict[str, Any]] | None = None, today: dt.date | None = None
    ) -> None:
        self.seed = seed
        self.fixed = list(fixed or [])
        self.today = today or dt.datetime.now(dt.UTC).date()

    # --- lookups -----------------------------------------------------------------------------

    def record_by_key(self, key: int) -> dict[str, Any] | None:
        p, cx, cy, day = (int(v[0]) for v in catalog.unpack_key(np.array([key], dtype=np.uint64)))
        if p >= len(catalog.PLATFORMS) or not LAT_OK(cy):
            return None
        scenes = catalog.generate(
            np.array([p]), np.array([cx]), np.array([cy]), np.array([day]), self.seed
        )
        first, last = catalog.active_days(catalog.PLATFORMS[p], self.today)
        if not first <= day <= last:
            return None
        for i in range(len(scenes)):
            if int(scenes.key[i]) == key:
                return scene_record(scenes, i, self.seed)
        return None

    def record_by_id(self, item_id: str) -> dict[str, Any] | None:
        key = catalog.key_from_uuid(item_id, self.seed)
        return None if key is None else self.record_by_key(key)

    def record_by_datastrip(self, datastrip: str) -> dict[str, Any] | None:
        parsed = catalog.parse_datastrip(datastrip)
        if parsed is None:
            return None
        plat, x, y, day = parsed
        days = np.array([day - 1, day, day + 1])
        scenes = catalog.generate(
            np.full(3, plat.index), np.full(3, x + 180), np.full(3, y + 90), days, self.seed
        )
        for i in range(len(scenes)):
            rec = scene_record(scenes, i, self.seed)
            if rec["datastrip"] == datastrip and self.record_by_key(rec["key"]) is not None:
                return rec
        return None

    def record_by_acquisition_id(self, acq_id: str) -> dict[str, Any] | None:
        key = catalog.key_from_pneo_acquisition_id(acq_id, self.seed)
        if key is None:
            return None
        rec = self.record_by_key(key)
        if rec is None or catalog.pneo_acquisition_id(rec["platform"], key, self.seed) != acq_id:
            return None
        return rec

    def fixed_by(self, field: str, value: str) -> dict[str, Any] | None:
        for feature in self.fixed:
            if feature.get("properties", {}).get(field) == value:
                return feature
        return None

    def feature_by_id(self, item_id: str, base: str) -> dict[str, Any] | None:
        fixed = self.fixed_by("id", item_id)
        if fixed is not None:
            return rebase_links(fixed, base)
        rec = self.record_by_id(item_id)
        return None if rec is None else scene_feature(rec, base)

    def footprint_by_datastrip(self, datastrip: str) -> tuple[str, BaseGeometry, str] | None:
        """(item id, footprint, constellation) of a legacy datastrip id, or None."""
        for field in ("archiveIdentifier", "acquisitionIdentifier"):
            fixed = self.fixed_by(field, datastrip)
            if fixed is not None:
                props = fixed["properties"]
                return props["id"], shape(fixed["geometry"]), props.get("constellation", "")
        rec = self.record_by_datastrip(datastrip)
        if rec is None:
            return None
        return rec["id"], shapely.Polygon(rec["ring"]), rec["platform"].constellation

    def footprint_by_id(self, item_id: str) -> tuple[str, BaseGeometry, str] | None:
        fixed = self.fixed_by("id", item_id)
        if fixed is not None:
            props = fixed["properties"]
            return props["id"], shape(fixed["geometry"]), props.get("constellation", "")
        rec = self.record_by_id(item_id)
        if rec is None:
            return None
        return rec["id"], shapely.Polygon(rec["ring"]), rec["platform"].constellation

    # --- search ------------------------------------------------------------------------------

    def search(self, crit: Criteria, base: str, extra: list[dict[str, Any]]) -> dict[str, Any]:
        """Answer a search with the OneAtlas envelope; ``extra`` are delivered features."""
        dicts = [f for f in self.fixed + extra if matches(f, crit)]
        scenes = self._procedural(crit)
        keys, refs = _sort_keys(crit, scenes, dicts)
        order = np.lexsort(keys[::-1]) if refs else np.array([], dtype=np.int64)
        total = len(refs)
        page = order[crit.start_index : crit.start_index + crit.items_per_page]
        features = []
        for idx in page:
            kind, ref = refs[int(idx)]
            if kind == "dict":
                features.append(rebase_links(dicts[ref], base))
            else:
                features.append(scene_feature(scene_record(scenes, ref, self.seed), base))
        return {
            "type": "FeatureCollection",
            "features": features,
            "error": False,
            "totalResults": min(total, RESULT_WINDOW),
            "startIndex": crit.start_index,
            "itemsPerPage": crit.items_per_page,
        }

    def _procedural(self, crit: Criteria) -> catalog.Scenes:
        platforms = eligible_platforms(crit)
        explicit = _explicit_records(self, crit)
        if explicit is not None:
            keys = [r["key"] for r in explicit if r["platform"] in platforms]
            scenes = catalog.scenes_from_keys(np.array(keys, dtype=np.uint64), self.seed)
            return scenes.take(np.nonzero(_scene_mask(scenes, crit))[0])
        if not platforms:
            return _empty()
        area = crit.geometry if crit.relation != "disjoint" else None
        cells = _cells(area)
        days = self._day_span(crit, platforms)
        if days is None:
            return _empty()
        collected: list[catalog.Scenes] = []
        count = 0
        for chunk in _day_chunks(days, len(cells[0]) * len(platforms), _ascending(crit)):
            scenes = _generate(platforms, cells, chunk, self.seed, self.today)
            scenes = scenes.take(np.nonzero(_scene_mask(scenes, crit))[0])
            collected.append(scenes)
            count += len(scenes)
            if count >= RESULT_WINDOW:
                break
        return _concat(collected)

    def _day_span(
        self, crit: Criteria, platforms: list[catalog.Platform]
    ) -> tuple[int, int] | None:
        first = min(catalog.active_days(p, self.today)[0] for p in platforms)
        last = max(catalog.active_days(p, self.today)[1] for p in platforms)
        lo, hi = -math.inf, math.inf
        if "acquisitionDate" in crit.ranges:
            r = crit.ranges["acquisitionDate"]
            lo, hi = r.lo, r.hi
        for name in ("lastUpdateDate", "publicationDate"):
            if name in crit.ranges:
                r = crit.ranges[name]
                lo = max(lo, r.lo - PUBLISH_DELAY_MAX_S)
                hi = min(hi, r.hi)
        if lo > -math.inf:
            first = max(first, math.floor((lo - catalog.EPOCH_TS) / catalog.DAY_S) - 1)
        if hi < math.inf:
            last = min(last, math.ceil((hi - catalog.EPOCH_TS) / catalog.DAY_S) + 1)
        return (first, last) if first <= last else None


def LAT_OK(cy: int) -> bool:
    return catalog.LAT_MIN + 90 <= cy < catalog.LAT_MAX + 90


def _empty() -> catalog.Scenes:
    return catalog.scenes_from_keys(np.array([], dtype=np.uint64), 0)


def _concat(parts: list[catalog.Scenes]) -> catalog.Scenes:
    if not parts:
        return _empty()
    names = catalog.Scenes.__dataclass_fields__
    return catalog.Scenes(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})


def _ascending(crit: Criteria) -> bool:
    return bool(crit.sort) and crit.sort[0] == ("acquisitionDate", False)


def eligible_platforms(crit: Criteria) -> list[catalog.Platform]:
    names: set[str] = set()
    for key in crit.workspaces:
        ws = workspace_by_key(key)
        if ws is PUBLIC:
            names.update(p.name for p in catalog.PLATFORMS if p.workspace == PUBLIC.name)
        elif ws is PUBLIC_PNEO:
            names.update(p.name for p in catalog.PLATFORMS if p.workspace == PUBLIC_PNEO.name)
    lists = crit.lists
    if "processingLevel" in lists and "ALBUM" not in lists["processingLevel"]:
        return []
    if "productType" in lists and "mono" not in lists["productType"]:
        return []
    if "productionStatus" in lists and "ARCHIVED" not in lists["productionStatus"]:
        return []
    if {"customerReference", "internalReference", "commercialReference"} & set(crit.strings):
        return []
    out = []
    for plat in catalog.PLATFORMS:
        if plat.name not in names:
            continue
        if "constellation" in lists and plat.constellation not in lists["constellation"]:
            continue
        if "platform" in lists and plat.name not in lists["platform"]:
            continue
        out.append(plat)
    return out


def _explicit_records(archive: Archive, crit: Criteria) -> list[dict[str, Any]] | None:
    """Scenes named by id / acquisitionIdentifier / archiveIdentifier, or None if unnamed."""
    named = {
        k: v
        for k, v in crit.strings.items()
        if k in ("id", "acquisitionIdentifier", "archiveIdentifier")
    }
    if not named:
        return None
    sets = []
    for field, values in named.items():
        found = {}
        for value in values:
            if field == "id":
                rec = archive.record_by_id(value)
            elif value.startswith("ACQ_"):
                rec = archive.record_by_acquisition_id(value)
            else:
                rec = archive.record_by_datastrip(value)
            if rec is not None and _identifier_matches(rec, field, value):
                found[rec["key"]] = rec
        sets.append(found)
    keys = set.intersection(*(set(s) for s in sets))
    return [sets[0][k] for k in sorted(keys)]


def _identifier_matches(rec: dict[str, Any], field: str, value: str) -> bool:
    plat: catalog.Platform = rec["platform"]
    if field == "acquisitionIdentifier":
        if plat.constellation == "PNEO":
            return value.startswith("ACQ_")
        return plat.constellation == "PHR" and rec["datastrip"] == value
    if field == "archiveIdentifier":
        return rec["datastrip"] == value
    return True


def _cells(area: BaseGeometry | None) -> tuple[np.ndarray, np.ndarray]:
    lat_lo, lat_hi = catalog.LAT_MIN, catalog.LAT_MAX - 1
    if area is None:
        xs, ys = np.arange(-180, 180), np.arange(lat_lo, lat_hi + 1)
    else:
        minx, miny, maxx, maxy = area.bounds
        pad_lat = catalog.MAX_HALF_EXTENT_KM / 110.574
        worst = min(max(abs(miny - pad_lat), abs(maxy + pad_lat)), 80.0)
        pad_lon = min(catalog.MAX_HALF_EXTENT_KM / (111.32 * math.cos(math.radians(worst))), 4.0)
        xs = np.arange(
            max(-180, math.floor(minx - pad_lon)), min(179, math.floor(maxx + pad_lon)) + 1
        )
        ys = np.arange(
            max(lat_lo, math.floor(miny - pad_lat)), min(lat_hi, math.floor(maxy + pad_lat)) + 1
        )
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    return gx.ravel() + 180, gy.ravel() + 90


def _day_chunks(days: tuple[int, int], combos_per_day: int, ascending: bool) -> list[np.ndarray]:
    size = max(1, MAX_COMBOS_PER_CHUNK // max(1, combos_per_day))
    first, last = days
    starts = list(range(first, last + 1, size))
    chunks = [np.arange(s, min(s + size, last + 1)) for s in starts]
    return chunks if ascending else chunks[::-1]


def _generate(
    platforms: list[catalog.Platform],
    cells: tuple[np.ndarray, np.ndarray],
    days: np.ndarray,
    seed: int,
    today: dt.date,
) -> catalog.Scenes:
    ps, cxs, cys, ds = [], [], [], []
    for plat in platforms:
        first, last = catalog.active_days(plat, today)
        active = days[(days >= first) & (days <= last)]
        if active.size == 0:
            continue
        n_cells = cells[0].shape[0]
        ps.append(np.full(n_cells * active.size, plat.index))
        cxs.append(np.repeat(cells[0], active.size))
        cys.append(np.repeat(cells[1], active.size))
        ds.append(np.tile(active, n_cells))
    if not ps:
        return _empty()
    return catalog.generate(
        np.concatenate(ps), np.concatenate(cxs), np.concatenate(cys), np.concatenate(ds), seed
    )


def _range_mask(values: np.ndarray, r: Range) -> np.ndarray:
    lo = values >= r.lo if r.lo_inclusive else values > r.lo
    hi = values <= r.hi if r.hi_inclusive else values < r.hi
    return lo & hi


def _columns(scenes: catalog.Scenes) -> dict[str, np.ndarray]:
    """The numeric property columns that range criteria and sorting apply to."""
    return {
        "cloudCover": scenes.cloud,
        "incidenceAngle": scenes.incidence,
        "snowCover": scenes.snow,
        "resolution": scenes.resolution,
        "acquisitionDate": scenes.acq,
        "lastUpdateDate": scenes.published,
        "publicationDate": scenes.published,
    }


def _scene_mask(scenes: catalog.Scenes, crit: Criteria) -> np.ndarray:
    mask = np.ones(len(scenes), dtype=bool)
    columns = _columns(scenes)
    for name, r in crit.ranges.items():
        mask &= _range_mask(columns[name], r)
    if crit.geometry is not None and mask.any():
        mask &= _geometry_mask(scenes, mask, crit.geometry, crit.relation)
    return mask


def rings(scenes: catalog.Scenes) -> np.ndarray:
    """Footprint rings, shape (n, 5, 2), identical to :func:`catalog.footprint`."""
    swath = np.array([p.swath_km for p in catalog.PLATFORMS])[scenes.p]
    coslat = np.maximum(np.cos(np.radians(scenes.lat)), 0.05)
    out = np.empty((len(scenes), 5, 2))
    cos_t, sin_t = np.cos(scenes.tilt), np.sin(scenes.tilt)
    for j, (sx, sy) in enumerate(((-1, 1), (-1, -1), (1, -1), (1, 1), (-1, 1))):
        x, y = sx * swath / 2.0, sy * scenes.length / 2.0
        out[:, j, 0] = np.round(scenes.lon + (x * cos_t - y * sin_t) / (111.32 * coslat), 9)
        out[:, j, 1] = np.round(scenes.lat + (x * sin_t + y * cos_t) / 110.574, 9)
    return out


def _geometry_mask(
    scenes: catalog.Scenes, mask: np.ndarray, area: BaseGeometry, relation: str
) -> np.ndarray:
    result = np.zeros(len(scenes), dtype=bool)
    idx = np.nonzero(mask)[0]
    if relation != "disjoint":
        minx, miny, maxx, maxy = area.bounds
        sub = scenes.take(idx)
        near = (
            (sub.lon + sub.half_lon >= minx)
            & (sub.lon - sub.half_lon <= maxx)
            & (sub.lat + sub.half_lat >= miny)
            & (sub.lat - sub.half_lat <= maxy)
        )
        idx = idx[near]
    if idx.size == 0:
        return result
    polys = shapely.polygons(rings(scenes.take(idx)))
    shapely.prepare(area)
    test = {
        "intersects": shapely.intersects,
        "contains": shapely.contains,
        "within": shapely.within,
        "disjoint": shapely.disjoint,
    }[relation]
    result[idx] = test(polys, area)
    return result


# --- python path (fixed and delivered features) -------------------------------------------------


def matches(feature: dict[str, Any], crit: Criteria) -> bool:
    props = feature.get("properties", {})
    wanted = set(crit.workspaces)
    if not wanted & {props.get("workspaceId"), props.get("workspaceName")}:
        return False
    for name, r in crit.ranges.items():
        if not _prop_in_range(props.get(name), r, name):
            return False
    for name, values in crit.lists.items():
        if str(props.get(name)) not in values:
            return False
    for name, values in crit.strings.items():
        if str(props.get(name)) not in values:
            return False
    if crit.geometry is not None:
        footprint = shape(feature["geometry"])
        if not getattr(footprint, crit.relation)(crit.geometry):
            return False
    return True


def _prop_in_range(value: Any, r: Range, name: str) -> bool:
    from .criteria import DATE_FIELDS, CriteriaError, parse_datetime

    if value is None:
        return False
    try:
        number = parse_datetime(str(value)) if name in DATE_FIELDS else float(value)
    except (CriteriaError, ValueError):
        return False
    return r.contains(number)


def _dict_value(feature: dict[str, Any], name: str) -> float:
    from .criteria import DATE_FIELDS, CriteriaError, parse_datetime

    value = feature.get("properties", {}).get(name)
    if value is None:
        return math.nan
    try:
        return parse_datetime(str(value)) if name in DATE_FIELDS else float(value)
    except (CriteriaError, ValueError):
        return math.nan


def _sort_keys(
    crit: Criteria, scenes: catalog.Scenes, dicts: list[dict[str, Any]]
) -> tuple[list[np.ndarray], list[tuple[str, int]]]:
    columns = _columns(scenes)
    refs = [("scene", i) for i in range(len(scenes))] + [("dict", i) for i in range(len(dicts))]
    keys = []
    for name, desc in crit.sort:
        values = np.concatenate([columns[name], np.array([_dict_value(f, name) for f in dicts])])
        values = np.nan_to_num(values, nan=-math.inf if desc else math.inf)
        keys.append(-values if desc else values)
    dict_ids = sorted(
        range(len(dicts)), key=lambda i: str(dicts[i].get("properties", {}).get("id"))
    )
    dict_rank = np.empty(len(dicts), dtype=np.float64)
    dict_rank[dict_ids] = np.arange(len(dicts))
    tie = np.concatenate([scenes.key.astype(np.float64), 2.0**40 + dict_rank])
    keys.append(tie)
    return keys, refs

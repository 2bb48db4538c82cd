"""Merged searches: AOIs close together with the same criteria share one search.

AOIs are grouped by their query (everything but the geometry), then each group is split
top-down until every part is worth one search (:func:`cluster`): a scene is found by a bbox
search when its footprint touches the box, so the expected results of a search over a box of
``w × h`` are proportional to ``(w + F)(h + F)``, with ``F`` the side of a typical footprint of
the constellation (Pléiades 20 km, SPOT 60 km, Pléiades Neo 14 km). A part is searched once
with the bounding box of its AOIs when that expected area is at most ``MAX_OVERFETCH`` times
the area the separate searches would need (the union of each AOI's box grown by ``F``: what is
needed, counted once); otherwise it is cut in two at the widest gap between AOIs along its
longer side. Tidy neighbouring tiles become one search; clusters far apart become one search
each, never one box spanning the empty land between them. The features are then assigned to
AOIs locally (selection checks the intersection).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from oneatlas_plan.api.models import SceneFeature
from oneatlas_plan.api.query import SearchQuery
from oneatlas_plan.planning.selection import Candidate

PADDING_DEGREES = 1e-6
GRID_UNION_MAX_BOXES = 1000  # a grid of (2 × boxes)² cells: 16 MB of counts at most
MAX_OVERFETCH = 1.5  # a merged search fetches at most 1.5× the expected results it needs
KM_PER_DEGREE = 111.32
FOOTPRINT_KM = {"PHR": 20.0, "SPOT": 60.0, "PNEO": 14.0}  # typical scene side per constellation

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class SearchNeed:
    """One AOI that needs candidates for ``query`` (a query without geometry)."""

    key: Hashable  # who asked (e.g. the resource address)
    query: SearchQuery
    bounds: Bounds  # AOI bounds: min_lon, min_lat, max_lon, max_lat


@dataclass(frozen=True)
class MergedSearch:
    query: SearchQuery  # with the cluster's bbox
    keys: tuple[Hashable, ...]


def footprint_km(query: SearchQuery) -> float:
    """The largest typical footprint side among the query's constellations (the widest reach)."""
    sides = [FOOTPRINT_KM.get(c.upper(), 0.0) for c in query.constellations]
    return max(sides, default=0.0) or max(FOOTPRINT_KM.values())


def _union_bounds(boxes: Sequence[Bounds]) -> Bounds:
    min_lon, min_lat, max_lon, max_lat = zip(*boxes, strict=True)
    return (
        round(max(-180.0, min(min_lon) - PADDING_DEGREES), 7),
        round(max(-90.0, min(min_lat) - PADDING_DEGREES), 7),
        round(min(180.0, max(max_lon) + PADDING_DEGREES), 7),
        round(min(90.0, max(max_lat) + PADDING_DEGREES), 7),
    )


def _grown_km(bounds: Bounds, reach_km: float) -> Bounds:
    """``bounds`` in km (x scaled at the box's latitude), grown by ``reach_km`` on each side."""
    scale = KM_PER_DEGREE * math.cos(math.radians((bounds[1] + bounds[3]) / 2))
    return (
        bounds[0] * scale - reach_km,
        bounds[1] * KM_PER_DEGREE - reach_km,
        bounds[2] * scale + reach_km,
        bounds[3] * KM_PER_DEGREE + reach_km,
    )


def overfetch(boxes: Sequence[Bounds], reach_km: float) -> float:
    """Expected results of one search over the boxes' bbox / those of searching each box
    (their union, counted once): 1.0 for tiles that touch, large for scattered clusters."""
    import numpy as np
    import shapely

    merged = shapely.box(*_grown_km(_union_bounds(boxes), reach_km)).area
    grown = np.array([_grown_km(b, reach_km) for b in boxes]).T  # one vectorised call
    if len(boxes) <= GRID_UNION_MAX_BOXES:
        needed = _union_area(grown)
    else:
        needed = shapely.union_all(shapely.box(*grown)).area
    return merged / needed if needed > 0 else 1.0


def _union_area(boxes: Any) -> float:
    """The area of the union of axis-aligned boxes (rows x0, y0, x1, y1): on the grid of their
    edges, each cell is covered or not (a 2-D prefix sum of +1/−1 at the corners); several
    times faster than a polygon union of the boxes for the hundred-odd boxes of a cluster.
    Counts fit in int16 (at most GRID_UNION_MAX_BOXES boxes over a cell) and the covered
    cells are weighed a band of rows at a time: a few MB, not a float copy of the grid."""
    import numpy as np

    count = boxes.shape[1]
    xs, x_at = np.unique(np.concatenate([boxes[0], boxes[2]]), return_inverse=True)
    ys, y_at = np.unique(np.concatenate([boxes[1], boxes[3]]), return_inverse=True)
    cover = np.zeros((len(xs), len(ys)), dtype=np.int16)
    x0, x1, y0, y1 = x_at[:count], x_at[count:], y_at[:count], y_at[count:]
    for xi, yi, sign in ((x0, y0, 1), (x0, y1, -1), (x1, y0, -1), (x1, y1, 1)):
        np.add.at(cover, (xi, yi), sign)
    np.cumsum(cover, axis=0, out=cover)
    np.cumsum(cover, axis=1, out=cover)
    widths, heights = np.diff(xs), np.diff(ys)
    area = 0.0
    for row in range(0, len(widths), 128):
        band = widths[row : row + 128]
        area += float(band @ ((cover[row : row + len(band), :-1] > 0) @ heights))
    return area


def worth_one_search(boxes: Sequence[Bounds], reach_km: float) -> bool:
    """``overfetch(boxes, reach_km) <= MAX_OVERFETCH``, without the union of the grown boxes
    when their areas settle it: the union is at least the largest box and at most their sum,
    so a merged box above ``MAX_OVERFETCH`` × the sum is over the limit (a region-wide group
    of scattered clusters, where the union of every box is the costly part) and one within
    ``MAX_OVERFETCH`` × the largest is under it."""
    grown = [_grown_km(b, reach_km) for b in boxes]
    areas = [(e - w) * (n - s) for w, s, e, n in grown]
    west, south, east, north = _grown_km(_union_bounds(boxes), reach_km)
    merged = (east - west) * (north - south)
    if min(areas) <= 0:  # (never with a footprint's reach) no shortcut: the exact figure
        return overfetch(boxes, reach_km) <= MAX_OVERFETCH
    if merged > MAX_OVERFETCH * sum(areas) * (1 + 1e-9):
        return False
    if merged <= MAX_OVERFETCH * max(areas) * (1 - 1e-9):
        return True
    return overfetch(boxes, reach_km) <= MAX_OVERFETCH


def _split(needs: list[SearchNeed]) -> tuple[list[SearchNeed], list[SearchNeed]]:
    """Cut at the widest gap between AOI centres along the longer side of their bbox."""
    west, south, east, north = _union_bounds([n.bounds for n in needs])
    axis = 0 if (east - west) * math.cos(math.radians((south + north) / 2)) >= north - south else 1
    ordered = sorted(needs, key=lambda n: (n.bounds[axis] + n.bounds[axis + 2], str(n.key)))
    centres = [(n.bounds[axis] + n.bounds[axis + 2]) / 2 for n in ordered]
    gaps = [centres[i + 1] - centres[i] for i in range(len(centres) - 1)]
    cut = max(range(len(gaps)), key=lambda i: (gaps[i], -abs(i + 1 - len(ordered) / 2))) + 1
    return ordered[:cut], ordered[cut:]


def cluster(needs: Sequence[SearchNeed], reach_km: float) -> list[list[SearchNeed]]:
    """Parts of ``needs`` (one query) each worth one search: over-fetch <= MAX_OVERFETCH."""
    parts: list[list[SearchNeed]] = []
    pending = [list(needs)]
    while pending:
        part = pending.pop()
        if len(part) == 1 or worth_one_search([n.bounds for n in part], reach_km):
            parts.append(part)
        else:
            pending.extend(_split(part))
    return parts


def merge_searches(needs: Sequence[SearchNeed]) -> list[MergedSearch]:
    """Group needs by query, cluster them; deterministic order (by first key)."""
    groups: dict[SearchQuery, list[SearchNeed]] = defaultdict(list)
    for need in needs:
        groups[need.query].append(need)
    merged = [
        MergedSearch(
            query=query.model_copy(
                update={"bbox": _union_bounds([n.bounds for n in part]), "geometry": None}
            ),
            keys=tuple(n.key for n in sorted(part, key=lambda n: str(n.key))),
        )
        for query, members in groups.items()
        for part in cluster(members, footprint_km(query))
    ]
    return sorted(merged, key=lambda m: str(m.keys[0]))


def stream_searches(
    merged: Sequence[MergedSearch],
    search: Callable[[SearchQuery], list[SceneFeature]],
    workers: int,
) -> Iterator[tuple[MergedSearch, list[Candidate]]]:
    """Run the merged searches ``workers`` at a time; each with its candidates, in the order
    given, as soon as it and those before it are done."""
    if not merged:
        return
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(merged))),
                              thread_name_prefix="oneatlas-searches")
    try:
        futures = [pool.submit(search, m.query) for m in merged]
        for one, future in zip(merged, futures, strict=True):
            features = future.result()
            yield one, [c for c in (to_candidate(f) for f in features) if c is not None]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def to_candidate(scene: SceneFeature) -> Candidate | None:
    """A search feature as a selection candidate; None when it has no usable footprint."""
    geometry: Mapping[str, Any] | None = scene.geometry
    if not geometry or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return None
    archive_id = (
        scene.archive_identifier
        or scene.acquisition_identifier
        or scene.source_identifier
        or scene.parent_identifier
        or ""
    )
    return Candidate(
        id=scene.id,
        archive_identifier=archive_id,
        platform=scene.platform or "",
        constellation=scene.constellation or "",
        acquisition_date=scene.acquisition_date or "",
        cloud_cover=scene.cloud_cover,
        incidence_angle=scene.incidence_angle,
        snow_cover=scene.snow_cover,
        resolution=scene.resolution,
        footprint=dict(geometry),
        processing_level=scene.processing_level,
    )

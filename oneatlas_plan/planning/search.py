"""Merged searches: many AOIs with the same criteria share one search per spatial cluster.

AOIs are grouped by their query (everything but the geometry), then clustered on a grid of
``CLUSTER_DEGREES`` cells by centroid; each cluster is searched once with the bounding box of
its AOIs, and the features are assigned to AOIs locally (selection checks the intersection).
So 1,000 small AOIs over one region cost a handful of searches, not 1,000.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oneatlas_plan.api.models import Feature
from oneatlas_plan.api.query import SearchQuery
from oneatlas_plan.planning.selection import Candidate

CLUSTER_DEGREES = 1.0
PADDING_DEGREES = 1e-6


@dataclass(frozen=True)
class SearchNeed:
    """One AOI that needs candidates for ``query`` (a query without geometry)."""

    key: Hashable  # who asked (e.g. the resource address)
    query: SearchQuery
    bounds: tuple[float, float, float, float]  # AOI bounds: min_lon, min_lat, max_lon, max_lat


@dataclass(frozen=True)
class MergedSearch:
    query: SearchQuery  # with the cluster's bbox
    keys: tuple[Hashable, ...]


def _cell(bounds: tuple[float, float, float, float]) -> tuple[int, int]:
    lon = (bounds[0] + bounds[2]) / 2
    lat = (bounds[1] + bounds[3]) / 2
    return math.floor(lon / CLUSTER_DEGREES), math.floor(lat / CLUSTER_DEGREES)


def _union_bounds(
    boxes: Iterable[tuple[float, float, float, float]],
) -> tuple[float, float, float, float]:
    min_lon, min_lat, max_lon, max_lat = zip(*boxes, strict=True)
    return (
        round(max(-180.0, min(min_lon) - PADDING_DEGREES), 7),
        round(max(-90.0, min(min_lat) - PADDING_DEGREES), 7),
        round(min(180.0, max(max_lon) + PADDING_DEGREES), 7),
        round(min(90.0, max(max_lat) + PADDING_DEGREES), 7),
    )


def merge_searches(needs: Sequence[SearchNeed]) -> list[MergedSearch]:
    """Group needs by query and grid cell; deterministic order (by first key)."""
    groups: dict[tuple[SearchQuery, tuple[int, int]], list[SearchNeed]] = defaultdict(list)
    for need in needs:
        groups[(need.query, _cell(need.bounds))].append(need)
    merged = [
        MergedSearch(
            query=query.model_copy(
                update={"bbox": _union_bounds(n.bounds for n in members), "geometry": None}
            ),
            keys=tuple(n.key for n in members),
        )
        for (query, _), members in groups.items()
    ]
    return sorted(merged, key=lambda m: str(m.keys[0]))


def run_searches(
    needs: Sequence[SearchNeed],
    search_many: Callable[[list[SearchQuery]], list[list[Feature]]],
) -> tuple[dict[Hashable, list[Candidate]], int]:
    """Run the merged searches; return candidates per need key and the number of searches."""
    merged = merge_searches(needs)
    results = search_many([m.query for m in merged]) if merged else []
    per_key: dict[Hashable, list[Candidate]] = {}
    for search, features in zip(merged, results, strict=True):
        candidates = [c for c in (to_candidate(f) for f in features) if c is not None]
        for key in search.keys:
            per_key[key] = candidates
    return per_key, len(merged)


def to_candidate(feature: Feature) -> Candidate | None:
    """A search feature as a selection candidate; None when it has no usable footprint."""
    props = feature.properties
    geometry: Mapping[str, Any] | None = feature.geometry
    if not geometry or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return None
    archive_id = (
        props.archive_identifier
        or props.acquisition_identifier
        or props.source_identifier
        or props.parent_identifier
        or ""
    )
    return Candidate(
        id=props.id,
        archive_identifier=archive_id,
        platform=props.platform or "",
        constellation=props.constellation or "",
        acquisition_date=props.acquisition_date or "",
        cloud_cover=props.cloud_cover,
        incidence_angle=props.incidence_angle,
        snow_cover=props.snow_cover,
        resolution=props.resolution,
        footprint=dict(geometry),
        processing_level=props.processing_level,
    )

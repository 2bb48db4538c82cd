"""The desired resources: what the specs ask for, one entry per address (pure data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from oneatlas_plan.api.query import SearchQuery
from oneatlas_plan.planning.budget import Limits
from oneatlas_plan.planning.orders import OrderTemplate
from oneatlas_plan.planning.selection import Criteria, Policy


@dataclass(frozen=True)
class DesiredResource:
    address: str
    spec_name: str
    spec_file: str
    aoi_key: str  # spec.order.aoi: resources of one AOI (several indexes) share it
    aoi_name: str
    aoi_geometry: dict[str, Any] = field(hash=False)
    aoi_area_km2: float
    index: int  # 0 unless the policy selects several scenes per AOI
    config_digest: str
    template: OrderTemplate
    query: SearchQuery  # without geometry; the merged search adds a bbox
    criteria: Criteria
    policy: Policy
    projection: str | None = None  # EPSG code, "auto" or None
    dem: str | None = None
    accept_quotations_up_to: Decimal | None = None
    digests: dict[str, str] = field(default_factory=dict, hash=False)
    on_change: str = "replace"  # replace | keep
    allow_overlap: bool = False


@dataclass(frozen=True)
class DesiredSet:
    resources: list[DesiredResource]
    spec_files: dict[str, str]  # relative path -> sha256
    limits: Limits

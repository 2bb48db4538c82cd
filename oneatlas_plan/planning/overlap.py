"""Nothing bought twice unknowingly (pure): the same scene, with the same product and options,
already owned (state) or planned (earlier in this plan) over an overlapping AOI.

Orders of resources that left the state (``retired``) count too: bought once is bought.
A record ordered by an older oneatlas-plan holds neither its AOI nor its product digest: it
cannot be compared and is left out (docs/SPEC.md says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from oneatlas_plan.geodesy import geodesic_area_km2
from oneatlas_plan.planning.orders import cover_address
from oneatlas_plan.planning.selection import Candidate
from oneatlas_plan.state.model import OrderRecord, State

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

OWNING_STATUSES = frozenset({"ordered", "accepted", "pending", "unknown", "quoted"})
MIN_OVERLAP_KM2 = 0.001  # below this, two AOIs only touch


@dataclass(frozen=True)
class Owned:
    """One scene held by a resource (in the state or planned) over an AOI."""

    address: str
    owner: str  # state | plan
    scene: str  # archive identifier, or the catalogue id
    scene_id: str
    product: str  # the "product" field digest
    aoi: dict[str, Any]
    sales_order_id: str | None = None

    @cached_property
    def shape(self) -> BaseGeometry:
        from shapely.geometry import shape

        return shape(self.aoi)


class OwnedIndex:
    """Owned scenes in the order they were added, found by scene: a purchase is compared
    with the holders of its own scenes only, not with everything owned and planned so far."""

    def __init__(self, items: Iterable[Owned] = ()) -> None:
        self._items: list[Owned] = []
        self._by_scene: dict[str, list[int]] = {}
        self.extend(items)

    def extend(self, items: Iterable[Owned]) -> None:
        for item in items:
            position = len(self._items)
            self._items.append(item)
            self._by_scene.setdefault(item.scene, []).append(position)
            if item.scene_id != item.scene:
                self._by_scene.setdefault(item.scene_id, []).append(position)

    def among(self, scenes: Iterable[Candidate]) -> list[Owned]:
        """What holds one of ``scenes`` (by archive id or catalogue id), in order added."""
        positions: set[int] = set()
        for scene in scenes:
            for key in {scene.archive_identifier or scene.id, scene.id}:
                positions.update(self._by_scene.get(key, ()))
        return [self._items[i] for i in sorted(positions)]

    def __iter__(self) -> Iterator[Owned]:
        return iter(self._items)


@dataclass(frozen=True)
class Found:
    owned: Owned
    area_km2: float
    fraction: float


def owned_in_state(state: State) -> list[Owned]:
    held: list[tuple[str, OrderRecord]] = [
        (address, order)
        for address, record in sorted(state.resources.items())
        for order in record.orders
    ]
    held += [(entry.address, entry.order) for entry in state.retired]
    found = []
    for address, order in held:
        product = image_digest(order.digests)
        if order.status not in OWNING_STATUSES or not product or order.aoi_geometry is None:
            continue
        for scene in order.scenes:
            found.append(
                Owned(
                    address=address,
                    owner="state",
                    scene=scene.archive_identifier or scene.id,
                    scene_id=scene.id,
                    product=product,
                    aoi=order.aoi_geometry,
                    sales_order_id=order.sales_order_id or order.quotation_id,
                )
            )
    return found


def image_digest(digests: dict[str, str]) -> str | None:
    """What identifies the pixels bought (product type and options but priority and
    delivery method, projection, DEM)."""
    return digests.get("image")


def planned(
    address: str, product: str, aoi: dict[str, Any], scenes: Iterable[Candidate]
) -> list[Owned]:
    return [
        Owned(address, "plan", s.archive_identifier or s.id, s.id, product, aoi) for s in scenes
    ]


def overlaps(
    aoi: BaseGeometry,
    aoi_area_km2: float,
    product: str,
    scenes: Sequence[Candidate],
    owned: Iterable[Owned],
    *,
    skip_address: str | None = None,
) -> list[Found]:
    """Every owned scene among ``scenes`` with the same product whose AOI meets ``aoi``."""
    by_scene = {s.archive_identifier or s.id: s for s in scenes}
    by_id = {s.id: s for s in scenes}
    found = []
    west, south, east, north = aoi.bounds
    for item in owned:
        scene = by_scene.get(item.scene) or by_id.get(item.scene_id)
        if scene is None or item.product != product:
            continue
        if skip_address is not None and cover_address(item.address) == skip_address:
            continue
        other = item.shape
        left, bottom, right, top = other.bounds
        if left > east or right < west or bottom > north or top < south:
            continue  # apart: nothing shared
        shared = aoi.intersection(other).intersection(scene.footprint_shape)
        area = geodesic_area_km2(shared)
        if area > MIN_OVERLAP_KM2:
            fraction = area / aoi_area_km2 if aoi_area_km2 > 0 else 0.0
            found.append(Found(item, area, min(1.0, fraction)))
    return found


def cover_overlap_km2(aoi: BaseGeometry, scenes: Sequence[Candidate]) -> float:
    """Area of the AOI paid more than once by a multi-scene cover."""
    if len(scenes) < 2:
        return 0.0
    from shapely.ops import unary_union

    parts = [aoi.intersection(s.footprint_shape) for s in scenes]
    return max(
        0.0, sum(geodesic_area_km2(p) for p in parts) - geodesic_area_km2(unary_union(parts))
    )


def describe(found: Sequence[Found], price_shares: Sequence[str]) -> str:
    """``scene DS_… already owned by a.b.c (sales order SO-1) over 12.30 km² (45% of the
    AOI, ≈ EUR 120.00)``, for each overlap."""
    parts = []
    for item, share in zip(found, price_shares, strict=True):
        who = item.owned
        if who.owner == "state":
            holder = f"already owned by {who.address} (sales order {who.sales_order_id or '?'})"
        else:
            holder = f"also planned for {who.address}"
        cost = f", ≈ {share}" if share else ""
        parts.append(
            f"scene {who.scene} of the same product {holder} over "
            f"{item.area_km2:,.2f} km² ({item.fraction:.0%} of the AOI{cost})"
        )
    return "; ".join(parts)

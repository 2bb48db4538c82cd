"""Grouping resources into Airbus orders and building their exact bodies (pure).

Each order gets an idempotency key derived from its resources' addresses and config digests;
it starts the customerReference (``oap-<12 hex>_<the user's template>``) so a dropped answer
can be reconciled by searching Airbus for it, even if Airbus shortens the reference: no
length or character limit is documented (docs/sandbox.md, "Known unknowns"), and a cut after
the first 16 characters still keeps the whole key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from oneatlas_plan import _canonical
from oneatlas_plan.api.orders import (
    MAX_ITEMS_PER_ORDER,
    Aoi,
    OrderItem,
    OrderRequest,
    email_notification,
)
from oneatlas_plan.planning.selection import Candidate

KEY_PREFIX = "oap-"
KEY_LENGTH = len(KEY_PREFIX) + 12
REFERENCE_SEPARATOR = "_"  # between the key and the user's text; "_" is in every reference seen
NEO_CONSTELLATION = "PNEO"
_PART = re.compile(r"\[part\d+\]$")


@dataclass(frozen=True)
class OrderTemplate:
    """What a spec order fixes for every Airbus order made from it."""

    spec_name: str
    spec_file: str
    order_name: str
    contract_id: str
    product_type_id: str
    constellation: str
    options: tuple[tuple[str, str], ...]  # every option but projection and dem (per AOI)
    primary_market: str
    secondary_market: str
    customer_reference: str  # template with {spec} {order} {aoi}
    program_reference: str
    order_group: str
    end_users: tuple[tuple[tuple[str, str], ...], ...]
    notification_emails: tuple[str, ...]
    delivery: tuple[tuple[str, str], ...]
    pairs_per_order: int = 1

    @property
    def is_neo(self) -> bool:
        return self.constellation == NEO_CONSTELLATION


@dataclass(frozen=True)
class OptionNames:
    """How the contract's ``…/options`` answer names the per-AOI options: ``dem_1``,
    ``projection_1`` (one per AOI: the archive guide's and Airbus's OpenAPI's form) or plain
    ``dem`` / ``projection`` (one for the whole order, as public production code sends on
    some legacy contracts). ``note`` says which form was sent when the answer left it open."""

    dem_per_aoi: bool = True
    projection_per_aoi: bool = True
    note: str | None = None


@dataclass(frozen=True)
class ResolvedResource:
    address: str
    config_digest: str
    aoi_name: str
    aoi_geometry: dict[str, Any]
    template: OrderTemplate
    scenes: tuple[Candidate, ...]
    projection: str | None = None  # an EPSG-like code, or None
    dem: str | None = None
    option_names: OptionNames = OptionNames()
    # Keys of the orders already placed for this address (the state's, retired ones too): a
    # re-buy of the same configuration must not reuse an earlier order's key.
    earlier_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderDraft:
    key: str
    template: OrderTemplate
    resources: tuple[ResolvedResource, ...]
    request: OrderRequest

    @cached_property
    def body(self) -> dict[str, Any]:
        """The request's body, made once (priced, digested and planned: never changed)."""
        return self.request.to_body()

    @cached_property
    def body_digest(self) -> str:
        return _canonical.digest(self.body)

    @property
    def addresses(self) -> list[str]:
        return [r.address for r in self.resources]


def pair_limit(template: OrderTemplate) -> int:
    """AOI/item pairs one Airbus order of this spec order may hold."""
    return min(template.pairs_per_order, MAX_ITEMS_PER_ORDER)


def part_address(address: str, part: int) -> str:
    """``spec.order.aoi[part2]``: the second Airbus order of a split multi-scene cover."""
    return f"{address}[part{part}]"


def cover_address(address: str) -> str:
    """The resource a part address belongs to (the address itself when it is no part)."""
    return _PART.sub("", address)


def split_cover(resource: ResolvedResource) -> list[ResolvedResource]:
    """A cover with more scenes than one Airbus order may hold, as parts of at most
    :func:`pair_limit` scenes each (in selection order), addressed ``…[part1]``, ``…[part2]``."""
    limit = pair_limit(resource.template)
    if len(resource.scenes) <= limit:
        return [resource]
    return [
        replace(
            resource,
            address=part_address(resource.address, n),
            scenes=resource.scenes[start : start + limit],
        )
        for n, start in enumerate(range(0, len(resource.scenes), limit), start=1)
    ]


def order_key(resources: Sequence[ResolvedResource]) -> str:
    """The idempotency key of an order: the same for every plan of the same resources and
    state, distinct from the key of any order placed before for them (reconcile finds an
    order by its key, so a re-buy sharing an old key could be settled with the old order)."""
    material: list[Any] = sorted((r.address, r.config_digest) for r in resources)
    earlier = sorted({key for r in resources for key in r.earlier_keys})
    if earlier:
        material.append({"after": earlier})
    return KEY_PREFIX + _canonical.digest(material)[:12]


def customer_reference(
    template: OrderTemplate, resources: Sequence[ResolvedResource], key: str
) -> str:
    aoi = resources[0].aoi_name + (f"+{len(resources) - 1}" if len(resources) > 1 else "")
    rendered = template.customer_reference.format(
        spec=template.spec_name, order=template.order_name, aoi=aoi
    ).strip()
    return f"{key}{REFERENCE_SEPARATOR}{rendered}" if rendered else key


def share_class(resource: ResolvedResource) -> tuple[Any, ...]:
    """Resources of one class may share an Airbus order (:func:`fits` then counts the pairs):
    the same spec order and option names, and the same ``dem``/``projection`` where the
    contract names them with one plain key for the whole order."""
    names = resource.option_names
    return (
        resource.template,
        names,
        None if names.dem_per_aoi else resource.dem,
        None if names.projection_per_aoi else resource.projection,
    )


def group(resources: Sequence[ResolvedResource]) -> list[list[ResolvedResource]]:
    """Chunk resources that may share an order, up to pairs_per_order, in address order
    within their :func:`share_class` (one chunk open per class: AOIs of two UTM zones
    alternating in address order still fill two orders, not one each); the chunks in the
    order of their first address."""
    chunks: list[list[ResolvedResource]] = []
    open_chunks: dict[tuple[Any, ...], list[ResolvedResource]] = {}
    for resource in sorted(resources, key=lambda r: r.address):
        kind = share_class(resource)
        chunk = open_chunks.get(kind)
        if chunk is not None and fits(chunk, resource):
            chunk.append(resource)
        else:
            open_chunks[kind] = [resource]
            chunks.append(open_chunks[kind])
    return chunks


def fits(chunk: Sequence[ResolvedResource], resource: ResolvedResource) -> bool:
    """Whether ``resource`` may join the order being filled with ``chunk``."""
    return (
        chunk[0].template == resource.template
        and _may_share(chunk[0], resource)
        and sum(len(r.scenes) for r in chunk) + len(resource.scenes)
        <= pair_limit(resource.template)
    )


def _may_share(first: ResolvedResource, other: ResolvedResource) -> bool:
    """Whether two AOIs can be in one order: a plain ``dem``/``projection`` key holds one
    value for every AOI of the order."""
    return share_class(first)[1:] == share_class(other)[1:]


def build_orders(resources: Sequence[ResolvedResource]) -> list[OrderDraft]:
    """Airbus orders of at most :func:`pair_limit` AOI/item pairs; a larger cover is split."""
    return [draft_order(chunk) for chunk in group([p for r in resources for p in split_cover(r)])]


def draft_order(chunk: Sequence[ResolvedResource]) -> OrderDraft:
    """The Airbus order of one chunk of :func:`group`."""
    key = order_key(chunk)
    request = build_request(chunk, key)
    return OrderDraft(key=key, template=chunk[0].template, resources=tuple(chunk), request=request)


def _options(template: OrderTemplate, chunk: Sequence[ResolvedResource]) -> dict[str, str]:
    """Common options, then projection and dem of each AOI, named as the contract's options
    answer names them (``projection_<aoi id>`` or ``projection``, ``dem_<aoi id>`` or ``dem``)."""
    options = dict(template.options)
    for aoi_id, resource in enumerate(chunk, start=1):
        names = resource.option_names
        if resource.projection:
            key = f"projection_{aoi_id}" if names.projection_per_aoi else "projection"
            options[key] = resource.projection
        if resource.dem:
            options[f"dem_{aoi_id}" if names.dem_per_aoi else "dem"] = resource.dem
    return options


def _items(template: OrderTemplate, aoi_id: int, scenes: Sequence[Candidate]) -> list[OrderItem]:
    items = []
    for scene in scenes:
        if template.is_neo:
            items.append(
                OrderItem(
                    product_type_id=template.product_type_id,
                    aoi_id=aoi_id,
                    data_source_ids=(scene.id,),
                )
            )
        else:
            items.append(
                OrderItem(
                    product_type_id=template.product_type_id,
                    aoi_id=aoi_id,
                    data_source_ids=(scene.id,),
                    datastrip_ids=(scene.archive_identifier,),
                    segment_key=scene.id,
                )
            )
    return items


def _end_users(template: OrderTemplate) -> tuple[dict[str, str], ...]:
    """The spec's end users; ``[{}]`` for a SPOT/Pléiades order without any, as the archive
    guide's step 5 sample sends (the OpenAPI requires the field; ``[]`` is in no reference)."""
    users = tuple(dict(user) for user in template.end_users)
    return users or (() if template.is_neo else ({},))


def build_request(chunk: Sequence[ResolvedResource], key: str) -> OrderRequest:
    template = chunk[0].template
    aois = tuple(
        Aoi(id=i, name=r.aoi_name, geometry=r.aoi_geometry) for i, r in enumerate(chunk, start=1)
    )
    items = tuple(
        item for i, r in enumerate(chunk, start=1) for item in _items(template, i, r.scenes)
    )
    notifications: tuple[dict[str, Any], ...] = ()
    if template.notification_emails and not template.is_neo:
        notifications = (email_notification(template.notification_emails),)
    return OrderRequest(
        contract_id=template.contract_id,
        aois=aois,
        items=items,
        primary_market=template.primary_market,
        customer_reference=customer_reference(template, chunk, key),
        secondary_market=template.secondary_market,
        program_reference=template.program_reference,
        order_group=template.order_group,
        options={template.product_type_id: _options(template, chunk)},
        end_users=_end_users(template),
        delivery=dict(template.delivery),
        notification_emails=template.notification_emails,
        notifications=notifications,
    )

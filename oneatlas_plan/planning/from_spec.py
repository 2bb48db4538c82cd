"""From loaded specs to desired resources: addresses, config digests, queries, policies."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any

from oneatlas_plan import _canonical
from oneatlas_plan.api.query import SearchQuery
from oneatlas_plan.planning.budget import Limit, Limits
from oneatlas_plan.planning.desired import DesiredResource, DesiredSet
from oneatlas_plan.planning.orders import OrderTemplate
from oneatlas_plan.planning.selection import Criteria, Policy
from oneatlas_plan.spec.loader import LoadedOrder, SpecSet
from oneatlas_plan.spec.models import Budget, Money, OrderSpec, constellation_of

END_OF_DAY = time(23, 59, 59, 999000)
# Options about the service, not the image: the same scene with another priority is the same
# purchase twice.
SERVICE_OPTIONS = {"priority", "delivery_method"}


def relative(path: Path, cwd: Path | None = None) -> str:
    """``path`` relative to ``cwd`` (default: the resolved current directory) when under it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(cwd or Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def limit(money: Money | Budget | None) -> Limit | None:
    if money is None:
        return None
    return Limit(money.amount, money.currency, getattr(money, "per", None))


def limits(specs: SpecSet) -> Limits:
    """Every budget of the specs: per Airbus order and per spec (spec files), per spec order
    (an order's own ``budget``), and the smallest ``total``."""
    airbus_order: dict[str, Limit] = {}
    per_spec: dict[str, Limit] = {}
    totals: list[Limit] = []
    for spec in specs.files:
        budget, name = spec.model.budget, spec.model.name
        if budget is None:
            continue
        if (found := limit(budget.per_airbus_order)) is not None:
            airbus_order[name] = found
        if (found := limit(budget.per_spec)) is not None:
            per_spec[name] = found
        if (found := limit(budget.total)) is not None:
            totals.append(found)
    per_order = {
        f"{loaded.spec.model.name}.{loaded.order.name}": found
        for loaded in specs.orders()
        if (found := limit(loaded.order.budget)) is not None
    }
    return Limits(
        airbus_order=airbus_order,
        order=per_order,
        spec=per_spec,
        total=min(totals, key=lambda t: t.amount) if totals else None,
    )


def desired_set(specs: SpecSet) -> DesiredSet:
    cwd = Path.cwd().resolve()
    files = {id(spec): relative(spec.path, cwd) for spec in specs.files}
    resources: list[DesiredResource] = []
    for loaded in specs.orders():
        resources.extend(expand_order(loaded, files[id(loaded.spec)]))
    return DesiredSet(
        resources=sorted(resources, key=lambda r: r.address),
        spec_files={files[id(spec)]: spec.digest for spec in specs.files},
        limits=limits(specs),
    )


def search_query(order: OrderSpec) -> SearchQuery:
    """The broad server-side query; cloud, incidence... are applied locally to explain."""
    search = order.search
    window = search.acquired
    return SearchQuery(
        workspace=order.workspace,
        constellations=tuple(order.constellations),
        platforms=tuple(search.platform or ()),
        acquired_from=datetime.combine(window.from_, time(), UTC) if window else None,
        acquired_to=datetime.combine(window.to, END_OF_DAY, UTC) if window else None,
        processing_level=(search.processing_level,),
        sort_by=tuple(search.sort_by),
    )


def criteria(order: OrderSpec) -> Criteria:
    search = order.search
    return Criteria(
        cloud_cover_max=search.cloud_cover.max if search.cloud_cover else None,
        incidence_angle_max=search.incidence_angle.max if search.incidence_angle else None,
        snow_cover_max=search.snow_cover.max if search.snow_cover else None,
        resolution_min=search.resolution.min if search.resolution else None,
        resolution_max=search.resolution.max if search.resolution else None,
        platforms=tuple(search.platform or ()),
        processing_levels=(search.processing_level,),
    )


def policy(order: OrderSpec) -> Policy:
    selection = order.selection
    return Policy(
        rank_by=tuple(selection.rank_by),
        min_coverage=selection.coverage.min,
        max_scenes=selection.coverage.max_scenes,
    )


def template(loaded: LoadedOrder, spec_file: str | None = None) -> OrderTemplate:
    order, meta = loaded.order, loaded.order.order
    options = order.product.options.as_strings()
    options.pop("projection", None)
    options.pop("dem", None)
    constellations = order.constellations
    constellation = constellation_of(order.product.type) or (
        constellations[0] if constellations else ""
    )
    return OrderTemplate(
        spec_name=loaded.spec.model.name,
        spec_file=spec_file or relative(loaded.spec.path),
        order_name=order.name,
        contract_id=meta.contract,
        product_type_id=order.product.type,
        constellation=constellation,
        options=tuple(options.items()),
        primary_market=meta.primary_market,
        secondary_market=meta.secondary_market,
        customer_reference=meta.customer_reference,
        program_reference=meta.program_reference,
        order_group=meta.order_group,
        end_users=tuple(
            (("endUserName", user.name), ("country", user.country)) for user in meta.end_users
        ),
        notification_emails=tuple(meta.notification_emails),
        delivery=_delivery(meta.delivery),
        pairs_per_order=meta.pairs_per_order,
    )


def _delivery(delivery: Any) -> tuple[tuple[str, str], ...]:
    pairs = [("type", delivery.type)]
    if delivery.workspace:
        pairs.append(("workspace", delivery.workspace))
    pairs.append(("platformId", delivery.platform_id))
    return tuple(pairs)


def _text(value: Any) -> str:
    if value is None or type(value) in (str, int):  # keys, projections, DEMs, indexes
        return _scalar_text(value)
    return _canonical.compact(value)


_scalar_text: Callable[[Any], str] = lru_cache(maxsize=4096, typed=True)(_canonical.compact)


def _mapping(parts: dict[str, str]) -> str:
    """The compact canonical JSON of a mapping, from its values' compact canonical texts: the
    same bytes as ``_canonical.compact`` of the mapping itself (the C encoder's output for a
    nested value does not depend on where it is nested). The resources of one order share most
    of their digest material; it is encoded once per order, not seven times per resource."""
    return "{" + ",".join(f"{_text(key)}:{text}" for key, text in sorted(parts.items())) + "}"


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def order_texts(order: OrderSpec) -> dict[str, str]:
    """The order-level parts of the digests, encoded (once per order)."""
    return {
        "search": _text(order.search.model_dump(mode="json", by_alias=True)),
        "workspace": _text(order.workspace),
        "constellations": _text(order.constellations),
        "selection": _text(order.selection.model_dump(mode="json")),
        "selection_criteria": _text(
            order.selection.model_dump(mode="json", exclude={"scenes_per_aoi"})
        ),
        "product": _text(order.product.model_dump(mode="json")),
        "type": _text(order.product.type),
        "image_options": _text(
            order.product.options.model_dump(
                mode="json", exclude=SERVICE_OPTIONS, exclude_none=True
            )
        ),
        "scenes_per_aoi": _text(order.selection.scenes_per_aoi),
        "order": _text(order.order.model_dump(mode="json", exclude={"pairs_per_order"})),
    }


def config_digest(
    loaded: LoadedOrder,
    aoi: Any,
    index: int,
    projection: str | None,
    dem: str | None,
    texts: dict[str, str] | None = None,
    geometry: str | None = None,
) -> str:
    """Digest of everything that determines what would be ordered (not budgets or grouping)."""
    t = texts or order_texts(loaded.order)
    rest = _config_rest(
        t["search"], t["workspace"], t["constellations"], t["selection"], t["product"],
        _text(projection), _text(dem), t["order"], _text(index),
    )  # fmt: skip
    # "aoi" is the first key in sorted order: the mapping is {"aoi":<geometry>,<rest>}
    return _sha256(f'{{"aoi":{geometry or _text(aoi.geometry)},{rest[1:]}')


@lru_cache(maxsize=1024)  # the resources of one order share it: encoded once per order
def _config_rest(
    search: str,
    workspace: str,
    constellations: str,
    selection: str,
    product: str,
    projection: str,
    dem: str,
    metadata: str,
    index: str,
) -> str:
    """The config digest's material but its AOI, as a compact canonical mapping."""
    return _mapping(
        {
            "search": search,
            "workspace": workspace,
            "constellations": constellations,
            "selection": selection,
            "product": product,
            "projection": projection,
            "dem": dem,
            "order": metadata,
            "index": index,
        }
    )


def field_digests(
    loaded: LoadedOrder,
    aoi: Any,
    index: int,
    projection: str | None,
    dem: str | None,
    texts: dict[str, str] | None = None,
    geometry: str | None = None,
) -> dict[str, str]:
    """One digest per class of fields (docs/SPEC.md, "What an edit does"): ``product`` and
    ``geometry`` changes ask for another product, ``criteria`` changes are re-checked against
    the owned scenes, ``metadata`` changes only apply to future orders."""
    t = texts or order_texts(loaded.order)
    shared = _shared_field_digests(t, index, projection, dem)
    return {
        "product": shared["product"],
        "image": shared["image"],
        "scenes": shared["scenes"],
        "geometry": _sha256(geometry or _text(aoi.geometry)),
        "criteria": shared["criteria"],
        "metadata": shared["metadata"],
    }


def _shared_field_digests(
    t: dict[str, str], index: int, projection: str | None, dem: str | None
) -> dict[str, str]:
    """The field digests that do not depend on the AOI's geometry."""
    return _class_digests(
        t["product"], t["type"], t["image_options"], t["scenes_per_aoi"], t["search"],
        t["workspace"], t["constellations"], t["selection_criteria"], t["order"],
        _text(index), _text(projection), _text(dem),
    )  # fmt: skip


@lru_cache(maxsize=1024)  # the resources of one order share them: hashed once per order
def _class_digests(
    product: str,
    type_: str,
    image_options: str,
    scenes_per_aoi: str,
    search: str,
    workspace: str,
    constellations: str,
    selection_criteria: str,
    metadata: str,
    index: str,
    projection: str,
    dem: str,
) -> dict[str, str]:
    where = {"projection": projection, "dem": dem}
    classes = {
        "product": _mapping({"product": product, **where}),
        # the pixels: what a double purchase would buy again
        "image": _mapping({"type": type_, "options": image_options, **where}),
        "scenes": _mapping({"scenes_per_aoi": scenes_per_aoi, "index": index}),
        "criteria": _mapping(
            {
                "search": search,
                "workspace": workspace,
                "constellations": constellations,
                "selection": selection_criteria,
            }
        ),
        "metadata": metadata,
    }
    return {name: _sha256(text) for name, text in classes.items()}


def expand_order(loaded: LoadedOrder, spec_file: str | None = None) -> list[DesiredResource]:
    order = loaded.order
    spec_name = loaded.spec.model.name
    spec_file = spec_file or relative(loaded.spec.path)
    order_template = template(loaded, spec_file)
    query, order_criteria, order_policy = search_query(order), criteria(order), policy(order)
    threshold = order.accept_quotations_up_to
    count = order.selection.scenes_per_aoi
    texts = order_texts(order)
    resources = []
    for aoi in loaded.aois:
        projection = aoi.projection or order.product.options.projection
        dem = aoi.dem or order.product.options.dem
        base = f"{spec_name}.{order.name}.{aoi.name}"
        geometry = _text(aoi.geometry)
        for index in range(count):
            resources.append(
                DesiredResource(
                    address=base if count == 1 else f"{base}[{index}]",
                    spec_name=spec_name,
                    spec_file=spec_file,
                    aoi_key=base,
                    aoi_name=aoi.name,
                    aoi_geometry=aoi.geometry,
                    aoi_area_km2=aoi.area_km2,
                    index=index,
                    config_digest=config_digest(
                        loaded, aoi, index, projection, dem, texts, geometry
                    ),
                    digests=field_digests(loaded, aoi, index, projection, dem, texts, geometry),
                    on_change=order.on_change,
                    allow_overlap=order.allow_overlap,
                    projection=projection,
                    dem=dem,
                    template=order_template,
                    query=query,
                    criteria=order_criteria,
                    policy=order_policy,
                    accept_quotations_up_to=threshold.amount if threshold else None,
                )
            )
    return resources

"""Plans built directly from the models (no sandbox) for renderer and diff tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oneatlas_plan.planning.model import (
    BudgetCheck,
    Candidates,
    OrderPlan,
    Overlap,
    Plan,
    PlanMeta,
    PreviousOrder,
    PriceSummary,
    ResourcePlan,
    SceneSummary,
    StateRef,
)

FIXED_META = PlanMeta(created_at="2000-01-01T00:00:00+00:00", tool_version="test", host="test")


def box(lon: float, lat: float, size: float) -> dict[str, Any]:
    ring = [
        [lon, lat],
        [lon + size, lat],
        [lon + size, lat + size],
        [lon, lat + size],
        [lon, lat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def scene(name: str, lon: float, lat: float, *, cloud: float | None = 2.5) -> SceneSummary:
    return SceneSummary(
        id=f"id-{name}",
        archive_identifier=f"DS_{name}",
        platform="PHR1A",
        constellation="PHR",
        acquisition_date="2022-06-01T10:00:00.000Z",
        cloud_cover=cloud,
        incidence_angle=12.0,
        coverage=1.0,
        footprint=box(lon - 0.1, lat - 0.1, 0.3),
    )


def resource(
    address: str,
    action: str,
    *,
    lon: float = 1.4,
    lat: float = 43.6,
    scenes: list[SceneSummary] | None = None,
    order_key: str | None = None,
    reason: str = "new resource",
    previous: PreviousOrder | None = None,
    geometry: bool = True,
    spec_file: str | None = "specs/a.yaml",
) -> ResourcePlan:
    chosen = scenes if scenes is not None else []
    return ResourcePlan(
        address=address,
        action=action,  # type: ignore[arg-type]
        reason=reason,
        spec_file=spec_file,
        config_digest="sha256:" + "0" * 64,
        aoi_name=address.rsplit(".", 1)[-1],
        aoi_geometry=box(lon, lat, 0.05) if geometry else None,
        aoi_area_km2=20.0 if geometry else None,
        scenes=chosen,
        coverage=1.0 if chosen else None,
        candidates=Candidates(found=10, eligible=4, removed={"cloud_cover": 6}) if chosen else None,
        order_key=order_key,
        previous=previous,
    )


def order(
    key: str,
    addresses: list[str],
    *,
    action: str = "create",
    amount: str | None = "250.00",
    currency: str = "EUR",
    options: dict[str, str] | None = None,
    product: str = "PleiadesArchiveMono",
    reason: str = "new order",
    spec_file: str = "specs/a.yaml",
) -> OrderPlan:
    opts = options or {"licence": "standard", "pixel_coding": "12bits"}
    body = {
        "contractId": "CTR-1",
        "customerReference": f"ref~{key}",
        "items": [{"aoiId": i + 1} for i, _ in enumerate(addresses)],
        "optionsPerProductType": [
            {
                "productTypeId": product,
                "options": [{"key": k, "value": v} for k, v in sorted(opts.items())],
            }
        ],
    }
    price = None
    if amount is not None:
        price = PriceSummary(
            currency=currency,
            amount=Decimal(amount),
            requested_area_km2=17.1,
            billable_area_km2=25.0,
            minimum_applied=True,
        )
    return OrderPlan(
        key=key,
        action=action,  # type: ignore[arg-type]
        reason=reason,
        spec_file=spec_file,
        addresses=addresses,
        contract_id="CTR-1",
        product_type_id=product,
        constellation="PHR",
        customer_reference=f"ref~{key}",
        body=body,
        body_digest="0" * 64,
        price=price,
    )


def make_plan(
    resources: list[ResourcePlan],
    orders: list[OrderPlan],
    *,
    budgets: list[BudgetCheck] | None = None,
    meta: PlanMeta = FIXED_META,
    spec_files: dict[str, str] | None = None,
) -> Plan:
    totals: dict[str, Decimal] = {}
    for o in orders:
        if o.action != "blocked" and o.price is not None:
            totals[o.price.currency] = totals.get(o.price.currency, Decimal(0)) + o.price.amount
    return Plan(
        endpoint="sandbox",
        contracts=["CTR-1"],
        spec_files=spec_files or {"specs/a.yaml": "a" * 64, "specs/b.yaml": "b" * 64},
        state=StateRef(lineage=None, serial=0),
        resources=sorted(resources, key=lambda r: r.address),
        orders=sorted(orders, key=lambda o: o.addresses[0]),
        totals=dict(sorted(totals.items())),
        budgets=budgets or [],
        meta=meta,
    ).sealed()


def mixed_plan() -> Plan:
    """Every action: create (two AOIs in one order, one with two scenes), reorder, no-op,
    forget, blocked by an unknown outcome, by a budget and by an unsatisfied search."""
    unknown = PreviousOrder(order_key="oap-unknown", status="unknown")
    held = PreviousOrder(
        order_key="oap-old",
        status="ordered",
        sales_order_id="SO-1",
        amount=Decimal("99.00"),
        currency="USD",
    )
    resources = [
        resource(
            "a.city.north",
            "create",
            scenes=[scene("N1", 1.4, 43.6), scene("N2", 1.42, 43.62)],
            order_key="oap-1",
        ),
        resource(
            "a.city.south", "create", lat=43.5, scenes=[scene("S1", 1.4, 43.5)], order_key="oap-1"
        ),
        resource(
            "a.port.quay",
            "reorder",
            lon=5.3,
            lat=43.3,
            scenes=[scene("Q1", 5.3, 43.3)],
            order_key="oap-2",
            previous=held,
            reason="the spec changed since it was ordered: a new order is needed",
        ),
        resource(
            "a.port.dock", "no-op", lon=5.35, lat=43.3, reason="already ordered", previous=held
        ),
        resource(
            "b.old.gone",
            "forget",
            geometry=False,
            spec_file="specs/b.yaml",
            reason="no longer in the specs: it leaves the state on apply; nothing is cancelled",
            previous=held,
        ),
        resource(
            "b.far.lost",
            "blocked",
            lon=31.0,
            lat=-4.6,
            spec_file="specs/b.yaml",
            reason="outcome of order oap-unknown is unknown (unknown): settle it",
            previous=unknown,
        ),
        resource(
            "b.far.pricey",
            "blocked",
            lon=31.1,
            lat=-4.6,
            spec_file="specs/b.yaml",
            scenes=[scene("P1", 31.1, -4.6, cloud=None)],
            order_key="oap-3",
            reason="budget of spec b exceeded (USD 5,000.00 > USD 1,000.00)",
        ),
        resource(
            "b.far.empty",
            "blocked",
            lon=30.9,
            lat=-4.6,
            spec_file="specs/b.yaml",
            reason="unsatisfied: no scene covers at least 95% | cloud < 10%",
        ),
    ]
    orders = [
        order("oap-1", ["a.city.north", "a.city.south"]),
        order(
            "oap-2",
            ["a.port.quay"],
            action="reorder",
            amount="120.50",
            currency="USD",
            reason="a spec changed",
        ),
        order(
            "oap-3",
            ["b.far.pricey"],
            action="blocked",
            amount="5000.00",
            currency="USD",
            reason="budget of spec b exceeded",
            spec_file="specs/b.yaml",
        ),
    ]
    budgets = [
        BudgetCheck(
            scope="airbus_order",
            name="oap-1",
            currency="EUR",
            limit=Decimal(1000),
            spent_before=Decimal(0),
            planned=Decimal(250),
            left=Decimal(750),
            ok=True,
        ),
        BudgetCheck(
            scope="airbus_order",
            name="oap-3",
            currency="USD",
            limit=Decimal(4000),
            spent_before=Decimal(0),
            planned=Decimal(5000),
            left=Decimal(-1000),
            ok=False,
        ),
        BudgetCheck(
            scope="spec",
            name="b",
            currency="USD",
            limit=Decimal(1000),
            spent_before=Decimal(0),
            planned=Decimal(5000),
            left=Decimal(-4000),
            ok=False,
        ),
        BudgetCheck(
            scope="order",
            name="a.city",
            currency="EUR",
            limit=Decimal(300),
            per="month",
            window_start="2031-12-01",
            spent_before=Decimal(40),
            planned=Decimal(250),
            left=Decimal(10),
            ok=True,
        ),
        BudgetCheck(
            scope="total",
            name="all orders",
            currency="EUR",
            limit=Decimal(2000),
            spent_before=Decimal(1200),
            planned=Decimal(250),
            left=Decimal(550),
            ok=True,
        ),
    ]
    return make_plan(resources, orders, budgets=budgets)


def big_plan(count: int = 2000, action: str = "create") -> Plan:
    """``count`` resources, each its own priced order (or blocked with a long reason)."""
    resources, orders = [], []
    for i in range(count):
        address = f"spec-{i // 100:02d}.order-{i:04d}.aoi-with-a-rather-long-name-{i:04d}"
        lon, lat = (i % 50) * 0.5, (i // 50) * 0.5
        key = f"oap-{i:012d}" if action != "blocked" else None
        resources.append(
            resource(
                address,
                action,
                lon=lon,
                lat=lat,
                scenes=[scene(f"X{i}", lon, lat)],
                order_key=key,
                spec_file=f"specs/spec-{i // 100:02d}.yaml",
                reason="new resource"
                if action != "blocked"
                else "unsatisfied: " + "no scene matches every criterion " * 4,
            )
        )
        if key:
            orders.append(order(key, [address], spec_file=f"specs/spec-{i // 100:02d}.yaml"))
    return make_plan(resources, orders)


DOUBLE_PURCHASE_REASON = (
    "scene DS_N1 of the same product already owned by a.city.north (sales order SO-7) over "
    "12.30 km² (62% of the AOI); not priced: blocked as a double purchase; plan with "
    "--allow-overlap (or allow_overlap: true) to price and buy it"
)


def double_purchase_plan(reason: str = DOUBLE_PURCHASE_REASON) -> Plan:
    """A purchase blocked as a double purchase: its order is not priced (planner.py)."""
    blocked = resource(
        "a.city.again", "blocked", scenes=[scene("N1", 1.4, 43.6)], order_key="oap-2",
        reason=reason,
    )
    blocked = blocked.model_copy(update={"overlaps": [Overlap(
        scene="DS_N1", address="a.city.north", owner="state", sales_order_id="SO-7",
        area_km2=12.3, fraction=0.62,
    )]})
    bought = resource("a.city.west", "create", lon=1.3, scenes=[scene("W1", 1.3, 43.6)],
                      order_key="oap-1")
    return make_plan(
        [blocked, bought],
        [order("oap-1", ["a.city.west"]),
         order("oap-2", ["a.city.again"], action="blocked", amount=None,
               reason=reason)],
    )  # fmt: skip

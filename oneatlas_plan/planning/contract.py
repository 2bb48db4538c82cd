"""What the contract offers, checked before pricing so Airbus never rejects an option late.

Look-ups are cached for the run: contracts once, product types once per contract, production
options once per (contract, product type, UTM zone) since only the projection default
depends on where the AOI is. The catalog may be used from several threads (the planner warms
it in one while checking in another): each look-up is made once, by whichever thread needs it
first, and the others wait for that answer (or its error).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from oneatlas_plan.api.models import Contract, ProductionOption, ProductType
from oneatlas_plan.errors import NotFoundError
from oneatlas_plan.planning.orders import OptionNames, OrderTemplate

if TYPE_CHECKING:
    from oneatlas_plan.api.client import OneAtlasClient

BACKEND_BY_CONSTELLATION = {"PHR": "legacy", "SPOT": "legacy", "PNEO": "neo"}
T = TypeVar("T")


def utm_zone(geometry: dict[str, Any]) -> tuple[int, bool]:
    """(zone number, northern hemisphere) of the AOI's first vertex ring centre."""
    ring = geometry["coordinates"][0]
    lon = sum(p[0] for p in ring) / len(ring)
    lat = sum(p[1] for p in ring) / len(ring)
    return math.floor((lon + 180) / 6) % 60 + 1, lat >= 0


class ContractCatalog:
    def __init__(self, client: OneAtlasClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._looked_up: dict[Hashable, Future[Any]] = {}

    def _once(self, key: Hashable, fetch: Callable[[], T]) -> T:
        """``fetch()``'s answer, fetched once for ``key`` whatever the thread asking."""
        with self._lock:
            future = self._looked_up.get(key)
            mine = future is None
            if future is None:
                future = self._looked_up[key] = Future()
        if mine:
            try:
                future.set_result(fetch())
            except BaseException as error:  # noqa: BLE001 - every thread waiting gets it
                future.set_exception(error)
        result: T = future.result()
        return result

    def _contracts(self) -> dict[str, Contract]:
        return self._once("contracts", lambda: {c.contract_id: c for c in self._client.contracts()})

    def contract(self, contract_id: str) -> Contract | None:
        return self._contracts().get(contract_id)

    def product_types(self, contract_id: str) -> dict[str, ProductType]:
        def fetch() -> dict[str, ProductType]:
            try:
                types = self._client.product_types(contract_id)
            except NotFoundError:
                types = []
            return {t.product_type_id: t for t in types}

        return self._once(("product types", contract_id), fetch)

    def options(self, template: OrderTemplate, aoi: dict[str, Any]) -> list[ProductionOption]:
        key = (template.contract_id, template.product_type_id, utm_zone(aoi))
        return self._once(("options", key), lambda: self._client.product_options(
            template.contract_id, template.product_type_id, aoi))

    def warm(self, template: OrderTemplate, aoi: dict[str, Any]) -> None:
        """Fetch (and cache) what :meth:`check` needs for ``template`` over ``aoi``."""
        if self._check_contract(template) is None:
            self.options(template, aoi)

    def check(
        self, template: OrderTemplate, aoi: dict[str, Any], projection: str | None, dem: str | None
    ) -> tuple[str | None, str | None, OptionNames]:
        """(problem or None, the projection to send: "auto" resolved to the AOI's default,
        how the contract names the per-AOI options)."""
        problem = self._check_contract(template)
        if problem is not None:
            return problem, None, OptionNames()
        options = self.options(template, aoi)
        if projection == "auto":
            projection = projection_default(options)
            if projection is None:
                return (
                    f"{template.product_type_id} offers no projection for this AOI",
                    None,
                    OptionNames(),
                )
        names = option_names(options, projection=projection is not None, dem=dem is not None)
        return check_options(template, options, projection, dem), projection, names

    def _check_contract(self, template: OrderTemplate) -> str | None:
        contract = self.contract(template.contract_id)
        if contract is None:
            known = ", ".join(sorted(self._contracts())) or "none"
            return f"contract {template.contract_id} is not on this account (available: {known})"
        expected = BACKEND_BY_CONSTELLATION.get(template.constellation)
        if expected and contract.backend_source and contract.backend_source != expected:
            return (
                f"contract {template.contract_id} is a {contract.backend_source} contract; "
                f"{template.constellation} needs a {expected} contract"
            )
        types = self.product_types(template.contract_id)
        if template.product_type_id not in types:
            known = ", ".join(sorted(types)) or "none"
            return (
                f"product type {template.product_type_id} is not enabled on contract "
                f"{template.contract_id} (available: {known})"
            )
        return None


def projection_default(options: list[ProductionOption]) -> str | None:
    for option in options:
        if option.base_name == "projection":
            return option.default_value
    return None


def option_names(
    options: list[ProductionOption], *, projection: bool = True, dem: bool = True
) -> OptionNames:
    """The key form the options answer uses for DEM and projection (asked for polygon 1):
    ``dem_1`` means one ``dem_<aoi id>`` per AOI, ``dem`` one key for the order. When the
    answer lists both forms (or neither, for an option sent anyway), the per-AOI form is sent,
    since Airbus's archive guide and OpenAPI document it, and the note says so."""
    per_aoi: dict[str, bool] = {}
    notes = []
    for base, sent in (("dem", dem), ("projection", projection)):
        indexed = any(o.base_name == base and o.aoi_id is not None for o in options)
        plain = any(o.name == base for o in options)
        per_aoi[base] = indexed or not plain
        if sent and indexed == plain:
            found = f"both {base} and {base}_<n>" if indexed else f"no {base} option"
            notes.append(
                f"{base} sent as {base}_<aoi id>: the contract's options answer lists {found} "
                "(the archive guide documents the per-AOI form)"
            )
    return OptionNames(per_aoi["dem"], per_aoi["projection"], "; ".join(notes) or None)


def check_options(
    template: OrderTemplate,
    options: list[ProductionOption],
    projection: str | None,
    dem: str | None,
) -> str | None:
    by_name = {option.base_name: option for option in options}
    chosen: list[tuple[str, str]] = list(template.options)
    if projection:
        chosen.append(("projection", projection))
    if dem:
        chosen.append(("dem", dem))
    for key, value in chosen:
        option = by_name.get(key)
        if option is None:
            known = ", ".join(sorted(by_name))
            return (
                f"option {key} is not offered for {template.product_type_id} on contract "
                f"{template.contract_id} (offered: {known})"
            )
        allowed = option.allowed_values
        if allowed and value not in allowed:
            return (
                f"option {key}={value} is not allowed for {template.product_type_id} "
                f"(allowed: {', '.join(allowed)})"
            )
    return None

"""Sandbox price list (Airbus publishes none; these figures are the sandbox's own).

billable area = max(geodesic area of (AOI ∩ scene footprint), minimumOrderAreaApplied = 25 km²)

amount = billable area × base rate × priority factor × licence factor, rounded to cents.

=========================  ===============
product type               base rate
=========================  ===============
PleiadesArchiveMono        10.00 EUR/km²
SPOTArchive1.5Mono          2.50 EUR/km²
PleiadesNeoArchiveMono     17.00 EUR/km²
=========================  ===============

- priority ``rush``: ×1.5 (``standard``: ×1)
- licence ``standard_6_10`` / ``Standard_6_10``: ×1.3; ``*_11_30``: ×1.6; ``*_up_30``: ×2.0;
  ``educ`` / ``Academic``: ×0.5; every other licence ×1
- other options (processing level, spectral processing, format, …) do not change the price
- no discounts: ``discountPercentage`` and ``discountValue`` are always 0
"""

from __future__ import annotations

BASE_RATES_EUR_PER_KM2 = {
    "PleiadesArchiveMono": 10.0,
    "SPOTArchive1.5Mono": 2.5,
    "PleiadesNeoArchiveMono": 17.0,
}
PRIORITY_FACTORS = {"standard": 1.0, "rush": 1.5}
LICENCE_FACTORS = {
    "standard_6_10": 1.3,
    "standard_11_30": 1.6,
    "standard_up_30": 2.0,
    "educ": 0.5,
    "academic": 0.5,
}


def billable_area(requested_km2: float, minimum_km2: float) -> float:
    return round(max(requested_km2, minimum_km2), 4)


def unit_rate(product_type: str, options: dict[str, str]) -> float:
    rate = BASE_RATES_EUR_PER_KM2[product_type]
    rate *= PRIORITY_FACTORS.get(options.get("priority", "standard"), 1.0)
    rate *= LICENCE_FACTORS.get(options.get("licence", "standard").lower(), 1.0)
    return rate


def amount(area_km2: float, product_type: str, options: dict[str, str]) -> float:
    return round(area_km2 * unit_rate(product_type, options), 2)

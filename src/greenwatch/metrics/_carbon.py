"""Scope-2 carbon of a site's electricity, location-based and market-based (both, labelled).

Location-based: all facility energy x the grid emission factor of the site's grid region.
Market-based: facility energy minus contracted and on-site green energy (never below zero) x the
same factor. This is DESIGN.md "Definitions that must be right" (carbon) and the GHG Protocol
Scope 2 Guidance's dual reporting; the factor's year and source travel with every figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from greenwatch.inventory import GridFactor
from greenwatch.metrics._kpi import J_PER_KWH, Measured, Quantity

GREEN_INSTRUMENTS = ("onsite", "ppa", "certificate")
CarbonBasis = Literal["location", "market"]


@dataclass(frozen=True)
class CarbonFigure:
    """CO2 in kg on one ``basis`` ("location" or "market"), with the energy it was charged on.

    ``energy_kwh`` is the energy the factor was applied to (facility energy, or for the market
    basis facility minus green energy, floored at zero); ``coverage`` is the min of the inputs'
    coverages.
    """

    basis: CarbonBasis
    value: float
    unit: str
    energy_kwh: float
    factor_kg_per_kwh: float
    factor_year: int
    factor_source: str
    factor_region: str
    coverage: float


@dataclass(frozen=True)
class Carbon:
    """Both carbon figures of one site and period; ``market.value <= location.value`` always."""

    location: CarbonFigure
    market: CarbonFigure
    green_kwh: float

    def to_frame(self) -> pd.DataFrame:
        """One row per basis."""
        return pd.DataFrame([vars(self.location), vars(self.market)])


def _quantity(q: Quantity | float) -> Quantity:
    return Measured(float(q)) if isinstance(q, int | float) else q


def carbon_emissions(
    facility: Quantity,
    factor: GridFactor,
    *,
    green: Mapping[str, Quantity | float] | None = None,
) -> Carbon:
    """Location- and market-based CO2 (kg) of ``facility`` energy (J) at ``factor`` (kgCO2/kWh).

    location = facility_kWh x factor; market = max(0, facility_kWh - green_kWh) x factor, where
    green is the sum of ``green`` energies in J keyed by instrument (``onsite``, ``ppa``,
    ``certificate``; a plain float counts as fully covered). Both figures are returned, labelled.
    """
    green = green or {}
    unknown = set(green) - set(GREEN_INSTRUMENTS)
    if unknown:
        raise ValueError(f"unknown green instruments {sorted(unknown)}; use {GREEN_INSTRUMENTS}")
    greens = [_quantity(q) for q in green.values()]
    if any(not g.value >= 0 for g in greens):
        raise ValueError("green energy must be >= 0 J")
    if facility.value < 0:
        raise ValueError(f"facility energy must be >= 0 J, got {facility.value}")
    facility_kwh = facility.value / J_PER_KWH
    green_kwh = sum(g.value for g in greens) / J_PER_KWH
    market_kwh = max(0.0, facility_kwh - green_kwh)

    def figure(basis: CarbonBasis, kwh: float, coverage: float) -> CarbonFigure:
        return CarbonFigure(
            basis=basis,
            value=kwh * factor.kg_per_kwh,
            unit="kgCO2",
            energy_kwh=kwh,
            factor_kg_per_kwh=factor.kg_per_kwh,
            factor_year=factor.year,
            factor_source=factor.source,
            factor_region=factor.region,
            coverage=coverage,
        )

    coverage = max(0.0, min(1.0, facility.coverage))
    market_coverage = min([coverage, *(g.coverage for g in greens)])
    return Carbon(
        location=figure("location", facility_kwh, coverage),
        market=figure("market", market_kwh, max(0.0, market_coverage)),
        green_kwh=green_kwh,
    )

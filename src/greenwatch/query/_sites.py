"""Per-site totals over a period, read from a store with aggregation pushed down.

Every total is a whole-range aggregate the store answers from its hourly roll-ups (plus raw
edges for an unaligned range), so a 30-day national figure never loads 1-minute samples.
"""

from __future__ import annotations

import pandas as pd

from greenwatch.inventory import Inventory, grid_factors, site_grid_factor
from greenwatch.metrics import PUE_CATEGORY_METERS, Measured, carbon_emissions
from greenwatch.store import Store

TOTAL_COLUMNS: tuple[str, ...] = (
    "facility",
    "it",
    "cooling",
    "water",
    "renewable",
    "reused",
    "co2",
)


Total = tuple[float, float]  # (value, coverage)
MISSING: Total = (float("nan"), 0.0)


def _per_site(
    store: Store, metric: str, start: pd.Timestamp, end: pd.Timestamp, by: str
) -> dict[tuple[str, str], Total]:
    """(increase, coverage) of ``metric`` keyed by (site, value of label ``by``)."""
    out = store.query(metric, start, end, agg=["increase", "coverage"])
    if out.empty:
        return {}
    keys = out[by] if by in out.columns else pd.Series("", index=out.index)
    return {
        (str(s), str(k)): (float(v), float(c))
        for s, k, v, c in zip(out["site"], keys, out["increase"], out["coverage"], strict=True)
    }


def _sum_over(totals: dict[tuple[str, str], Total], site: str) -> Total | None:
    """Sum of a site's values over the label, with the weakest coverage; None if none."""
    mine = [t for (s, _), t in totals.items() if s == site]
    if not mine:
        return None
    return sum(v for v, _ in mine), min(c for _, c in mine)


def site_totals(
    store: Store, inventory: Inventory, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """One row per inventory site with energy, water, green, reused and CO2 totals.

    Columns: site, name, kind, hub, region, province, lat, lon, pue_category, it_capacity_kw,
    target_pue, target_green_share, target_occupancy, and for each of facility_j, it_j (the
    site's PUE-category meter), cooling_j, water_l (site inflow), renewable_j (on-site + PPA +
    certificates), reused_j, co2_kg (location-based) a ``*_coverage`` column; co2_market_kg,
    factor_kg_per_kwh, factor_year, factor_source. Missing meters are NaN with coverage 0;
    a site without green or reused-energy meters has 0 J there (it has none).
    """
    energy = _per_site(store, "energy_joules_total", start, end, "meter")
    water = _per_site(store, "water_litres_total", start, end, "meter")
    green = _per_site(store, "green_energy_joules_total", start, end, "instrument")
    reused = _per_site(store, "reused_energy_joules_total", start, end, "site")
    factors = grid_factors()
    rows = []
    for site in inventory.sites:
        facility = energy.get((site.id, "facility"), MISSING)
        it = energy.get((site.id, PUE_CATEGORY_METERS[site.pue_category]), MISSING)
        # A site with no green or reuse meter has none of either: 0 J, as well known as facility.
        renewable = _sum_over(green, site.id) or (0.0, facility[1])
        reuse = _sum_over(reused, site.id) or (0.0, facility[1])
        factor = site_grid_factor(site, factors)
        carbon = (
            carbon_emissions(
                Measured(facility[0], facility[1]),
                factor,
                green={"ppa": Measured(renewable[0], renewable[1])},
            )
            if facility[0] == facility[0]
            else None
        )
        totals = {
            "facility": facility,
            "it": it,
            "cooling": energy.get((site.id, "cooling"), MISSING),
            "water": water.get((site.id, "site_inflow"), MISSING),
            "renewable": renewable,
            "reused": reuse,
            "co2": (carbon.location.value, carbon.location.coverage)
            if carbon
            else (float("nan"), 0.0),
        }
        units = {"water": "l", "co2": "kg"}
        row: dict[str, object] = {
            "site": site.id,
            "name": site.name,
            "kind": site.kind.value,
            "hub": site.hub,
            "region": site.region.value,
            "province": site.province,
            "lat": site.location.lat,
            "lon": site.location.lon,
            "pue_category": site.pue_category,
            "it_capacity_kw": site.it_capacity_kw,
            "target_pue": site.targets.pue,
            "target_green_share": site.targets.green_energy_share,
            "target_occupancy": site.targets.occupancy,
            "co2_market_kg": carbon.market.value if carbon else float("nan"),
            "factor_kg_per_kwh": factor.kg_per_kwh,
            "factor_year": factor.year,
            "factor_source": factor.source,
        }
        for name, (value, coverage) in totals.items():
            row[f"{name}_{units.get(name, 'j')}"] = value
            row[f"{name}_coverage"] = coverage
        rows.append(row)
    return pd.DataFrame(rows)

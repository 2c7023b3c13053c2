"""Per-site totals over a period, read from a store with aggregation pushed down.

Every total is an aggregate the store answers from its hourly roll-ups (plus raw edges for an
unaligned range, and seconds of raw samples around counter resets), so a 30-day national
figure never loads 1-minute samples for whole hours. The arithmetic is
:func:`greenwatch.metrics.meter_energy` and :func:`greenwatch.metrics.site_energy_totals`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from greenwatch.inventory import Inventory, Site, grid_factors, site_grid_factor
from greenwatch.metrics import site_energy_totals
from greenwatch.query._cache import cached
from greenwatch.query._energy import read_meter_energy
from greenwatch.store import Store


def _increases(
    store: Store,
    metric: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: pd.Timedelta | None,
    sites: list[str],
) -> pd.DataFrame:
    """Increase (as ``value``) and coverage per series of a counter, keyed by site (and ts)."""
    out = store.query(
        metric, start, end, labels={"site": sites}, step=step, agg=["increase", "coverage"]
    )
    return out.rename(columns={"increase": "value"})


def site_frame(sites: Sequence[Site]) -> pd.DataFrame:
    """What :func:`greenwatch.metrics.site_energy_totals` needs to know of each site."""
    factors = grid_factors()
    found = [site_grid_factor(s, factors) for s in sites]
    return pd.DataFrame(
        {
            "site": [s.id for s in sites],
            "pue_category": [s.pue_category for s in sites],
            "factor_kg_per_kwh": [f.kg_per_kwh for f in found],
            "factor_year": [f.year for f in found],
            "factor_source": [f.source for f in found],
        }
    )


def site_totals(
    store: Store,
    inventory: Inventory | Sequence[Site],
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    step: pd.Timedelta | None = None,
) -> pd.DataFrame:
    """One row per inventory site (or per site given; and bucket of ``step``) with energy,
    water, green, reused energy and CO2 totals: :func:`greenwatch.metrics.site_energy_totals`
    over energy per meter (:func:`read_meter_energy`: counters, power, or both).

    Columns: site (ts with ``step``), name, kind, hub, region, province, lat, lon,
    pue_category, it_capacity_kw, target_pue, target_green_share, target_occupancy,
    factor_kg_per_kwh, factor_year, factor_source and
    :data:`greenwatch.metrics.SITE_TOTAL_COLUMNS`. A figure with nothing under it is NaN with
    coverage 0. Kept until the store's next write.
    """
    chosen = list(inventory.sites if isinstance(inventory, Inventory) else inventory)
    ids = [s.id for s in chosen]
    frame = site_frame(chosen)
    keys = ["site", *(["ts"] if step is not None else [])]

    def compute() -> pd.DataFrame:
        return site_energy_totals(
            read_meter_energy(store, start, end, step=step, labels={"site": ids}),
            frame,
            keys=keys,
            water=_increases(store, "water_litres_total", start, end, step, ids),
            green=_increases(store, "green_energy_joules_total", start, end, step, ids),
            reused=_increases(store, "reused_energy_joules_total", start, end, step, ids),
        )

    rows = tuple(frame.itertuples(index=False, name=None))
    totals = cached(store, ("site_totals", rows, start, end, step), compute)
    meta = pd.DataFrame(
        {
            "site": ids,
            "name": [s.name for s in chosen],
            "kind": [s.kind.value for s in chosen],
            "hub": [s.hub for s in chosen],
            "region": [s.region.value for s in chosen],
            "province": [s.province for s in chosen],
            "lat": [s.location.lat for s in chosen],
            "lon": [s.location.lon for s in chosen],
            "pue_category": [s.pue_category for s in chosen],
            "it_capacity_kw": [s.it_capacity_kw for s in chosen],
            "target_pue": [s.targets.pue for s in chosen],
            "target_green_share": [s.targets.green_energy_share for s in chosen],
            "target_occupancy": [s.targets.occupancy for s in chosen],
        }
    ).merge(frame.drop(columns="pue_category"), on="site")
    return meta.merge(totals, on="site", how="right" if step is not None else "left")

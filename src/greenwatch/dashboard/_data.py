"""The figures the dashboard's panels draw, read through the query layer and the store.

Every read is an aggregate the store computes (whole-range totals, or one row per series and
step, answered from hourly roll-ups when the grid is aligned): no function here loads raw
samples for a long period. Ratios follow DESIGN.md: a group's KPI is the ratio of its summed
totals, per step as over the whole period (ISO/IEC 30134-2 for PUE), never a mean of ratios.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from greenwatch.dashboard._theme import pue_status
from greenwatch.inventory import Inventory, Scope, Site, grid_factors, site_grid_factor
from greenwatch.metrics import (
    J_PER_KWH,
    NATIONAL_PUE_TARGET,
    PUE_CATEGORY_METERS,
    TOTALS,
    totals_from_meters,
)
from greenwatch.query import keep_hourly_pue, read_meter_energy, site_totals
from greenwatch.store import LabelFilter, Store

# A site's step counts towards a group's ratio when both inputs cover at least this share.
MIN_STEP_COVERAGE = 0.5
ENERGY_METERS = ("facility", "cooling", "it_ups_output", "it_pdu_output", "it_input")
# numerator, denominator and the scale of the denominator (J -> kWh for WUE and CUE)
TREND_RATIOS: dict[str, tuple[str, str, float]] = {
    "pue": ("facility_j", "it_j", 1.0),
    "ppue": ("it_cooling_j", "it_j", 1.0),
    "wue": ("water_l", "it_j", 1.0 / J_PER_KWH),
    "cue": ("co2_kg", "it_j", 1.0 / J_PER_KWH),
    "ref": ("renewable_j", "facility_j", 1.0),
}
# What each site's kept hourly PUE inputs hold: a trend of ratios of these alone reads them.
PUE_INPUTS = frozenset({"facility_j", "it_j"})
HOUR = pd.Timedelta(hours=1)
TREND_LABELS = {
    "pue": "PUE",
    "ppue": "pPUE (cooling)",
    "wue": "WUE L/kWh",
    "cue": "CUE kgCO2/kWh",
    "ref": "green share",
}


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a frame as dicts keyed by column name."""
    return frame.to_dict("records")  # type: ignore[return-value]


def overview(
    store: Store, inventory: Inventory, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Per-site totals (:func:`greenwatch.query.site_totals`) plus the columns panels draw.

    Added: pue, coverage (of the PUE: min of its meters'), it_power_w (mean IT power over the
    period, W), green_share (renewable / facility energy), status (PUE vs target), gap
    (PUE minus target).
    """
    totals = site_totals(store, inventory, start, end)
    pue = totals["facility_j"] / totals["it_j"].where(totals["it_j"] > 0)
    coverage = totals[["facility_coverage", "it_coverage"]].min(axis=1)
    frame = totals.assign(
        pue=pue,
        coverage=coverage,
        it_power_w=totals["it_j"] / (end - start).total_seconds(),
        green_share=totals["renewable_j"] / totals["facility_j"].where(totals["facility_j"] > 0),
        gap=pue - totals["target_pue"].astype("float64"),
    )
    frame["status"] = [
        pue_status(p, t, c)
        for p, t, c in zip(frame["pue"], frame["target_pue"], frame["coverage"], strict=True)
    ]
    return frame


def scope_sites(inventory: Inventory, scope: str, site: str | None) -> list[Site]:
    """Sites of a scope: ``national``, ``site`` (the page's), ``site:ID``, ``hub:ID``, …"""
    if scope == "site":
        return [s for s in inventory.sites if s.id == site]
    return Scope.parse_syntax(scope).sites(inventory)


def scope_target(sites: Sequence[Site], national: bool) -> float | None:
    """The PUE target of a scope: the national target, or the one target its sites share."""
    if national:
        return NATIONAL_PUE_TARGET
    targets = {s.targets.pue for s in sites}
    return targets.pop() if len(targets) == 1 else None


def steps_of(start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta) -> pd.DatetimeIndex:
    """Bucket starts of ``[start, end)``: the store returns no row for a bucket without data."""
    return pd.date_range(start, end, freq=step, inclusive="left", name="ts")


def step_totals(
    store: Store,
    sites: Sequence[Site],
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: pd.Timedelta,
    kpis: Sequence[str],
    now: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per site and step the totals the trend ``kpis`` need, each with its coverage (``_cov``).

    The site totals of :func:`greenwatch.query.site_totals` per step (one definition for every
    consumer): facility_j, it_j (the site's PUE-category meter), it_cooling_j (IT + cooling,
    for pPUE), water_l, renewable_j, co2_kg (location-based) and provenance. One row per site
    and step of ``[start, end)``; a step without data has NaN totals and coverage 0. Energy
    across a gap is spread over the steps it spans and their coverage says so. Hourly ratios
    of facility and IT energy alone are read from each site's kept hourly PUE inputs
    (:func:`greenwatch.query.keep_hourly_pue`, the same figures; ``now`` says which hours have
    settled), the other totals then being those of the PUE meters alone.
    """
    ids = [s.id for s in sites]
    pue_only = all({TREND_RATIOS[k][0], TREND_RATIOS[k][1]} <= PUE_INPUTS for k in kpis)
    if step == HOUR and pue_only:
        factors = grid_factors()
        meta = pd.DataFrame(
            {
                "site": ids,
                "pue_category": [s.pue_category for s in sites],
                "factor_kg_per_kwh": [site_grid_factor(s, factors).kg_per_kwh for s in sites],
            }
        )
        meters = keep_hourly_pue(store, ids, start, end, now)
        totals = totals_from_meters(meters, meta, keys=["site", "ts"])
    else:
        totals = site_totals(store, sites, start, end, step=step)
    grid = pd.MultiIndex.from_product([ids, steps_of(start, end, step)], names=["site", "ts"])
    if totals.empty:
        return pd.DataFrame(columns=["ts", "site"])
    frame = totals.set_index(["site", "ts"]).reindex(grid).reset_index()
    out = pd.DataFrame({"ts": frame["ts"], "site": frame["site"]})
    for name, value in TOTALS.items():
        out[value] = frame[value].astype("float64")
        out[f"{value}_cov"] = frame[f"{name}_coverage"].astype("float64").fillna(0.0)
    out["it_cooling_j"] = out["it_j"] + out["cooling_j"]
    out["it_cooling_j_cov"] = np.minimum(out["it_j_cov"], out["cooling_j_cov"])
    out["provenance"] = frame["provenance"].fillna("").astype(object)
    return out


def ratio_per_step(totals: pd.DataFrame, kpi: str, group: pd.Series | None = None) -> pd.DataFrame:
    """A trend KPI per step (and group): sum of numerators / sum of denominators.

    A site's step counts when both inputs exist, the denominator is positive and both cover at
    least :data:`MIN_STEP_COVERAGE` of the step. Columns: ts, group, value, coverage
    (denominator-weighted coverage of the sites counted), sites (counted).
    """
    num, den, scale = TREND_RATIOS[kpi]
    if totals.empty or num not in totals.columns:
        return pd.DataFrame(columns=["ts", "group", "value", "coverage", "sites"])
    cov = np.minimum(totals[f"{num}_cov"].fillna(0.0), totals[f"{den}_cov"].fillna(0.0))
    ok = totals[num].notna() & (totals[den] > 0) & (cov >= MIN_STEP_COVERAGE)
    table = pd.DataFrame(
        {
            "ts": totals["ts"],
            "group": group if group is not None else "all",
            "num": totals[num].where(ok),
            "den": (totals[den] * scale).where(ok),
            "weighted": (cov * totals[den] * scale).where(ok),
            "site": totals["site"].where(ok),
        }
    )
    sums = table.groupby(["ts", "group"], sort=True).agg(
        num=("num", "sum"),
        den=("den", "sum"),
        weighted=("weighted", "sum"),
        sites=("site", "count"),
    )
    den_ok = sums["den"].where(sums["den"] > 0)
    out = pd.DataFrame(
        {
            "value": sums["num"] / den_ok,
            "coverage": sums["weighted"] / den_ok,
            "sites": sums["sites"],
        }
    )
    return out.reset_index()


def occupancy(
    store: Store, sites: Sequence[Site], start: pd.Timestamp, end: pd.Timestamp
) -> tuple[float, float]:
    """Capacity-weighted time-mean of ``utilisation_ratio{resource="it_capacity"}``, coverage.

    A site's mean is its time integral over the covered seconds (store ``integral`` and
    ``coverage``); the scope's occupancy weighs sites by rated IT capacity (kW), as the hub
    plan's rack occupancy target (>= 65 %) is a share of built capacity. Coverage is the
    capacity-weighted share of the period covered.
    """
    frame = store.query(
        "utilisation_ratio",
        start,
        end,
        labels={"site": [s.id for s in sites], "resource": "it_capacity"},
        agg=["integral", "coverage"],
    )
    capacity = pd.Series({s.id: s.it_capacity_kw for s in sites})
    if frame.empty or capacity.sum() <= 0:
        return math.nan, 0.0
    seconds = (end - start).total_seconds()
    covered = frame["coverage"] * seconds
    mean = (frame["integral"] / covered.where(covered > 0)).to_numpy()
    weight = capacity.reindex(frame["site"]).to_numpy()
    ok = np.isfinite(mean)
    if not ok.any():
        return math.nan, 0.0
    value = float((mean[ok] * weight[ok]).sum() / weight[ok].sum())
    coverage = float((frame["coverage"].to_numpy() * weight).sum() / capacity.sum())
    return value, coverage


def metric_lines(
    store: Store,
    metric: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: pd.Timedelta,
    *,
    labels: LabelFilter,
    agg: str,
    by: str | None,
    combine: str,
) -> pd.DataFrame:
    """One line per value of label ``by`` (or one line): columns ts, line, value.

    Series sharing a line are summed or averaged (``combine``); the store aggregates each
    series per step first.
    """
    frame = store.query(metric, start, end, labels=labels, step=step, agg=agg)
    if frame.empty:
        return pd.DataFrame(columns=["ts", "line", "value"])
    line = (
        frame[by].astype(str)
        if by and by in frame.columns
        else pd.Series(metric, index=frame.index)
    )
    grouped = frame.assign(line=line).groupby(["line", "ts"], sort=True)["value"]
    out = grouped.sum(min_count=1) if combine == "sum" else grouped.mean()
    return out.reset_index()


def site_power(
    store: Store,
    site: Site,
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: pd.Timedelta,
    *,
    over_covered: bool = False,
) -> pd.DataFrame:
    """Mean power per step (W) of each part of a site's power chain.

    From meter energy per step (:func:`greenwatch.query.read_meter_energy`: counters, or
    power where a meter reports no counter; ISO/IEC 30134-2 metering points): IT equipment
    (the site's PUE-category meter, as its PUE uses), distribution losses (UPS output - IT),
    cooling, other and UPS losses (facility - UPS output - cooling), on-site renewables;
    facility for reference. Columns: ts and one per component, W. Negative remainders (meter
    noise) are clipped to 0; a step a meter covers less than :data:`MIN_STEP_COVERAGE` of is
    blank. ``over_covered``: the energy over the time the meters covered rather than over the
    whole step (the running hour, queried as one step up to now, whose last minutes have not
    arrived yet).
    """
    energy = read_meter_energy(store, start, end, step=step, labels={"site": site.id})
    if energy.empty:
        return pd.DataFrame(columns=["ts"])
    steps = steps_of(start, end, step)
    table = energy.pivot_table(
        index="ts", columns="meter", values=["energy_j", "coverage"], aggfunc="first"
    ).reindex(steps)
    coverage = table["coverage"].fillna(0.0)
    seconds = coverage * step.total_seconds() if over_covered else step.total_seconds()
    watts = (table["energy_j"] / seconds).where(coverage >= MIN_STEP_COVERAGE)

    def get(meter: str) -> pd.Series:
        return watts[meter] if meter in watts.columns else pd.Series(np.nan, index=watts.index)

    it = get(PUE_CATEGORY_METERS[site.pue_category])
    ups = get("it_ups_output")
    out = pd.DataFrame(
        {
            "IT equipment": it,
            "power distribution losses": (ups - it).clip(lower=0),
            "cooling": get("cooling"),
            "UPS losses and other": (get("facility") - ups - get("cooling")).clip(lower=0),
            "facility": get("facility"),
            "on-site renewables": get("renewable_onsite"),
        }
    )
    return out.reset_index()


def series_coverage(
    store: Store, metric: str, site: str, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta
) -> pd.DataFrame:
    """Per series of ``metric`` at ``site`` and step: the share of the step its data covers."""
    return store.query(metric, start, end, labels={"site": site}, step=step, agg="coverage")


def meter_increase(
    store: Store, site: str, meters: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Per energy meter of ``site`` in ``meters``: counter increase (J) and coverage."""
    return store.query(
        "energy_joules_total",
        start,
        end,
        labels={"site": site, "meter": list(meters)},
        agg=["increase", "coverage"],
    )


def device_power(store: Store, site: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Per device reporting power at ``site``: mean, max and last (W) and coverage."""
    return store.query(
        "device_power_watts",
        start,
        end,
        labels={"site": site},
        agg=["mean", "max", "last", "coverage"],
    )

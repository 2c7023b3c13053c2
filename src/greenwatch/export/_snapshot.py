"""KPI snapshots: every exported figure over a few trailing windows, computed off the scrape path.

A snapshot is taken by a scheduled job (Kepler's pattern: measure, then export what was
measured); ``GET /metrics``, the OTLP gauges and the Influx writer only read the latest one.
Each window is ``[end - span, end)`` with ``end`` the clock floored to the minute, exactly what
``greenwatch kpi --start … --end …`` computes for the same bounds: the same
:func:`greenwatch.query.site_totals` and :func:`greenwatch.metrics.rollup` (ratio of summed
energies, sites under the coverage floor left out), so the exported national PUE is the CLI's.
Computing power is :func:`greenwatch.query.compute_figures` over the same windows (see
``_compute_points``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from greenwatch.export._catalogue import GRAMS_PER_KG
from greenwatch.export._compute_points import compute_points
from greenwatch.export._points import KpiPoint, Labels
from greenwatch.inventory import Inventory, Level
from greenwatch.metrics import (
    DEFAULT_MIN_COVERAGE,
    NATIONAL_PUE_TARGET,
    Kpi,
    Measured,
    cue,
    erf,
    partial_pue,
    pue,
    ref,
    rollup,
    wue,
)
from greenwatch.query import ComputeSource, compute_figures, inventory_source, site_totals
from greenwatch.store import Store

WINDOWS: dict[str, pd.Timedelta] = {"1h": pd.Timedelta(hours=1), "24h": pd.Timedelta(hours=24)}
TRAFFIC = ("link_transmit_bytes_total", "link_receive_bytes_total")
GROUP_LEVELS = ("hub", "region", "national")
_SEP = "\x1f"  # between level and group in a stacked roll-up's group key
# rollup() KPI -> exported figure, and the factor to the exported unit
_GROUP_FIGURES = {
    "pue": ("pue", 1.0),
    "wue": ("wue", 1.0),
    "cue": ("cue", GRAMS_PER_KG),
    "ref": ("green_share", 1.0),
    "erf": ("erf", 1.0),
}


@dataclass(frozen=True)
class Window:
    """A trailing window ``[start, end)`` and its label value (``1h``, ``24h``)."""

    name: str
    start: pd.Timestamp
    end: pd.Timestamp


@dataclass(frozen=True)
class KpiSnapshot:
    """Every point computed at ``taken_at`` (clock time) for ``windows``; ``duration_s`` it took."""

    taken_at: pd.Timestamp
    windows: tuple[Window, ...]
    points: tuple[KpiPoint, ...]
    duration_s: float

    def find(self, figure: str, /, **labels: str) -> list[KpiPoint]:
        """Points of ``figure`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return [p for p in self.points if p.figure == figure and wanted <= set(p.labels)]


def _site_labels(row: Mapping[Hashable, Any], window: str | None) -> Labels:
    labels = [("scope", "site"), ("site", str(row["site"]))]
    if isinstance(row["hub"], str) and row["hub"]:
        labels.append(("hub", row["hub"]))
    labels.append(("region", str(row["region"])))
    return (*labels, ("window", window)) if window else tuple(labels)


def _group_labels(level: str, group: str, window: str) -> Labels:
    if level == "national":
        return (("scope", "national"), ("window", window))
    return (("scope", level), (level, group), ("window", window))


def _point(figure: str, labels: Labels, kpi: Kpi, scale: float = 1.0) -> KpiPoint:
    return KpiPoint(figure, labels, kpi.value * scale, kpi.coverage)


def _site_points(totals: pd.DataFrame, window: str) -> list[KpiPoint]:
    """PUE, pPUE, WUE, CUE, REF, ERF, carbon and energies of each site (ISO/IEC 30134)."""
    out: list[KpiPoint] = []
    for row in totals.to_dict(orient="records"):
        labels = _site_labels(row, window)

        def q(name: str, unit: str = "j", row: Mapping[Hashable, Any] = row) -> Measured:
            return Measured(float(row[f"{name}_{unit}"]), float(row[f"{name}_coverage"]))

        facility, it = q("facility"), q("it")
        out += [
            _point("pue", labels, pue(facility, it, category=int(row["pue_category"]))),
            _point("wue", labels, wue(q("water", "l"), it)),
            _point("cue", labels, cue(q("co2", "kg"), it), GRAMS_PER_KG),
            _point("green_share", labels, ref(q("renewable"), facility)),
            _point("erf", labels, erf(q("reused"), facility)),
            KpiPoint("facility_energy", labels, facility.value, facility.coverage),
            KpiPoint("it_energy", labels, it.value, it.coverage),
        ]
        cooling = q("cooling")
        if math.isfinite(cooling.value):
            ppue = partial_pue(cooling, it, subsystem_name="cooling")
            out.append(_point("ppue", (*labels[:-1], ("subsystem", "cooling"), labels[-1]), ppue))
        co2 = q("co2", "kg")
        market = float(row["co2_market_kg"])
        for basis, kg in (("location", co2.value), ("market", market)):
            out.append(
                KpiPoint(
                    "carbon",
                    (*labels[:-1], ("basis", basis), labels[-1]),
                    kg * GRAMS_PER_KG,
                    co2.coverage,
                )
            )
    return out


def _stacked(totals: pd.DataFrame) -> pd.DataFrame:
    """The site table once per hub and once per region, its ``hub`` column naming
    ``level<SEP>group``: one :func:`rollup` over it gives hub and region figures at once (its
    pandas overhead dominates a snapshot), each a ratio of its own sites' summed totals."""
    parts = []
    for level in ("hub", "region"):
        tagged = totals[level].map(
            lambda k, level=level: f"{level}{_SEP}{k}" if isinstance(k, str) else None
        )
        parts.append(totals.assign(hub=tagged))
    return pd.concat(parts, ignore_index=True)


def _group_points(totals: pd.DataFrame, window: str, min_coverage: float) -> list[KpiPoint]:
    """Hub, region and national figures: ratios of summed totals (:func:`rollup`).

    The national figure comes from the very call ``greenwatch kpi --national`` makes, so the
    two agree bit for bit; a hub's may differ from ``greenwatch kpi --hub`` in the last bit
    (pandas sums a group's rows differently depending on the other groups of the call).
    """
    national = rollup(totals, Level.NATIONAL, min_coverage=min_coverage)
    groups = rollup(_stacked(totals), Level.HUB, min_coverage=min_coverage)
    kpis = pd.concat(
        [groups.kpis, national.kpis.assign(group="national" + _SEP + "national")],
        ignore_index=True,
    )
    excluded = pd.concat(
        [groups.excluded, national.excluded.assign(group="national" + _SEP + "national")],
        ignore_index=True,
    )
    out: list[KpiPoint] = []
    for row in kpis.to_dict(orient="records"):
        level, group = str(row["group"]).split(_SEP)
        labels = _group_labels(level, group, window)
        figure, scale = _GROUP_FIGURES[str(row["kpi"])]
        coverage = float(row["coverage"])
        out.append(KpiPoint(figure, labels, float(row["value"]) * scale, coverage))
        for status, count in (("included", row["sites"]), ("excluded", row["excluded"])):
            extra = (("figure", figure), ("status", status))
            out.append(KpiPoint("sites", (*labels[:-1], *extra, labels[-1]), float(count)))
        if row["kpi"] == "pue":
            out.append(KpiPoint("facility_energy", labels, float(row["numerator"]), coverage))
            out.append(KpiPoint("it_energy", labels, float(row["denominator"]), coverage))
    excluded = excluded[excluded["kpi"] == "pue"]
    for level in GROUP_LEVELS:
        mine = excluded["group"].astype(str).str.startswith(level + _SEP)
        out += _group_carbon(totals, set(excluded.loc[mine, "site"]), level, window)
    return out


def _group_carbon(
    totals: pd.DataFrame, left_out: set[str], level: str, window: str
) -> list[KpiPoint]:
    """CO2 of each group over the sites its PUE includes, as ``greenwatch kpi carbon`` sums it."""
    used = totals[~totals["site"].isin(left_out)]
    keys = pd.Series("national", index=used.index) if level == "national" else used[level]
    out: list[KpiPoint] = []
    for group, rows in used.groupby(keys, sort=True):
        # No data is null, never 0: a sum over nothing known is NaN (left out of /metrics).
        weight = float(rows["facility_j"].sum(min_count=1))
        coverage = (
            float((rows["co2_coverage"] * rows["facility_j"]).sum() / weight) if weight > 0 else 0.0
        )
        labels = _group_labels(level, str(group), window)
        for basis, column in (("location", "co2_kg"), ("market", "co2_market_kg")):
            grams = float(rows[column].sum(min_count=1)) * GRAMS_PER_KG
            out.append(
                KpiPoint("carbon", (*labels[:-1], ("basis", basis), labels[-1]), grams, coverage)
            )
    return out


def _occupancy_points(store: Store, window: Window, totals: pd.DataFrame) -> list[KpiPoint]:
    """Time-mean ``utilisation_ratio{resource="it_capacity"}`` per site; groups weigh sites by
    rated IT capacity (the hub plan's occupancy is a share of built capacity)."""
    frame = store.query(
        "utilisation_ratio",
        window.start,
        window.end,
        labels={"resource": "it_capacity"},
        agg=["integral", "coverage"],
    )
    if frame.empty:
        return []
    covered = frame["coverage"] * (window.end - window.start).total_seconds()
    frame = frame.assign(mean=frame["integral"] / covered.where(covered > 0))
    # a site with several such series (halls) gets the mean of theirs, the weakest coverage
    per_site = frame.groupby("site").agg(mean=("mean", "mean"), coverage=("coverage", "min"))
    sites = totals.set_index("site")
    sites = sites.assign(
        mean=per_site["mean"].reindex(sites.index),
        coverage=per_site["coverage"].reindex(sites.index).fillna(0.0),
    )
    out: list[KpiPoint] = []
    for site, row in sites.iterrows():
        labels = _site_labels({**row.to_dict(), "site": site}, window.name)
        out.append(KpiPoint("occupancy", labels, float(row["mean"]), float(row["coverage"])))
    sites = sites.reset_index()
    for level in GROUP_LEVELS:
        keys = pd.Series("national", index=sites.index) if level == "national" else sites[level]
        for group, rows in sites.groupby(keys, sort=True):
            weight = rows["it_capacity_kw"].astype(float)
            ok = np.isfinite(rows["mean"].to_numpy(dtype=float))
            value = (
                float((rows["mean"][ok] * weight[ok]).sum() / weight[ok].sum())
                if ok.any()
                else math.nan
            )
            coverage = float((rows["coverage"] * weight).sum() / weight.sum())
            labels = _group_labels(level, str(group), window.name)
            out.append(KpiPoint("occupancy", labels, value, coverage))
    return out


def _link_points(store: Store, inventory: Inventory, window: Window) -> list[KpiPoint]:
    """Utilisation of each inventory link: bits of the busier direction / covered s / capacity."""
    seconds = (window.end - window.start).total_seconds()
    parts = []
    for metric in TRAFFIC:
        frame = store.query(metric, window.start, window.end, agg=["increase", "coverage"])
        if frame.empty or "link" not in frame.columns:
            continue
        covered = frame["coverage"] * seconds
        parts.append(frame.assign(bps=frame["increase"] * 8.0 / covered.where(covered > 0)))
    if not parts:
        return []
    both = pd.concat(parts, ignore_index=True).groupby("link")
    bps, coverage = both["bps"].max(), both["coverage"].min()
    return [
        KpiPoint(
            "link_utilisation",
            (("link", link.id), ("window", window.name)),
            float(bps[link.id]) / link.capacity_bps,
            float(coverage[link.id]),
        )
        for link in inventory.links
        if link.id in bps.index
    ]


def _targets(totals: pd.DataFrame) -> list[KpiPoint]:
    out = [KpiPoint("pue_target", (("scope", "national"),), NATIONAL_PUE_TARGET)]
    for row in totals.to_dict(orient="records"):
        target = row["target_pue"]
        if isinstance(target, float) and math.isfinite(target):
            out.append(KpiPoint("pue_target", _site_labels(row, None), target))
    return out


def window_bounds(end: pd.Timestamp, windows: Mapping[str, pd.Timedelta]) -> tuple[Window, ...]:
    """The trailing windows ending at ``end`` floored to the minute (as ``greenwatch kpi``)."""
    stop = end.floor("min")
    return tuple(Window(name, stop - span, stop) for name, span in windows.items())


def take_snapshot(
    store: Store,
    inventory: Inventory,
    now: pd.Timestamp,
    windows: Mapping[str, pd.Timedelta] = WINDOWS,
    *,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    compute: ComputeSource | None = None,
) -> KpiSnapshot:
    """Every exported figure for every window ending at ``now`` (floored to the minute).

    Sites: PUE, pPUE (cooling), WUE, CUE, REF, ERF, carbon (location and market), energies,
    occupancy; hubs, regions and the network: the same as ratios of summed totals (sites under
    ``min_coverage`` left out and counted), occupancy weighted by IT capacity; links:
    utilisation; computing power of the pools ``compute`` lists (default: the inventory's, see
    :mod:`greenwatch.export._compute_points`). Units as :data:`~greenwatch.export.FIGURES` says
    (carbon in grams).
    """
    started = time.perf_counter()
    bounds = window_bounds(now, windows)
    points: list[KpiPoint] = []
    totals = pd.DataFrame()
    # One read of the pools and verification records (the registry's, in a service) for all
    # windows, so every window judges the same pools.
    pools = (compute or inventory_source(inventory))()
    sites = {s.id: s for s in inventory.sites}
    for i, window in enumerate(bounds):
        totals = site_totals(store, inventory, window.start, window.end)
        points += _site_points(totals, window.name)
        points += _group_points(totals, window.name, min_coverage)
        points += _occupancy_points(store, window, totals)
        points += _link_points(store, inventory, window)
        figures = compute_figures(
            store, inventory, window.start, window.end, source=lambda: pools, totals=totals
        )
        points += compute_points(figures, window.name, sites, latest=i == 0)
    if not totals.empty:
        points += _targets(totals)
    return KpiSnapshot(now, bounds, tuple(points), time.perf_counter() - started)


def points_of(snapshot: KpiSnapshot | None, figure: str) -> Iterable[KpiPoint]:
    """The points of one figure (none without a snapshot)."""
    if snapshot is None:
        return ()
    return (p for p in snapshot.points if p.figure == figure)

"""Computing-power figures over a period: pools, discovered devices, utilisation and energy.

The registry's pools (or the inventory's), the devices collectors report (``compute_devices``),
hourly utilisation and the per-site facility energy and CO2 of :func:`site_totals` are read
here; every figure is computed by :mod:`greenwatch.metrics` (``_computing_power``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from greenwatch.inventory import CLASS_PRECISION, ComputePool, Inventory, Level
from greenwatch.metrics import (
    DEFAULT_MAX_VERIFICATION_AGE,
    DISCOVERED_COLUMNS,
    PFLOP,
    POOL_COLUMNS,
    attribute_energy,
    computing_efficiency,
    computing_power,
    delivered_computing,
    free_computing,
    identify_findings,
    pool_status,
    regional_share,
)
from greenwatch.query._cache import cached, label_key
from greenwatch.query._sites import site_totals
from greenwatch.resources import verification_frame
from greenwatch.store import LabelFilter, Store

# Collectors poll every 15-60 s; a model not reported within this window is not identified.
IDENTIFY_WINDOW = pd.Timedelta(minutes=15)
RESOURCES = ["cpu", "gpu"]


PoolsAndRecords = tuple[Sequence[tuple[str, ComputePool]], pd.DataFrame]
# Where the current pools and verification records come from: the registry in a running
# service, the inventory alone otherwise (see :func:`inventory_source`).
ComputeSource = Callable[[], PoolsAndRecords]


def declared_pools(inventory: Inventory) -> list[tuple[str, ComputePool]]:
    """``(site id, pool)`` for every pool the inventory declares."""
    return [(site.id, pool) for site in inventory.sites for pool in site.compute]


def inventory_source(inventory: Inventory) -> ComputeSource:
    """A :data:`ComputeSource` with the inventory's pools and no verification records."""
    pools = declared_pools(inventory)
    return lambda: (pools, verification_frame(()))


def pool_frame(inventory: Inventory, pools: Iterable[tuple[str, ComputePool]]) -> pd.DataFrame:
    """One row per pool with the columns :data:`greenwatch.metrics.POOL_COLUMNS` names.

    Pools of sites the inventory does not know, or of models its catalogue lacks, are left out
    (the registry refuses both, so only a stale registry can hold one).
    """
    catalogue = inventory.catalogue()
    sites = {s.id: s for s in inventory.sites}
    rows = []
    for site_id, pool in pools:
        site, model = sites.get(site_id), catalogue.find(pool.model)
        if site is None or model is None:
            continue
        precision = CLASS_PRECISION[pool.compute_class]
        rows.append(
            (
                site.id,
                site.hub,
                site.region.value,
                pool.id,
                pool.compute_class.value,
                model.kind.value,
                model.id,
                pool.count,
                model.peak_flops.get(precision, 0.0),
                model.rated_power_w,
                pool.in_service,
                pool.retired,
                precision.value,
            )
        )
    frame = pd.DataFrame(rows, columns=list(POOL_COLUMNS))
    return frame.astype({"count": "int64", "flops_per_device": "float64"})


def _read(
    store: Store,
    metric: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    agg: str,
    labels: LabelFilter | None = None,
    step: pd.Timedelta | None = None,
) -> pd.DataFrame:
    """``store.query``, kept until the store's next write (a report and the dashboard's
    computing-power views ask the same reads)."""
    key = ("compute_figures", metric, start, end, agg, label_key(labels), step)
    return cached(store, key, lambda: store.query(metric, start, end, labels, step, agg))


def discovered_devices(store: Store, at: pd.Timestamp, window: pd.Timedelta) -> pd.DataFrame:
    """Devices collectors see per site and model: the latest ``compute_devices`` of every
    source within ``window`` before ``at``, added up per protocol (the ``<protocol>:`` prefix
    of ``source``: each host's NVML reports its own GPUs) and the largest protocol total kept
    (a BMC over Redfish and the host's NVML report the same GPUs)."""
    out = _read(store, "compute_devices", at - window, at, agg="last")
    # A series with no sample in the window (only a gap across it) has no last value: unseen.
    out = out[out["value"].notna()]
    if out.empty:
        return pd.DataFrame(columns=list(DISCOVERED_COLUMNS))
    blank = pd.Series("", index=out.index)
    source = out["source"].fillna("").astype(str) if "source" in out.columns else blank
    frame = pd.DataFrame(
        {
            "site": out["site"].astype(str),
            "device_kind": out.get("device_kind", blank).astype(str),
            "model": out.get("model", blank).astype(str),
            "protocol": source.str.partition(":")[0].where(source.str.contains(":"), ""),
            "devices": out["value"].astype(float),
        }
    )
    keys = ["site", "device_kind", "model"]
    per_protocol = frame.groupby([*keys, "protocol"], sort=True)["devices"].sum()
    return per_protocol.groupby(level=keys, sort=True).max().reset_index()


@dataclass(frozen=True)
class ComputeFigures:
    """Everything the computing-power views show for one period ``[start, end)``.

    ``status`` (one row per pool, at ``end``), ``findings`` (identify mismatches), ``pools``
    (per pool: delivered FLOP-hours and attributed energy and CO2) and ``free`` (free FLOPS per
    site and class now); :meth:`power`, :meth:`efficiency` and :meth:`share` aggregate them.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    status: pd.DataFrame
    findings: pd.DataFrame
    pools: pd.DataFrame
    free: pd.DataFrame

    @property
    def hours(self) -> float:
        return (self.end - self.start) / pd.Timedelta(hours=1)

    def power(self, level: Level) -> pd.DataFrame:
        """Rated and available FLOPS per ``level`` (site, hub, region, national) and class."""
        return computing_power(self.status, level)

    def efficiency(self, level: Level) -> pd.DataFrame:
        """Delivered computing, FLOPS per facility watt, kWh and kgCO2 per PFLOP-hour."""
        return computing_efficiency(self.pools, level, self.hours)

    def share(self, region: str = "west") -> pd.DataFrame:
        """Share of national rated and available FLOPS per class in ``region``."""
        return regional_share(self.status, region)

    def unverified(self) -> pd.DataFrame:
        """Pools whose verification is not ``ok`` (stale, failed or never), oldest first."""
        columns = ["site", "pool", "class", "model", "count", "verification", "last_benchmark",
                   "last_verified_at", "verified_age_s", "measured_ratio"]  # fmt: skip
        rows = self.status[self.status["verification"] != "ok"].sort_values(
            ["verified_age_s", "site", "pool"], ascending=[False, True, True], na_position="first"
        )
        return rows.loc[:, columns].reset_index(drop=True)

    def to_dict(self, level: Level) -> dict[str, Any]:
        """JSON-ready figures: the :meth:`table` at ``level``, west share, findings, unverified."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            clean = frame.astype(object).where(frame.notna(), None)
            return [
                {
                    str(k): (v.isoformat() if isinstance(v, pd.Timestamp) else v)
                    for k, v in row.items()
                }
                for row in clean.to_dict("records")
            ]

        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "level": level.value,
            "rows": records(self.table(level)),
            "west_share": records(self.share("west")),
            "findings": records(self.findings),
            "unverified": records(self.unverified()),
        }

    def table(self, level: Level) -> pd.DataFrame:
        """One row per ``level`` key and class in display units (PFLOPS, GFLOPS/W).

        Columns: key, class, pools, devices, rated_pflops, available_pflops, delivered_pflops,
        utilisation, delivered_pflop_hours, gflops_per_watt, kwh_per_pflop_hour,
        kg_co2_per_pflop_hour, identified_share, verified_share, coverage.
        """
        power = self.power(level)
        eff = self.efficiency(level)
        both = power.merge(eff, on=["key", "class"], how="left", suffixes=("", "_mean"))
        return pd.DataFrame(
            {
                "key": both["key"],
                "class": both["class"],
                "pools": both["pools"],
                "devices": both["devices"],
                "rated_pflops": both["rated_flops"] / PFLOP,
                "available_pflops": both["available_flops"] / PFLOP,
                "delivered_pflops": both["delivered_flops"] / PFLOP,
                "utilisation": both["utilisation"],
                "delivered_pflop_hours": both["delivered_pflop_hours"],
                "gflops_per_watt": both["flops_per_watt"] / 1e9,
                "kwh_per_pflop_hour": both["kwh_per_pflop_hour"],
                "kg_co2_per_pflop_hour": both["kg_co2_per_pflop_hour"],
                "identified_share": both["identified_share"],
                "verified_share": both["verified_share"],
                "coverage": both["coverage"],
            }
        )


@dataclass(frozen=True)
class PoolState:
    """The pools at one instant: ``frame`` (:func:`pool_frame`), ``status``
    (:func:`greenwatch.metrics.pool_status`) and identify ``findings``."""

    frame: pd.DataFrame
    status: pd.DataFrame
    findings: pd.DataFrame


def pool_state(
    store: Store,
    inventory: Inventory,
    at: pd.Timestamp,
    *,
    source: ComputeSource | None = None,
    identify_window: pd.Timedelta = IDENTIFY_WINDOW,
    max_age: pd.Timedelta = DEFAULT_MAX_VERIFICATION_AGE,
) -> PoolState:
    """Pools, their identification and verification at ``at``: one read of ``source`` (default
    the inventory's pools) and of the devices collectors reported in ``identify_window``."""
    pools, records = (source or inventory_source(inventory))()
    frame = pool_frame(inventory, pools)
    catalogue = inventory.catalogue()
    seen = discovered_devices(store, at, identify_window)
    return PoolState(
        frame=frame,
        status=pool_status(frame, seen, records, catalogue, at, max_age=max_age),
        findings=identify_findings(frame, seen, catalogue, at),
    )


def compute_figures(
    store: Store,
    inventory: Inventory,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    source: ComputeSource | None = None,
    identify_window: pd.Timedelta = IDENTIFY_WINDOW,
    max_age: pd.Timedelta = DEFAULT_MAX_VERIFICATION_AGE,
    totals: pd.DataFrame | None = None,
) -> ComputeFigures:
    """Computing-power figures for ``[start, end)``; ``source`` defaults to the inventory's.

    ``totals``: :func:`site_totals` of the same period when the caller has them already.
    """
    state = pool_state(
        store, inventory, end, source=source, identify_window=identify_window, max_age=max_age
    )
    usage = _read(
        store,
        "utilisation_ratio",
        start,
        end,
        labels={"resource": RESOURCES},
        step=pd.Timedelta(hours=1),
        agg="mean",
    )
    if usage.empty:
        usage = pd.DataFrame(columns=["site", "resource", "ts", "value"])
    if totals is None:
        totals = site_totals(store, inventory, start, end)
    energy = totals.loc[:, ["site", "facility_j", "facility_coverage", "co2_kg"]]
    delivered = delivered_computing(state.frame, usage, start, end)
    current = _read(
        store,
        "utilisation_ratio",
        end - identify_window,
        end,
        labels={"resource": RESOURCES},
        agg="last",
    )
    if current.empty:
        current = pd.DataFrame(columns=["site", "resource", "value"])
    return ComputeFigures(
        start=start,
        end=end,
        status=state.status,
        findings=state.findings,
        pools=attribute_energy(delivered, energy),
        free=free_computing(state.status, current),
    )

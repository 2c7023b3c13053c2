"""Computing power: rated, available and delivered FLOPS, and what a unit of computing costs.

Definitions (FLOPS are per second; a FLOP-hour is one FLOPS sustained for an hour):

* **rated** computing power of a pool = devices x the model's dense peak per device at the
  precision its class is counted in (general and supercomputing: FP64; AI: FP16), while the
  pool is in service (``in_service <= day < retired``). Sites, hubs, regions and the nation add
  their pools' rated FLOPS per class; classes are never added to each other (their precisions
  differ).
* **available** = rated x the share of the pool's devices the collectors see (``min(1,
  seen / registered)`` of that model at the site) — 0 when the latest verification failed.
  Pools no collector reports on count as available and lower ``identified_share``.
* **delivered** computing over a period = rated FLOP-hours x the mean utilisation of the
  pool's resource (``gpu`` for GPUs/NPUs/FPGAs, ``cpu`` for CPUs) over the hours it was
  in service and had utilisation data; ``coverage`` = those hours / in-service hours.
* **energy per class**: a site's facility energy (ISO/IEC 30134-2, the PUE numerator) is shared
  among its pools in proportion to rated device power x in-service hours — the facility is
  built and cooled for the devices it hosts. Facility-inclusive efficiency is then FLOPS per
  watt of that facility power (like the Green500's FLOPS/W, but counting the whole facility),
  and kWh and kgCO2 per delivered PFLOP-hour. Higher levels divide summed energies by summed
  FLOP-hours; sites without facility energy are left out and lower the coverage.
* **free** computing power = available x (1 - current utilisation): where work can go.

Input frames are built by the query layer: see :data:`POOL_COLUMNS`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from greenwatch.inventory import Catalogue, DeviceKind, Level
from greenwatch.metrics._kpi import J_PER_KWH

PFLOP = 1.0e15
DEFAULT_MAX_VERIFICATION_AGE = pd.Timedelta(days=90)
LEVEL_KEYS = {Level.SITE: "site", Level.HUB: "hub", Level.REGION: "region", Level.NATIONAL: None}
POOL_COLUMNS = (
    "site",
    "hub",
    "region",
    "pool",
    "class",
    "kind",
    "model",
    "count",
    "flops_per_device",
    "power_per_device_w",
    "in_service",
    "retired",
    "precision",
)
DISCOVERED_COLUMNS = ("site", "device_kind", "model", "devices")
VERIFICATION_COLUMNS = (
    "site",
    "pool",
    "benchmark",
    "precision",
    "measured_flops",
    "devices",
    "passed",
    "at",
)
IDENTIFY_COLUMNS = (
    "site",
    "model",
    "device_kind",
    "registered",
    "seen",
    "difference",
    "finding",
    "pools",
    "message",
)
STATUS_COLUMNS = (
    "identified",
    "seen_share",
    "verification",
    "last_benchmark",
    "last_verified_at",
    "verified_age_s",
    "measured_flops",
    "measured_ratio",
    "rated_flops",
    "available_flops",
)
ACCELERATOR_KINDS = frozenset({DeviceKind.GPU, DeviceKind.NPU, DeviceKind.FPGA})


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = set(columns) - set(frame.columns)
    if missing:
        raise ValueError(f"{what} lacks columns {sorted(missing)}")


def in_service(pools: pd.DataFrame, at: pd.Timestamp) -> pd.Series:
    """True for pools in service on the (UTC) day of ``at``."""
    day = pd.Timestamp(at).tz_convert("UTC").tz_localize(None).normalize()
    started = pools["in_service"].isna() | (pd.to_datetime(pools["in_service"]) <= day)
    running = pools["retired"].isna() | (pd.to_datetime(pools["retired"]) > day)
    return started & running


def rated_flops(pools: pd.DataFrame, at: pd.Timestamp) -> pd.Series:
    """Rated peak of each pool at ``at`` in FLOPS: count x per-device peak, 0 out of service."""
    _require(pools, POOL_COLUMNS, "pools")
    peak = pools["count"].astype(float) * pools["flops_per_device"].astype(float)
    return peak.where(in_service(pools, at), 0.0)


def _model_key(name: str, catalogue: Catalogue) -> str:
    model = catalogue.find(name)
    return model.id if model is not None else " ".join(str(name).lower().split())


def _tallies(
    pools: pd.DataFrame, discovered: pd.DataFrame, catalogue: Catalogue, at: pd.Timestamp
) -> tuple[
    dict[tuple[str, str], tuple[int, list[str], str]], dict[tuple[str, str], tuple[float, str]]
]:
    """Registered (count, pool ids, kind) and seen (devices, kind) per (site, model key)."""
    _require(discovered, DISCOVERED_COLUMNS, "discovered")
    registered: dict[tuple[str, str], tuple[int, list[str], str]] = {}
    for row in pools[in_service(pools, at)].to_dict("records"):
        key = (str(row["site"]), _model_key(str(row["model"]), catalogue))
        count, names, _ = registered.get(key, (0, [], ""))
        registered[key] = (count + int(row["count"]), [*names, str(row["pool"])], str(row["kind"]))
    seen: dict[tuple[str, str], tuple[float, str]] = {}
    for row in discovered.to_dict("records"):
        key = (str(row["site"]), _model_key(str(row["model"]), catalogue))
        total, _ = seen.get(key, (0.0, ""))
        seen[key] = (total + float(row["devices"]), str(row["device_kind"]))
    return registered, seen


def identify_findings(
    pools: pd.DataFrame,
    discovered: pd.DataFrame,
    catalogue: Catalogue,
    at: pd.Timestamp,
    *,
    tolerance: int = 0,
) -> pd.DataFrame:
    """Registered devices against devices the collectors see, per site and device model.

    ``discovered``: site, device_kind, model (as the device reports it), devices (summed over
    the targets reporting at the site). Models are matched through the catalogue's names. A
    finding is ``|seen - registered| > tolerance`` for a model collectors report at a site:
    ``missing`` (fewer seen), ``surplus`` (more seen than registered) or ``unregistered``
    (seen, none registered). Models no collector reports on are not judged (not identified).
    """
    registered, seen = _tallies(pools, discovered, catalogue, at)
    rows = []
    for (site, model), (devices, kind) in sorted(seen.items()):
        count, names, pool_kind = registered.get((site, model), (0, [], kind))
        difference = devices - count
        if abs(difference) <= tolerance:
            continue
        listed = f"registered {count} x {model} ({', '.join(names)}), collectors see {devices:g}"
        if count == 0:
            finding, message = (
                "unregistered",
                f"{site}: collectors see {devices:g} x {model}, none registered",
            )
        elif difference < 0:
            finding, message = "missing", f"{site}: {listed}: {-difference:g} missing"
        else:
            finding, message = "surplus", f"{site}: {listed}: {difference:g} more than registered"
        rows.append(
            (site, model, pool_kind, count, devices, difference, finding, ",".join(names), message)
        )
    return pd.DataFrame(rows, columns=list(IDENTIFY_COLUMNS)).astype(
        {"registered": "int64", "seen": "float64", "difference": "float64"}
    )


def _seen_share(
    pools: pd.DataFrame, discovered: pd.DataFrame, catalogue: Catalogue, at: pd.Timestamp
) -> pd.Series:
    """Per pool: min(1, seen / registered) of its model at its site; NaN when not identified."""
    registered, seen = _tallies(pools, discovered, catalogue, at)
    share = []
    for site, model in zip(pools["site"], pools["model"], strict=True):
        key = (str(site), _model_key(str(model), catalogue))
        count = registered.get(key, (0, [], ""))[0]
        share.append(min(1.0, seen[key][0] / count) if key in seen and count else math.nan)
    return pd.Series(share, index=pools.index, dtype="float64")


def pool_status(
    pools: pd.DataFrame,
    discovered: pd.DataFrame,
    verifications: pd.DataFrame,
    catalogue: Catalogue,
    at: pd.Timestamp,
    *,
    max_age: pd.Timedelta = DEFAULT_MAX_VERIFICATION_AGE,
) -> pd.DataFrame:
    """``pools`` plus identification, verification and available capacity at ``at``.

    verification: ``failed`` when the latest record of any (benchmark, precision) failed, else
    ``ok`` (latest record at most ``max_age`` old), ``stale`` (older) or ``never``.
    measured_flops / measured_ratio: of each benchmark's latest passed measurement at the
    precision the pool's class is counted in (column ``precision``), the highest (HPL rather
    than HPCG), and its ratio to per-device peak x devices tested.
    """
    _require(pools, POOL_COLUMNS, "pools")
    _require(verifications, VERIFICATION_COLUMNS, "verifications")
    out = pools.copy()
    out["seen_share"] = _seen_share(pools, discovered, catalogue, at)
    out["identified"] = out["seen_share"].notna()
    at_utc = pd.Timestamp(at).tz_convert("UTC")
    records = verifications[verifications["at"] <= at_utc].sort_values("at", kind="stable")
    by_pool = dict(list(records.groupby(["site", "pool"], sort=False)))
    state, bench, last_at, age, measured, ratio = [], [], [], [], [], []
    row: dict[Hashable, Any]
    for row in out.to_dict("records"):
        group = by_pool.get((row["site"], row["pool"]))
        if group is None or group.empty:
            state.append("never")
            bench.append("")
            last_at.append(pd.NaT)
            age.append(math.nan)
            measured.append(math.nan)
            ratio.append(math.nan)
            continue
        latest = group.iloc[-1]
        seconds = (at_utc - latest["at"]).total_seconds()
        # One check posts a record per precision: any test's latest result failing fails it.
        newest = group.groupby(["benchmark", "precision"], sort=False).tail(1)
        if not bool(newest["passed"].astype(bool).all()):
            state.append("failed")
        else:
            state.append("ok" if seconds <= max_age.total_seconds() else "stale")
        bench.append(str(latest["benchmark"]))
        last_at.append(latest["at"])
        age.append(seconds)
        good = group[
            group["passed"].astype(bool)
            & group["measured_flops"].notna()
            & (group["precision"] == row["precision"])
        ]
        if good.empty:
            measured.append(math.nan)
            ratio.append(math.nan)
        else:
            latest_each = good.groupby("benchmark", sort=False).tail(1)
            best = latest_each.loc[latest_each["measured_flops"].idxmax()]
            measured.append(float(best["measured_flops"]))
            peak = float(row["flops_per_device"]) * float(best["devices"])
            ratio.append(float(best["measured_flops"]) / peak if peak > 0 else math.nan)
    out["verification"] = state
    out["last_benchmark"] = bench
    out["last_verified_at"] = pd.to_datetime(pd.Series(last_at, index=out.index), utc=True)
    out["verified_age_s"] = age
    out["measured_flops"] = measured
    out["measured_ratio"] = ratio
    out["rated_flops"] = rated_flops(pools, at)
    share = out["seen_share"].fillna(1.0).where(out["verification"] != "failed", 0.0)
    out["available_flops"] = out["rated_flops"] * share
    return out


def _aggregated(
    grouped: pd.api.typing.DataFrameGroupBy[Any, Any], **columns: tuple[str, str]
) -> pd.DataFrame:
    """``grouped.agg(name=(column, how), ...)``: the same per-column aggregations (so the same
    sums to the bit) without pandas' named-aggregation machinery, a few ms a call."""
    return pd.DataFrame(
        {name: getattr(grouped[column], how)() for name, (column, how) in columns.items()}
    )


def _level_key(frame: pd.DataFrame, level: Level) -> pd.Series:
    if level not in LEVEL_KEYS:
        raise ValueError(f"unknown level {level!r} (one of {', '.join(LEVEL_KEYS)})")
    column = LEVEL_KEYS[level]
    if column is None:
        return pd.Series("national", index=frame.index, dtype=object)
    return frame[column].fillna("").astype(str)


def computing_power(status: pd.DataFrame, level: Level) -> pd.DataFrame:
    """Rated and available FLOPS per ``level`` key and class, from :func:`pool_status`.

    Columns: key, class, pools, devices, rated_flops, available_flops, identified_share and
    verified_share (shares of rated FLOPS whose pools are identified / verified ``ok``).
    """
    frame = status.assign(
        key=_level_key(status, level),
        identified_flops=status["rated_flops"].where(status["identified"], 0.0),
        verified_flops=status["rated_flops"].where(status["verification"] == "ok", 0.0),
        live_count=status["count"].where(status["rated_flops"] > 0, 0),
    )
    grouped = _aggregated(
        frame.groupby(["key", "class"], sort=True),
        pools=("pool", "size"),
        devices=("live_count", "sum"),
        rated_flops=("rated_flops", "sum"),
        available_flops=("available_flops", "sum"),
        identified_flops=("identified_flops", "sum"),
        verified_flops=("verified_flops", "sum"),
    )
    rated = grouped["rated_flops"].where(grouped["rated_flops"] > 0)
    grouped["identified_share"] = grouped["identified_flops"] / rated
    grouped["verified_share"] = grouped["verified_flops"] / rated
    return grouped.drop(columns=["identified_flops", "verified_flops"]).reset_index()


def regional_share(status: pd.DataFrame, region: str = "west") -> pd.DataFrame:
    """Share of the nation's rated and available FLOPS per class located in ``region``."""
    frame = status.assign(here=status["region"] == region)
    rows = []
    for cls, group in frame.groupby("class", sort=True):
        rated, available = group["rated_flops"].sum(), group["available_flops"].sum()
        mine = group[group["here"]]
        rows.append(
            (
                cls,
                float(mine["rated_flops"].sum() / rated) if rated > 0 else math.nan,
                float(mine["available_flops"].sum() / available) if available > 0 else math.nan,
            )
        )
    return pd.DataFrame(rows, columns=["class", "rated_share", "available_share"])


def _resource(kind: str) -> str:
    return "gpu" if kind in ACCELERATOR_KINDS else "cpu"


def delivered_computing(
    pools: pd.DataFrame, utilisation: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Per pool over hourly buckets of ``[start, end)``: rated and delivered FLOP-hours.

    ``utilisation``: site, resource, ts (hour start), value (mean utilisation 0-1 of that hour).
    Adds columns hours (in service), rated_flop_hours, utilisation (mean over in-service hours
    with data), delivered_flop_hours = rated_flop_hours x utilisation, and coverage (share of
    in-service hours with utilisation data). A pool never covered delivers NaN.
    """
    _require(pools, POOL_COLUMNS, "pools")
    _require(utilisation, ("site", "resource", "ts", "value"), "utilisation")
    hours = pd.date_range(start, end, freq="h", inclusive="left")
    days = hours.tz_convert("UTC").tz_localize(None).normalize()
    # One column per (site, resource), one row per hour of the period.
    usage = utilisation.pivot(index="ts", columns=["site", "resource"], values="value").reindex(
        hours
    )
    out = pools.copy()
    n_hours, rated_fh, mean_util, coverage = [], [], [], []
    for row in pools.to_dict("records"):
        on = np.ones(len(hours), dtype=bool)
        if pd.notna(row["in_service"]):
            on &= days >= pd.Timestamp(row["in_service"])
        if pd.notna(row["retired"]):
            on &= days < pd.Timestamp(row["retired"])
        served = int(on.sum())
        key = (row["site"], _resource(str(row["kind"])))
        values = (
            usage[key].to_numpy(dtype=float)[on]
            if key in usage.columns
            else np.full(served, np.nan, dtype=float)
        )
        known = values[~np.isnan(values)]
        n_hours.append(served)
        rated_fh.append(served * float(row["count"]) * float(row["flops_per_device"]))
        mean_util.append(float(known.mean()) if known.size else math.nan)
        coverage.append(known.size / served if served else 0.0)
    out["hours"] = n_hours
    out["rated_flop_hours"] = rated_fh
    out["utilisation"] = mean_util
    out["delivered_flop_hours"] = out["rated_flop_hours"] * out["utilisation"]
    out["coverage"] = coverage
    return out


def attribute_energy(delivered: pd.DataFrame, site_energy: pd.DataFrame) -> pd.DataFrame:
    """Share each site's facility energy and CO2 among its pools by rated device power x hours.

    ``site_energy``: site, facility_j, facility_coverage, co2_kg. Adds energy_j, co2_kg and
    energy_coverage to ``delivered`` (NaN energy where the site has none).
    """
    _require(site_energy, ("site", "facility_j", "facility_coverage", "co2_kg"), "site_energy")
    weight = (
        delivered["count"].astype(float)
        * delivered["power_per_device_w"].astype(float)
        * delivered["hours"].astype(float)
    )
    site_weight = weight.groupby(delivered["site"]).transform("sum")
    share = (weight / site_weight.where(site_weight > 0)).fillna(0.0)
    energy = site_energy.set_index("site")
    out = delivered.copy()
    out["energy_j"] = delivered["site"].map(energy["facility_j"]).astype(float) * share
    out["co2_kg"] = delivered["site"].map(energy["co2_kg"]).astype(float) * share
    out["energy_coverage"] = (
        delivered["site"].map(energy["facility_coverage"]).astype(float).fillna(0.0)
    )
    return out


def computing_efficiency(pools: pd.DataFrame, level: Level, period_hours: float) -> pd.DataFrame:
    """Delivered computing and its cost per ``level`` key and class (ratios of sums).

    ``pools``: the output of :func:`attribute_energy`. Columns: key, class, rated_flops (mean
    over the period), delivered_flops (mean), utilisation (delivered / rated over covered
    pools), delivered_pflop_hours, energy_kwh, co2_kg, flops_per_watt (delivered FLOPS per watt
    of attributed facility power), rated_flops_per_watt, kwh_per_pflop_hour,
    kg_co2_per_pflop_hour and coverage (share of rated FLOP-hours with both utilisation and
    facility-energy data, weighted by their own coverage).
    """
    if not period_hours > 0:
        raise ValueError(f"period_hours must be > 0, got {period_hours}")
    frame = pools.assign(key=_level_key(pools, level))
    usable = frame["delivered_flop_hours"].notna() & frame["energy_j"].notna()
    weight = frame["coverage"] * frame["energy_coverage"]
    frame = frame.assign(
        covered_fh=frame["rated_flop_hours"].where(usable, 0.0),
        weighted_fh=(frame["rated_flop_hours"] * weight).where(usable, 0.0),
        used_delivered=frame["delivered_flop_hours"].where(usable, 0.0),
        used_energy=frame["energy_j"].where(usable, 0.0),
        used_co2=frame["co2_kg"].where(usable, 0.0),
    )
    g = _aggregated(
        frame.groupby(["key", "class"], sort=True),
        rated_flop_hours=("rated_flop_hours", "sum"),
        covered_fh=("covered_fh", "sum"),
        weighted_fh=("weighted_fh", "sum"),
        delivered_flop_hours=("used_delivered", "sum"),
        energy_j=("used_energy", "sum"),
        co2_kg=("used_co2", "sum"),
    )
    covered = g["covered_fh"].where(g["covered_fh"] > 0)
    delivered_pfh = (g["delivered_flop_hours"] / PFLOP).where(covered.notna())
    mean_watts = (g["energy_j"] / (period_hours * 3600.0)).where(covered.notna())
    out = pd.DataFrame(index=g.index)
    out["rated_flops"] = g["rated_flop_hours"] / period_hours
    out["utilisation"] = g["delivered_flop_hours"] / covered
    out["delivered_flops"] = out["rated_flops"] * out["utilisation"]
    out["delivered_pflop_hours"] = delivered_pfh
    out["energy_kwh"] = (g["energy_j"] / J_PER_KWH).where(covered.notna())
    out["co2_kg"] = g["co2_kg"].where(covered.notna())
    # Per watt of the facility power attributed to the covered pools: FLOP-hours / (W x h).
    out["flops_per_watt"] = g["delivered_flop_hours"] / period_hours / mean_watts
    out["rated_flops_per_watt"] = g["covered_fh"] / period_hours / mean_watts
    out["kwh_per_pflop_hour"] = out["energy_kwh"] / delivered_pfh.where(delivered_pfh > 0)
    out["kg_co2_per_pflop_hour"] = out["co2_kg"] / delivered_pfh.where(delivered_pfh > 0)
    out["coverage"] = g["weighted_fh"] / g["rated_flop_hours"].where(g["rated_flop_hours"] > 0)
    return out.reset_index()


def free_computing(status: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Free FLOPS per site and class = available x (1 - current utilisation of the resource).

    ``current``: site, resource, value (latest utilisation 0-1). A pool without a current
    utilisation counts as fully free and lowers ``coverage`` (share of available FLOPS with a
    utilisation reading).
    """
    lookup = {
        (str(s), str(r)): float(v)
        for s, r, v in current[["site", "resource", "value"]].itertuples(index=False)
    }
    used = [
        lookup.get((str(site), _resource(str(kind))), math.nan)
        for site, kind in zip(status["site"], status["kind"], strict=True)
    ]
    frame = status.assign(used=used)
    known = frame["used"].notna()
    frame = frame.assign(
        free_flops=frame["available_flops"] * (1.0 - frame["used"].fillna(0.0).clip(0.0, 1.0)),
        known_flops=frame["available_flops"].where(known, 0.0),
    )
    g = _aggregated(
        frame.groupby(["site", "class"], sort=True),
        available_flops=("available_flops", "sum"),
        free_flops=("free_flops", "sum"),
        known_flops=("known_flops", "sum"),
    )
    g["coverage"] = g["known_flops"] / g["available_flops"].where(g["available_flops"] > 0)
    return g.drop(columns=["known_flops"]).reset_index()

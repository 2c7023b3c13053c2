"""The computing-power tables of a report, from :func:`greenwatch.query.compute_figures`.

For the report's scope and its hubs and sites: rated and available computing power per class at
the end of the period (PFLOPS; ``general`` and ``supercomputing`` counted in FP64, ``ai`` in
FP16, classes never added), delivered PFLOP-hours and utilisation over the period, GFLOPS per
watt of facility power, kWh and kgCO2 per delivered PFLOP-hour, each with its coverage; the
western share of the nation's computing power (national reports); the identify findings and
the pools in service whose verification is not ``ok``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd

from greenwatch.inventory import Level, Scope
from greenwatch.metrics import IDENTIFY_COLUMNS, PFLOP
from greenwatch.query import ComputeFigures

WEST = "west"  # "East Data, West Computing": the share of computing power in western hubs
# Report level -> the levels its computing-power table lists (names of ComputeFigures.table)
LEVELS: dict[Level, tuple[Level, ...]] = {
    Level.NATIONAL: (Level.NATIONAL, Level.HUB, Level.SITE),
    Level.HUB: (Level.HUB, Level.SITE),
    Level.SITE: (Level.SITE,),
}
COMPUTE_COLUMNS = (
    "level",
    "key",
    "class",
    "devices",
    "rated_pflops",
    "available_pflops",
    "identified_share",
    "verified_share",
    "delivered_pflop_hours",
    "utilisation",
    "gflops_per_watt",
    "kwh_per_pflop_hour",
    "kg_co2_per_pflop_hour",
    "coverage",
)
VERIFICATION_COLUMNS = (
    "site",
    "pool",
    "class",
    "model",
    "count",
    "rated_pflops",
    "verification",
    "last_benchmark",
    "last_verified_at",
    "verified_age_days",
    "measured_ratio",
)
_ORDER = {"failed": 0, "stale": 1, "never": 2}


def _in_scope(figures: ComputeFigures, sites: Sequence[str]) -> ComputeFigures:
    """The figures of the scope's sites only."""
    keep = set(sites)
    return replace(
        figures,
        status=figures.status[figures.status["site"].isin(keep)],
        findings=figures.findings[figures.findings["site"].isin(keep)],
        pools=figures.pools[figures.pools["site"].isin(keep)],
    )


def power_table(figures: ComputeFigures, level: Level) -> pd.DataFrame:
    """One row per level (the scope, its hubs, its sites), key and class with devices in
    service (key ``""`` at the hub level: the sites outside the hubs), in PFLOPS, PFLOP-hours
    and GFLOPS per facility watt."""
    parts = []
    for key_level in LEVELS[level]:
        table = figures.table(key_level)
        parts.append(table[table["devices"] > 0].assign(level=key_level.value))
    out = pd.concat(parts, ignore_index=True)
    return out.loc[:, list(COMPUTE_COLUMNS)].astype({"devices": "int64"})


def verification_table(figures: ComputeFigures) -> pd.DataFrame:
    """Pools in service whose verification is failed, stale or never; failed first."""
    status = figures.status
    rows = status[(status["rated_flops"] > 0) & (status["verification"] != "ok")]
    rows = rows.assign(
        rated_pflops=rows["rated_flops"] / PFLOP,
        verified_age_days=rows["verified_age_s"] / 86400.0,
        order=rows["verification"].map(_ORDER),
    ).sort_values(["order", "site", "pool"], kind="stable")
    return rows.loc[:, list(VERIFICATION_COLUMNS)].reset_index(drop=True)


def compute_tables(
    figures: ComputeFigures, scope: Scope, sites: Sequence[str]
) -> dict[str, pd.DataFrame | None]:
    """The report's computing-power tables: ``compute``, ``compute_share`` (national reports
    only), ``compute_findings`` and ``compute_verification``."""
    mine = _in_scope(figures, sites)
    share = figures.share(WEST).assign(region=WEST)
    return {
        "compute": power_table(mine, scope.level),
        "compute_share": share[["region", "class", "rated_share", "available_share"]]
        if scope.level == "national"
        else None,
        "compute_findings": mine.findings.loc[:, list(IDENTIFY_COLUMNS)].reset_index(drop=True),
        "compute_verification": verification_table(mine),
    }

"""Roll-ups of site totals to hub, region, site kind and the national network.

A group's KPI is always the ratio of its summed totals (sum of facility energy / sum of IT
energy for PUE), never a mean of site ratios: ISO/IEC 30134-2 defines PUE on energies, and
DESIGN.md "Definitions that must be right" says a network or regional PUE is the ratio of
summed energies. A big site therefore weighs in proportion to its energy.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from greenwatch.inventory import Level
from greenwatch.metrics._kpi import J_PER_KWH
from greenwatch.metrics._names import DEFAULT_MIN_COVERAGE, DEFAULT_MIN_SHARE

LEVELS: tuple[Level, ...] = (Level.HUB, Level.REGION, Level.KIND, Level.NATIONAL)


@dataclass(frozen=True)
class _Spec:
    kpi: str
    numerator: str
    denominator: str
    numerator_scale: float
    denominator_scale: float
    unit: str
    standard: str


# Totals and their coverage columns: ``facility_j`` goes with ``facility_coverage``, etc.
_SPECS = (
    _Spec("pue", "facility_j", "it_j", 1.0, 1.0, "ratio", "ISO/IEC 30134-2"),
    _Spec("wue", "water_l", "it_j", 1.0, 1 / J_PER_KWH, "L/kWh", "ISO/IEC 30134-9"),
    _Spec("cue", "co2_kg", "it_j", 1.0, 1 / J_PER_KWH, "kgCO2/kWh", "ISO/IEC 30134-8"),
    _Spec("ref", "renewable_j", "facility_j", 1.0, 1.0, "ratio", "ISO/IEC 30134-3"),
    _Spec("erf", "reused_j", "facility_j", 1.0, 1.0, "ratio", "ISO/IEC 30134-6"),
)

KPI_COLUMNS = (
    "level",
    "group",
    "kpi",
    "value",
    "unit",
    "numerator",
    "denominator",
    "sites",
    "excluded",
    "coverage",
    "categories",
    "standard",
    "expected",
    "site_share",
    "capacity_share",
    "published",
)
EXCLUDED_COLUMNS = ("level", "group", "site", "kpi", "reason")


@dataclass(frozen=True)
class Rollup:
    """Group KPIs (one row per group and KPI) and the sites each KPI left out, with why.

    ``kpis`` columns: level, group, kpi, value (in ``unit``), numerator and denominator (summed
    totals, denominators of WUE/CUE in kWh), sites (count included), excluded (count), coverage
    (energy-weighted, see :func:`rollup`), categories (PUE categories summed, e.g. ``"1,2"``),
    standard, expected (sites in the group), site_share (sites included / expected),
    capacity_share (IT capacity included / the group's, ``it_capacity_kw``; the site share
    without that column), published (whether the figure may stand as a verdict: a value and a
    capacity share of at least ``min_share``). A group with no site included has value,
    numerator and denominator NaN: no data is null, never 0. ``excluded`` columns: level,
    group, site, kpi, reason.
    """

    kpis: pd.DataFrame
    excluded: pd.DataFrame


def _coverage_column(total: str) -> str:
    return total.rsplit("_", 1)[0] + "_coverage"


def _check(sites: pd.DataFrame, level: Level) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    needed = {"site", "facility_j", "it_j", "facility_coverage", "it_coverage"}
    if level is not Level.NATIONAL:
        needed.add(level.value)
    missing = needed - set(sites.columns)
    for spec in _SPECS:
        if spec.numerator in sites.columns and _coverage_column(spec.numerator) not in sites:
            missing.add(_coverage_column(spec.numerator))
    if missing:
        raise ValueError(f"per-site table lacks columns {sorted(missing)}")


def _site_status(
    sites: pd.DataFrame, spec: _Spec, min_coverage: float
) -> tuple[pd.Series, pd.Series]:
    """Per site: the ratio's coverage (min of its inputs) and why it is excluded ('' if not)."""
    num = sites[spec.numerator].astype(float).to_numpy()
    den = sites[spec.denominator].astype(float).to_numpy()
    cov_num = sites[_coverage_column(spec.numerator)].astype(float).to_numpy()
    cov_den = sites[_coverage_column(spec.denominator)].astype(float).to_numpy()
    coverage = pd.Series(np.clip(np.minimum(cov_num, cov_den), 0.0, 1.0), index=sites.index)
    low = "coverage " + coverage.round(3).astype(str) + f" < {min_coverage}"
    # The first reason that holds, most basic first.
    reason = np.select(
        [
            np.isnan(num),
            np.isnan(den),
            ~(num >= 0),
            ~(den > 0),
            ~(coverage.to_numpy() >= min_coverage),
        ],
        [
            f"missing {spec.numerator} (no meter)",
            f"missing {spec.denominator} (no meter)",
            f"{spec.numerator} is negative",
            f"{spec.denominator} is not positive",
            low.to_numpy(dtype=object),
        ],
        default="",
    )
    return coverage, pd.Series(reason, index=sites.index, dtype=object)


def _site_table(
    sites: pd.DataFrame, spec: _Spec, key: pd.Series, level: Level, min_coverage: float
) -> pd.DataFrame:
    """Per site of one KPI: its group, numerator and denominator (scaled), coverage, why it is
    excluded ("" when included), PUE category and IT capacity (1 each when unknown)."""
    coverage, reason = _site_status(sites, spec, min_coverage)
    reason = reason.mask(key.isna() & (reason == ""), f"no {level}")
    return pd.DataFrame(
        {
            "group": key,
            "site": sites["site"],
            "num": sites[spec.numerator].astype(float) * spec.numerator_scale,
            "den": sites[spec.denominator].astype(float) * spec.denominator_scale,
            "coverage": coverage,
            "reason": reason,
            "category": (
                sites["pue_category"].astype("Int64").astype(str)
                if "pue_category" in sites.columns and spec.kpi == "pue"
                else ""
            ),
            "capacity": (
                sites["it_capacity_kw"].astype(float)
                if "it_capacity_kw" in sites.columns
                else pd.Series(1.0, index=sites.index)
            ),
        }
    )


def _group_kpis(table: pd.DataFrame, spec: _Spec, level: Level, min_share: float) -> pd.DataFrame:
    """One KPI per group: the ratio of the included sites' sums, with coverage and share."""
    expected = table[table["group"].notna()].groupby("group", sort=True)
    n_expected = expected.size()
    used = table[table["reason"] == ""]
    # One pass over the included sites for every sum (each column summed as on its own).
    sums = (
        used.assign(weighted=used["coverage"] * used["den"])
        .groupby("group", sort=True)[["num", "den", "weighted", "capacity"]]
        .sum()
        .reindex(n_expected.index)
    )
    counts: dict[str, int] = {}
    categories: dict[str, set[str]] = {}
    for group, category in zip(used["group"], used["category"], strict=True):
        counts[group] = counts.get(group, 0) + 1
        categories.setdefault(group, set()).add(category)
    sites = pd.Series([counts.get(g, 0) for g in n_expected.index], n_expected.index, "int64")
    capacity_all = expected["capacity"].sum()
    capacity_used = sums["capacity"].fillna(0.0)
    site_share = sites / n_expected.where(n_expected > 0)
    capacity_share = (capacity_used / capacity_all.where(capacity_all > 0)).fillna(0.0)
    value = sums["num"] / sums["den"]
    return pd.DataFrame(
        {
            "level": level.value,
            "group": n_expected.index,
            "kpi": spec.kpi,
            "value": value.to_numpy(),
            "unit": spec.unit,
            "numerator": sums["num"].to_numpy(),
            "denominator": sums["den"].to_numpy(),
            "sites": sites.astype(int).to_numpy(),
            "excluded": (n_expected - sites).astype(int).to_numpy(),
            "coverage": (sums["weighted"] / sums["den"]).fillna(0.0).to_numpy(),
            "categories": np.array(
                [",".join(sorted(categories.get(g, set()) - {""})) for g in n_expected.index],
                dtype=object,
            ),
            "standard": spec.standard,
            "expected": n_expected.astype(int).to_numpy(),
            "site_share": site_share.fillna(0.0).to_numpy(),
            "capacity_share": capacity_share.to_numpy(),
            "published": (value.notna() & (capacity_share >= min_share)).to_numpy(),
        }
    )


def rollup(
    sites: pd.DataFrame,
    level: Level,
    *,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    min_share: float = DEFAULT_MIN_SHARE,
    kpis: Collection[str] | None = None,
) -> Rollup:
    """KPIs of each hub / region / site kind, or of the whole network, as ratios of sums.

    ``sites``: one row per site and period with columns site, hub, region, kind (as needed for
    ``level``), facility_j, it_j (J) and optionally water_l (L), co2_kg (kg, one basis),
    renewable_j, reused_j (J), each total with its coverage column (``facility_coverage``,
    ``it_coverage``, ``water_coverage``, ``co2_coverage``, ``renewable_coverage``,
    ``reused_coverage``) and optionally ``pue_category``.

    Per KPI a site counts when both its totals exist, the denominator is positive and the
    ratio's coverage (min of its two inputs) is at least ``min_coverage``; every other site is
    listed in ``excluded`` with the reason (a missing meter, low coverage). PUE = sum facility /
    sum IT (30134-2), WUE = sum water / sum IT kWh (30134-9), CUE = sum CO2 / sum IT kWh
    (30134-8), REF = sum renewable / sum facility (30134-3), ERF = sum reused / sum facility
    (30134-6). A group's coverage is the mean of its included sites' coverages weighted by
    their denominator energy. Sites without a ``level`` key (e.g. no hub) are excluded.
    The share of the scope a figure represents is reported beside its coverage (sites and IT
    capacity included vs expected); below ``min_share`` of the capacity it is not published.
    ``kpis``: only these KPIs (default: every one the columns allow).
    """
    level = Level(level)
    _check(sites, level)
    key = (
        pd.Series("national", index=sites.index, dtype=object)
        if level is Level.NATIONAL
        else sites[level.value].astype(object)
    )
    rows: list[pd.DataFrame] = []
    dropped: list[pd.DataFrame] = []
    for spec in _SPECS:
        if spec.numerator not in sites.columns or (kpis is not None and spec.kpi not in kpis):
            continue
        table = _site_table(sites, spec, key, level, min_coverage)
        out = table[table["reason"] != ""]
        dropped.append(
            pd.DataFrame(
                {
                    "level": level.value,
                    "group": out["group"],
                    "site": out["site"],
                    "kpi": spec.kpi,
                    "reason": out["reason"],
                }
            )
        )
        rows.append(_group_kpis(table, spec, level, min_share))
    groups = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=KPI_COLUMNS)
    excluded_sites = (
        pd.concat(dropped, ignore_index=True) if dropped else pd.DataFrame(columns=EXCLUDED_COLUMNS)
    )
    return Rollup(
        kpis=groups.loc[:, list(KPI_COLUMNS)].reset_index(drop=True),
        excluded=excluded_sites.loc[:, list(EXCLUDED_COLUMNS)].reset_index(drop=True),
    )

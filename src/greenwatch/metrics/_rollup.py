"""Roll-ups of site totals to hub, region, site kind and the national network.

A group's KPI is always the ratio of its summed totals (sum of facility energy / sum of IT
energy for PUE), never a mean of site ratios: ISO/IEC 30134-2 defines PUE on energies, and
DESIGN.md "Definitions that must be right" says a network or regional PUE is the ratio of
summed energies. A big site therefore weighs in proportion to its energy.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

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
    num: np.ndarray,
    den: np.ndarray,
    cov_num: np.ndarray,
    cov_den: np.ndarray,
    spec: _Spec,
    min_coverage: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per site: the ratio's coverage (min of its inputs) and why it is excluded ('' if not)."""
    coverage = np.clip(np.minimum(cov_num, cov_den), 0.0, 1.0)
    low = ~(coverage >= min_coverage)
    # The first reason that holds, most basic first.
    reason = np.select(
        [np.isnan(num), np.isnan(den), ~(num >= 0), ~(den > 0), low],
        [
            f"missing {spec.numerator} (no meter)",
            f"missing {spec.denominator} (no meter)",
            f"{spec.numerator} is negative",
            f"{spec.denominator} is not positive",
            _low_coverage(coverage, low, min_coverage),
        ],
        default="",
    )
    return coverage, reason


def _low_coverage(coverage: np.ndarray, low: np.ndarray, min_coverage: float) -> np.ndarray:
    """The low-coverage reason of each site where ``low`` ('' elsewhere: it is not chosen);
    written only for those sites, usually none."""
    text = np.full(len(coverage), "", dtype=object)
    if low.any():
        shown = pd.Series(coverage[low]).round(3).astype(str)
        text[low] = ("coverage " + shown + f" < {min_coverage}").to_numpy(dtype=object)
    return text


def _floats(sites: pd.DataFrame, column: str) -> np.ndarray:
    return sites[column].astype(float).to_numpy()


def _site_table(
    sites: pd.DataFrame, spec: _Spec, key: np.ndarray, level: Level, min_coverage: float
) -> pd.DataFrame:
    """Per site of one KPI: its group, numerator and denominator (scaled), coverage, why it is
    excluded ("" when included), PUE category and IT capacity (1 each when unknown).

    Built from arrays (a roll-up of a hub makes one per KPI, and Series arithmetic costs more
    than the few rows it holds); the same frame as from the columns' Series."""
    num, den = _floats(sites, spec.numerator), _floats(sites, spec.denominator)
    coverage, reason = _site_status(
        num,
        den,
        _floats(sites, _coverage_column(spec.numerator)),
        _floats(sites, _coverage_column(spec.denominator)),
        spec,
        min_coverage,
    )
    reason = np.where(pd.isna(key) & (reason == ""), f"no {level}", reason)
    return pd.DataFrame(
        {
            "group": key,
            "site": sites["site"].array,
            "num": num * spec.numerator_scale,
            "den": den * spec.denominator_scale,
            "coverage": coverage,
            "reason": reason,
            "category": (
                sites["pue_category"].astype("Int64").astype(str).array
                if "pue_category" in sites.columns and spec.kpi == "pue"
                else ""
            ),
            "capacity": (
                _floats(sites, "it_capacity_kw")
                if "it_capacity_kw" in sites.columns
                else np.ones(len(sites))
            ),
        },
        index=sites.index,
    )


_SUMMED = ["num", "den", "weighted", "capacity"]


def _group_sums(
    table: pd.DataFrame, each_alone: bool = False
) -> tuple[pd.Series, pd.DataFrame, pd.Series]:
    """Sites expected per group, the included sites' sums per group (num, den, weighted,
    capacity) and each group's whole IT capacity, groups sorted.

    Always these pandas group sums over these frames: pandas picks its summation by the data
    (e.g. by whether the groups' rows are sorted or hold a nan), and the API and the reports
    are held to the same figures to the last bit. ``each_alone`` (the rows come sorted by
    group, see :func:`rollup`): each group's sums as these sums over its rows alone give them.
    Over rows sorted by group and holding no nan, pandas sums each group's run of rows on its
    own (numpy ``add.reduceat``), as it sums one group's rows; with a nan it takes another
    summation for every group, so each group is then summed over its own rows."""
    expected = table[table["group"].notna()]
    used = table[table["reason"] == ""]
    used = used.assign(weighted=used["coverage"] * used["den"])
    if each_alone and expected["group"].nunique() > 1:
        summed = np.concatenate([used[_SUMMED].to_numpy().ravel(), expected["capacity"]])
        if np.isnan(summed).any():
            groups = sorted(expected["group"].unique())
            n, sums, capacity = zip(
                *(_group_sums(table[table["group"] == g]) for g in groups), strict=True
            )
            return pd.concat(n), pd.concat(sums), pd.concat(capacity)
    grouped = expected.groupby("group", sort=True)
    n_expected = grouped.size()
    # One pass over the included sites for every sum (each column summed as on its own).
    sums = used.groupby("group", sort=True)[_SUMMED].sum().reindex(n_expected.index)
    return n_expected, sums, grouped["capacity"].sum()


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole where the whole is positive, else 0 (also where the ratio is nan)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _nan_to_0(part / np.where(whole > 0, whole, np.nan))


def _nan_to_0(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), 0.0, values)


def _group_kpis(
    table: pd.DataFrame, spec: _Spec, level: Level, min_share: float, each_alone: bool
) -> dict[str, np.ndarray]:
    """One KPI per group, as columns: the ratio of the included sites' sums, with coverage and
    share."""
    n_expected, sums, capacity_all = _group_sums(table, each_alone)
    counts: dict[str, int] = {}
    categories: dict[str, set[str]] = {}
    rows = zip(table["group"], table["category"], table["reason"], strict=True)
    for group, category in ((g, c) for g, c, reason in rows if reason == ""):
        counts[group] = counts.get(group, 0) + 1
        categories.setdefault(group, set()).add(category)
    groups = n_expected.index
    expected = n_expected.to_numpy().astype(int)
    sites = np.array([counts.get(g, 0) for g in groups], dtype=np.int64)
    num, den, weighted = (sums[c].to_numpy() for c in ("num", "den", "weighted"))
    capacity_share = _share(_nan_to_0(sums["capacity"].to_numpy()), capacity_all.to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        value = num / den
        coverage = weighted / den
    n = len(groups)
    return {
        "level": np.full(n, level.value, dtype=object),
        "group": groups.to_numpy(dtype=object),
        "kpi": np.full(n, spec.kpi, dtype=object),
        "value": value,
        "unit": np.full(n, spec.unit, dtype=object),
        "numerator": num,
        "denominator": den,
        "sites": sites,
        "excluded": expected - sites,
        "coverage": _nan_to_0(coverage),
        "categories": np.array(
            [",".join(sorted(categories.get(g, set()) - {""})) for g in groups], dtype=object
        ),
        "standard": np.full(n, spec.standard, dtype=object),
        "expected": expected,
        "site_share": _share(sites, expected),
        "capacity_share": capacity_share,
        "published": ~np.isnan(value) & (capacity_share >= min_share),
    }


def _dropped(table: pd.DataFrame, spec: _Spec, level: Level) -> dict[str, np.ndarray]:
    """The sites one KPI leaves out, as columns of ``Rollup.excluded``."""
    out = table["reason"].to_numpy() != ""
    n = int(out.sum())
    return {
        "level": np.full(n, level.value, dtype=object),
        "group": table["group"].to_numpy(dtype=object)[out],
        "site": table["site"].to_numpy(dtype=object)[out],
        "kpi": np.full(n, spec.kpi, dtype=object),
        "reason": table["reason"].to_numpy(dtype=object)[out],
    }


# Column dtypes of the Rollup frames that their values do not fix (the others are inferred
# as pandas infers them from one frame per KPI): labels are text, group and reason of the
# excluded sites stay object (as the per-site table holds them), site keeps the input's.
_KPI_DTYPES: dict[str, Any] = {"level": "str", "kpi": "str", "unit": "str", "standard": "str"}
_EXCLUDED_DTYPES: dict[str, Any] = {"level": "str", "kpi": "str", "group": object, "reason": object}


def _frame(
    parts: list[dict[str, np.ndarray]], columns: tuple[str, ...], dtypes: dict[str, Any]
) -> pd.DataFrame:
    """One frame of ``columns`` from the per-KPI parts, built once (no frame per KPI, no
    concatenation)."""
    if not parts:
        return pd.DataFrame(columns=columns)
    joined = {c: np.concatenate([p[c] for p in parts]) for c in columns}
    return pd.DataFrame(
        {c: pd.Series(v, dtype=dtypes[c]) if c in dtypes else v for c, v in joined.items()}
    )


def rollup(
    sites: pd.DataFrame,
    level: Level,
    *,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    min_share: float = DEFAULT_MIN_SHARE,
    kpis: Collection[str] | None = None,
    each_alone: bool = False,
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
    ``kpis``: only these KPIs (default: every one the columns allow). ``each_alone``: every
    group's figures to the last bit as a roll-up of its sites alone gives them (as
    :func:`greenwatch.query.kpi_answer` answers for one hub); pandas may sum a group in
    another order when other groups are there. Rows of ``excluded`` then come by group.
    """
    level = Level(level)
    _check(sites, level)
    key = (
        np.full(len(sites), "national", dtype=object)
        if level is Level.NATIONAL
        else sites[level.value].to_numpy(dtype=object)
    )
    if each_alone:  # each group's rows together, in their order (see _group_sums)
        order = np.argsort(pd.factorize(key, sort=True)[0], kind="stable")
        sites, key = sites.iloc[order], key[order]
    rows: list[dict[str, np.ndarray]] = []
    dropped: list[dict[str, np.ndarray]] = []
    for spec in _SPECS:
        if spec.numerator not in sites.columns or (kpis is not None and spec.kpi not in kpis):
            continue
        table = _site_table(sites, spec, key, level, min_coverage)
        dropped.append(_dropped(table, spec, level))
        rows.append(_group_kpis(table, spec, level, min_share, each_alone))
    return Rollup(
        kpis=_frame(rows, KPI_COLUMNS, _KPI_DTYPES),
        excluded=_frame(
            dropped, EXCLUDED_COLUMNS, _EXCLUDED_DTYPES | {"site": sites["site"].dtype}
        ),
    )

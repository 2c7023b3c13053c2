"""Targets and compliance: per-site verdicts, the national PUE target, PUE grade tables.

Targets are data from the inventory (per site: pue, green_energy_share, occupancy); grade
limits are data passed in (a table with columns grade, pue_max), never constants here, because
GB 40879 grade limits must come from the standard's own table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

# 2024 special action plan: national average data-centre PUE below 1.5 by end of 2025.
NATIONAL_PUE_TARGET = 1.5

# kpi -> (column holding the value, column holding the target, comparison that passes)
_TARGETS: dict[str, tuple[str, str, str]] = {
    "pue": ("pue", "target_pue", "<="),
    "green_energy_share": ("green_energy_share", "target_green_energy_share", ">="),
    "occupancy": ("occupancy", "target_occupancy", ">="),
}
VERDICT_COLUMNS = ("site", "kpi", "value", "target", "comparison", "verdict", "margin", "grade")


def _grade_table(grades: pd.DataFrame) -> pd.DataFrame:
    missing = {"grade", "pue_max"} - set(grades.columns)
    if missing:
        raise ValueError(f"grade table lacks columns {sorted(missing)} (needs grade, pue_max)")
    table = grades.assign(pue_max=grades["pue_max"].astype(float))
    if table["pue_max"].isna().any() or table["pue_max"].duplicated().any():
        raise ValueError("grade table: pue_max must be set and distinct for every grade")
    return table.sort_values("pue_max", kind="stable").reset_index(drop=True)


def pue_grades(pue: pd.Series, grades: pd.DataFrame) -> pd.Series:
    """The grade of each PUE: the best grade (lowest ``pue_max``) with ``pue <= pue_max``.

    ``grades`` is data (columns grade, pue_max), e.g. the GB 40879 table the caller loads;
    a PUE above every limit, or ``nan``, gets ``None`` (ungraded). Same index as ``pue``.
    """
    table = _grade_table(grades)
    limits = table["pue_max"].to_numpy()
    values = pue.astype(float).to_numpy()
    idx = np.searchsorted(limits, values, side="left")
    ok = np.isfinite(values) & (idx < limits.size)
    labels = table["grade"].astype(object).to_numpy()
    out = np.full(values.size, None, dtype=object)
    out[ok] = labels[idx[ok]]
    return pd.Series(out, index=pue.index, dtype=object)


def site_verdicts(sites: pd.DataFrame, *, grades: pd.DataFrame | None = None) -> pd.DataFrame:
    """One verdict per site and KPI against the site's own targets.

    ``sites`` columns: site, and any of pue, green_energy_share, occupancy (ratios) with their
    targets target_pue, target_green_energy_share, target_occupancy (``nan`` when the site has
    none). PUE passes at ``pue <= target`` (ISO/IEC 30134-2 PUE; hub plan limits), green share
    and occupancy at ``value >= target``. ``verdict`` is pass, fail, no target or no data;
    ``margin`` = value - target. With ``grades``, PUE rows carry their grade.
    """
    if "site" not in sites.columns:
        raise ValueError("sites table lacks column site")
    frames = []
    for kpi, (value_col, target_col, comparison) in _TARGETS.items():
        if value_col not in sites.columns:
            continue
        value = sites[value_col].astype(float)
        target = (
            sites[target_col].astype(float)
            if target_col in sites.columns
            else pd.Series(math.nan, index=sites.index)
        )
        passes = value <= target if comparison == "<=" else value >= target
        verdict = np.select(
            [value.isna(), target.isna(), passes], ["no data", "no target", "pass"], "fail"
        )
        grade = (
            pue_grades(value, grades)
            if kpi == "pue" and grades is not None
            else pd.Series(None, index=sites.index, dtype=object)
        )
        frames.append(
            pd.DataFrame(
                {
                    "site": sites["site"],
                    "kpi": kpi,
                    "value": value,
                    "target": target,
                    "comparison": comparison,
                    "verdict": verdict,
                    "margin": value - target,
                    "grade": grade,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=list(VERDICT_COLUMNS))
    return pd.concat(frames, ignore_index=True).loc[:, list(VERDICT_COLUMNS)]


@dataclass(frozen=True)
class Verdict:
    """A figure against a target: ``verdict`` is pass, fail or no data."""

    kpi: str
    value: float
    target: float
    comparison: str
    verdict: str
    margin: float


def national_pue_verdict(national_pue: float, *, target: float = NATIONAL_PUE_TARGET) -> Verdict:
    """The national average PUE against its target (< 1.5 by end of 2025).

    ``national_pue`` must be the ratio of summed energies of the network (the ``national``
    :func:`rollup`), not a mean of site PUEs. Passes when strictly below ``target``.
    """
    if not math.isfinite(national_pue):
        return Verdict("pue", national_pue, target, "<", "no data", math.nan)
    verdict = "pass" if national_pue < target else "fail"
    return Verdict("pue", national_pue, target, "<", verdict, national_pue - target)

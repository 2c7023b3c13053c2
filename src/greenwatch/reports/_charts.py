"""The three charts of a report, from its tables: PUE trend, energy split, carbon."""

from __future__ import annotations

import math

import pandas as pd

from greenwatch.reports._build import Report
from greenwatch.reports._svg import PALETTE, bar_chart, line_chart

OTHER = "outside hubs"


def _trend_label(bucket: str, kind: str) -> str:
    # bucket_start is local ISO, e.g. 2026-10-05T00:00+08:00
    if kind == "day":
        return bucket[11:13]
    if kind == "year":
        return bucket[5:7]
    return bucket[8:10] if kind == "month" else bucket[5:10]


def pue_trend(report: Report) -> str:
    trend = report.tables["trend"]
    kind = report.period.kind
    buckets = sorted(trend["bucket_start"].unique())
    names = list(dict.fromkeys(trend["series"]))
    series = []
    for i, name in enumerate(names):
        mine = trend[trend["series"] == name].set_index("bucket_start")["pue"]
        values = [float(mine.get(b, math.nan)) for b in buckets]
        series.append((name, values, PALETTE[i % len(PALETTE)]))
    target = float(report.tables["summary"].set_index("figure")["target"].astype(float)["pue"])
    unit = {"day": "hour", "week": "day", "month": "day of month", "year": "month"}[kind]
    return line_chart(
        f"PUE per {unit} ({report.period.label}, Asia/Shanghai)",
        [_trend_label(b, kind) for b in buckets],
        series,
        target=target if math.isfinite(target) else None,
        target_label=f"target {target:g}",
        y_label="PUE",
    )


def _groups(report: Report) -> pd.DataFrame:
    """Included sites' energies and CO2 summed by hub (national) or listed by site."""
    sites = report.tables["sites"]
    included = report.tables["coverage"].set_index("site")["included"]
    sites = sites[sites["site"].map(included).fillna(False).astype(bool)]
    columns = ["facility_kwh", "it_kwh", "cooling_kwh", "co2_location_kg", "co2_market_kg"]
    if report.scope.level != "national":
        return sites.set_index("site")[columns]
    key = sites["hub"].astype(object).where(sites["hub"].notna(), OTHER)
    return sites[columns].groupby(key, sort=True).sum()


def energy_split(report: Report) -> str:
    groups = _groups(report)
    it = groups["it_kwh"] / 1e3
    cooling = groups["cooling_kwh"].fillna(0.0) / 1e3
    other = (groups["facility_kwh"] / 1e3 - it - cooling).clip(lower=0.0)
    return bar_chart(
        "Energy split: IT, cooling and other facility energy",
        [str(c) for c in groups.index],
        [
            ("IT", list(it), PALETTE[0]),
            ("cooling", list(cooling), PALETTE[1]),
            ("other overhead", list(other), PALETTE[5]),
        ],
        stacked=True,
        unit="MWh",
    )


def carbon(report: Report) -> str:
    groups = _groups(report)
    return bar_chart(
        "CO2: location-based and market-based",
        [str(c) for c in groups.index],
        [
            ("location-based", list(groups["co2_location_kg"] / 1e3), PALETTE[4]),
            ("market-based", list(groups["co2_market_kg"] / 1e3), PALETTE[2]),
        ],
        stacked=False,
        unit="tCO2",
    )


def charts(report: Report) -> dict[str, str]:
    """SVG documents keyed by chart name."""
    return {
        "pue_trend": pue_trend(report),
        "energy": energy_split(report),
        "carbon": carbon(report),
    }

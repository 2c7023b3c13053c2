"""A report's content: every table and figure for one scope and period, before rendering."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from greenwatch.inventory import Inventory, Level
from greenwatch.metrics import PUE_CATEGORY_METERS, is_interim
from greenwatch.query import ComputeSource, Scope, ScopeError, compute_figures, site_totals
from greenwatch.reports._compute_tables import compute_tables
from greenwatch.reports._config import ReportConfig
from greenwatch.reports._figures import (
    EMPTY,
    Figures,
    _verdict,
    changes_table,
    group_figures,
    hub_table,
    ranking_table,
    scope_figures,
    site_table,
)
from greenwatch.reports._period import Period
from greenwatch.reports._quality import coverage_table, gaps_table, hourly_energy, trend_table
from greenwatch.store import Store

REPORT_LEVELS = (Level.NATIONAL, Level.HUB, Level.SITE)
HUB_KIND = "hub_cluster"  # "hub sites": the data-centre clusters of the national hubs
SUMMARY_COLUMNS = (
    "figure",
    "value",
    "unit",
    "target",
    "comparison",
    "verdict",
    "coverage",
    "sites",
    "expected_sites",
    "capacity_share",
    "provenance",
    "note",
)


def parse_scope(text: str, inventory: Inventory) -> Scope:
    """``national``, ``hub:ID`` or ``site:ID``; anything else raises :class:`ScopeError`."""
    scope = Scope.parse(text, inventory)
    if scope.level not in REPORT_LEVELS:
        raise ScopeError(f"bad report scope {text!r}: use national, hub:ID or site:ID")
    return scope


def report_name(scope: Scope, period: Period) -> str:
    """File-system name of a report, e.g. ``greenwatch-national-2026-10``."""
    where = "national" if scope.level is Level.NATIONAL else f"{scope.level}-{scope.key}"
    return f"greenwatch-{where}-{period.label}"


@dataclass(frozen=True)
class Methodology:
    """What the figures rest on, for the methodology section."""

    categories: tuple[tuple[int, str, int], ...]  # (category, meter, sites)
    factors: tuple[tuple[int, str, str, float], ...]  # (year, source, region, kg/kWh)
    grades_source: str
    grades_placeholder: bool
    grades: tuple[tuple[str, float], ...]
    min_coverage: float
    min_share: float
    interim: bool


@dataclass(frozen=True)
class Report:
    """Everything a report says. ``tables`` are the CSV tables, in report order."""

    name: str
    title: str
    scope: Scope
    period: Period
    previous: Period
    current: Figures
    before: Figures
    tables: dict[str, pd.DataFrame]
    methodology: Methodology
    config: ReportConfig


def _members(totals: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    if scope.level == "national":
        return totals.reset_index(drop=True)
    return totals[totals[scope.level] == scope.key].reset_index(drop=True)


def _title(scope: Scope, period: Period) -> str:
    where = {
        "national": "National network",
        "hub": f"Hub {scope.key}",
        "site": f"Site {scope.key}",
    }[scope.level]
    kind = {"day": "Daily", "week": "Weekly", "month": "Monthly", "year": "Annual"}[period.kind]
    return f"{kind} efficiency report — {where} — {period.label}"


def _share_row(figure: str, judged: pd.DataFrame, column: str, note: str) -> dict[str, object]:
    passed = int((judged[column] == "pass").sum())
    return {
        "figure": figure,
        "value": passed / len(judged) if len(judged) else math.nan,
        "unit": "ratio",
        "sites": len(judged),
        "note": f"{passed} of {len(judged)} judged sites; {note}",
    }


def _pue_verdict(now: Figures, target: float, comparison: str, min_coverage: float) -> str:
    """The PUE tile's verdict: none below the minimum coverage or share of the scope."""
    if now.sites and not now.pue_coverage >= min_coverage:
        return "low coverage"
    if now.sites and not now.published:
        return "partial scope"
    return _verdict(now.pue, target, comparison)


def summary_table(
    scope: Scope,
    now: Figures,
    before: Figures,
    sites: pd.DataFrame,
    members: pd.DataFrame,
    config: ReportConfig,
    previous: Period,
) -> pd.DataFrame:
    """The executive summary as rows of figure, value, unit, target, verdict, coverage, note."""
    rows = [
        *_pue_rows(scope, now, before, members, config, previous),
        *_hub_rows(sites, members, config),
        *_carbon_and_energy_rows(now),
    ]
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)).astype(
        {"sites": "Int64", "expected_sites": "Int64"}
    )


def _pue_rows(
    scope: Scope,
    now: Figures,
    before: Figures,
    members: pd.DataFrame,
    config: ReportConfig,
    previous: Period,
) -> list[dict[str, object]]:
    """The scope's PUE against its target, the previous period's and the change."""
    if scope.level == "national":
        target, comparison = config.national_pue_target, "<"
        note = "national target: average PUE below 1.5"
    else:
        target = _common_target(members["target_pue"])
        comparison, note = "<=", "the scope's own PUE target"
    categories = f"PUE categories {now.categories or '-'}; ratio of summed energies"
    return [
        {
            "figure": "pue",
            "value": now.pue,
            "unit": "ratio",
            "target": target,
            "comparison": comparison,
            "verdict": _pue_verdict(now, target, comparison, config.min_coverage),
            "coverage": now.pue_coverage,
            "sites": now.sites,
            "expected_sites": now.expected_sites,
            "capacity_share": now.capacity_share,
            "provenance": now.provenance,
            "note": f"{note}; {categories}",
        },
        {
            "figure": "pue_previous",
            "value": before.pue,
            "unit": "ratio",
            "coverage": before.pue_coverage,
            "sites": before.sites,
            "note": f"previous period {previous.label}",
        },
        {"figure": "pue_change", "value": now.pue - before.pue, "unit": "ratio"},
    ]


def _hub_rows(
    sites: pd.DataFrame, members: pd.DataFrame, config: ReportConfig
) -> list[dict[str, object]]:
    """Hub cluster sites meeting their PUE targets (all, east, west) and the green share."""
    hub_sites = sites[sites["kind"] == HUB_KIND]
    judged = hub_sites[hub_sites["pue_verdict"].isin(["pass", "fail"])]
    green_judged = hub_sites[hub_sites["green_verdict"].isin(["pass", "fail"])]
    # Equals kpi_answer("ref", kind:hub_cluster) for the national scope.
    hub_members = members[members["kind"] == HUB_KIND]
    kinds = group_figures(hub_members, Level.KIND, config.min_coverage, kpis=("ref",))
    green = kinds.get(HUB_KIND, EMPTY).ref
    return [
        _share_row(
            "hub_sites_meeting_pue_target",
            judged,
            "pue_verdict",
            "PUE <= 1.25 east, <= 1.2 west (site targets)",
        ),
        *(
            _share_row(
                f"hub_sites_meeting_pue_target_{region}",
                judged[judged["region"] == region],
                "pue_verdict",
                f"{region} hubs",
            )
            for region in ("east", "west")
        ),
        {
            "figure": "hub_green_share",
            "value": green,
            "unit": "ratio",
            "target": config.green_share_target,
            "comparison": ">=",
            "verdict": _verdict(green, config.green_share_target, ">="),
            "coverage": kinds.get(HUB_KIND, EMPTY).ref_coverage,
            "note": "renewable / facility energy of hub cluster sites (REF, ISO/IEC 30134-3); "
            "target for new hub centres",
        },
        _share_row(
            "hub_sites_meeting_green_target", green_judged, "green_verdict", "green share >= 0.8"
        ),
    ]


def _carbon_and_energy_rows(now: Figures) -> list[dict[str, object]]:
    """CO2 on both bases, facility and IT energy, WUE, CUE and REF of the scope."""
    return [
        {
            "figure": "co2_location",
            "value": now.co2_location_kg,
            "unit": "kgCO2",
            "coverage": now.co2_coverage,
            "sites": now.sites,
            "note": "location-based: facility energy x grid factor",
        },
        {
            "figure": "co2_market",
            "value": now.co2_market_kg,
            "unit": "kgCO2",
            "coverage": now.co2_coverage,
            "sites": now.sites,
            "note": "market-based: (facility - contracted and on-site green) x grid factor",
        },
        {"figure": "facility_energy", "value": now.facility_kwh, "unit": "kWh", "sites": now.sites},
        {
            "figure": "it_energy",
            "value": now.it_kwh,
            "unit": "kWh",
            "coverage": now.it_coverage,
            "sites": now.sites,
        },
        {"figure": "wue", "value": now.wue, "unit": "L/kWh", "note": "ISO/IEC 30134-9"},
        {"figure": "cue", "value": now.cue, "unit": "kgCO2/kWh", "note": "ISO/IEC 30134-8"},
        {"figure": "ref", "value": now.ref, "unit": "ratio", "note": "ISO/IEC 30134-3"},
    ]


def _common_target(values: pd.Series) -> float:
    unique = values.dropna().astype(float).unique()
    return float(unique[0]) if len(unique) == 1 else math.nan


def _methodology(members: pd.DataFrame, config: ReportConfig, period: Period) -> Methodology:
    categories = members["pue_category"].astype(int).value_counts().sort_index()
    factors = members.drop_duplicates(["factor_year", "factor_source", "province"])
    return Methodology(
        categories=tuple(
            (int(c), PUE_CATEGORY_METERS[int(c)], int(n))
            for c, n in zip(categories.index.tolist(), categories.tolist(), strict=True)
        ),
        factors=tuple(
            sorted(
                (int(y), str(s), str(p), float(f))
                for y, s, p, f in zip(
                    factors["factor_year"],
                    factors["factor_source"],
                    factors["province"],
                    factors["factor_kg_per_kwh"],
                    strict=True,
                )
            )
        ),
        grades_source=config.grades.source,
        grades_placeholder=config.grades.placeholder,
        grades=tuple(
            (str(g), float(m))
            for g, m in zip(
                config.grades.table["grade"], config.grades.table["pue_max"], strict=True
            )
        ),
        min_coverage=config.min_coverage,
        min_share=config.min_share,
        interim=is_interim(period.start_utc, period.end_utc),
    )


def build_report(
    store: Store,
    inventory: Inventory,
    period: Period,
    scope: Scope,
    config: ReportConfig | None = None,
    *,
    compute: ComputeSource | None = None,
) -> Report:
    """Compute a report of ``scope`` over ``period`` (and the previous period, for changes).

    ``compute`` lists the compute pools and their verification records (default: the
    inventory's pools, no records)."""
    config = config or ReportConfig()
    previous = period.previous()
    totals = site_totals(store, inventory, period.start_utc, period.end_utc)
    members = _members(totals, scope)
    before_members = _members(
        site_totals(store, inventory, previous.start_utc, previous.end_utc), scope
    )
    level = scope.level
    now = scope_figures(members, level, config.min_coverage, config.min_share)
    before = scope_figures(before_members, level, config.min_coverage, config.min_share)
    sites = site_table(members, config)
    before_sites = site_table(before_members, config)
    excluded = dict(now.excluded)
    included = [s for s in members["site"] if s not in excluded]
    hourly = hourly_energy(store, members, period)
    label = str(scope)
    tables = {
        "summary": summary_table(scope, now, before, sites, members, config, previous),
        "hubs": hub_table(members, sites, config) if level != "site" else None,
        "sites": sites,
        "ranking": ranking_table(sites, config.min_coverage),
        "changes": changes_table(sites, before_sites, config.top_changes),
        "coverage": coverage_table(members, hourly, excluded),
        "gaps": gaps_table(hourly),
        "trend": trend_table(hourly, members, included, period, label),
    }
    figures = compute_figures(
        store,
        inventory,
        period.start_utc,
        period.end_utc,
        source=compute,
        max_age=config.max_verification_age,
        totals=totals,
    )
    tables.update(compute_tables(figures, scope, list(members["site"])))
    return Report(
        name=report_name(scope, period),
        title=_title(scope, period),
        scope=scope,
        period=period,
        previous=previous,
        current=now,
        before=before,
        tables={k: v for k, v in tables.items() if v is not None},
        methodology=_methodology(members, config, period),
        config=config,
    )

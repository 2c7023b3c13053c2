"""Panels about trust and choice: coverage gaps, sub-meter conservation, placement hints, and
what the ingest boundary refused, flagged or holds from unregistered sources."""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
from dash import html

from greenwatch.dashboard._compute_panels import class_label
from greenwatch.dashboard._data import meter_increase, records, series_coverage, steps_of
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._spec import CoverageGapsPanel, PlacementPanel, SubmeterPanel
from greenwatch.dashboard._tables import num, site_link, table
from greenwatch.dashboard._view import View
from greenwatch.ingest import BoundaryStats
from greenwatch.inventory import Inventory, link_distance_km
from greenwatch.metrics import PFLOP, placement_hints, submeter_findings

GAP_METRICS = (
    "energy_joules_total",
    "power_watts",
    "water_litres_total",
    "green_energy_joules_total",
    "utilisation_ratio",
    "temperature_celsius",
)
# The power chain below the facility meter (ISO/IEC 30134-2 metering points).
METER_PARENTS = {
    "facility": "",
    "cooling": "facility",
    "it_ups_output": "facility",
    "it_pdu_output": "it_ups_output",
    "it_input": "it_pdu_output",
}


def _series_name(row: Mapping[Any, object], metric: str) -> str:
    labels = [
        f"{k}={v}"
        for k, v in row.items()
        if k not in {"ts", "site", "value"} and isinstance(v, str) and v
    ]
    return f"{metric}{{{', '.join(labels)}}}" if labels else metric


def gap_intervals(
    coverage: pd.DataFrame, step: pd.Timedelta, below: float
) -> list[tuple[pd.Timestamp, pd.Timestamp, float]]:
    """Runs of consecutive steps with coverage under ``below``: (from, to, mean coverage)."""
    low = coverage[coverage["value"] < below].sort_values("ts")
    runs: list[tuple[pd.Timestamp, pd.Timestamp, float]] = []
    start = prev = None
    values: list[float] = []
    for ts, value in zip(low["ts"], low["value"], strict=True):
        if prev is not None and ts - prev != step:
            runs.append((start, prev + step, sum(values) / len(values)))  # type: ignore[arg-type]
            start, values = None, []
        start = ts if start is None else start
        values.append(float(value))
        prev = ts
    if start is not None and prev is not None:
        runs.append((start, prev + step, sum(values) / len(values)))
    return runs


def coverage_gaps(panel: CoverageGapsPanel, view: View, env: Env, _search: str) -> html.Div:
    """Per series of the site, the stretches of the period its data does not cover."""
    if not view.site:
        return html.Div("Choose a site.", className="muted")
    start, end = view.trend_range()
    step = view.step
    # The step still running is not a gap: only whole steps before the view's end count.
    steps = steps_of(start, view.end.floor(step), step)
    rows = []
    for metric in GAP_METRICS:
        frame = series_coverage(env.store, metric, view.site, start, end, step)
        if frame.empty or steps.empty:
            continue
        label_cols = [c for c in frame.columns if c not in {"ts", "value", "site"}]
        groups = frame.groupby(label_cols, dropna=False) if label_cols else [((), frame)]
        for _, part in groups:
            first = part.iloc[0].to_dict()
            # A step without any sample has no row at all: it is a gap of coverage 0.
            full = part.set_index("ts")["value"].reindex(steps, fill_value=0.0).reset_index()
            for a, b, mean in gap_intervals(full, step, panel.below):
                rows.append((_series_name(first, metric), a, b, mean))
    if not rows:
        return html.Div(
            f"Every series covers at least {panel.below:.0%} of each {_step_name(step)} "
            "of the period.",
            className="ok-note",
        )
    rows.sort(key=lambda r: (r[1], r[0]))
    body = [
        html.Tr(
            [
                html.Td(name, className="mono"),
                html.Td(f"{a:%Y-%m-%d %H:%M}"),
                html.Td(f"{b:%Y-%m-%d %H:%M}"),
                html.Td(_duration(b - a)),
                html.Td(f"{mean:.0%}"),
            ]
        )
        for name, a, b, mean in rows[:200]
    ]
    more = [html.Div(f"… and {len(rows) - 200} more", className="muted")] if len(rows) > 200 else []
    return html.Div(
        [table(("series", "from (UTC)", "to", "length", "coverage"), body, "gaps"), *more],
        className="table-scroll",
    )


def _step_name(step: pd.Timedelta) -> str:
    return "hour" if step == pd.Timedelta(hours=1) else str(step)


def _duration(span: pd.Timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{span.total_seconds() / 60:.0f} min"


def submeter(panel: SubmeterPanel, view: View, env: Env, _search: str) -> html.Div:
    """The site's meters over the period and where children and parent disagree
    (:func:`greenwatch.metrics.submeter_findings`)."""
    if not view.site:
        return html.Div("Choose a site.", className="muted")
    energy = meter_increase(env.store, view.site, list(METER_PARENTS), view.start, view.end)
    if energy.empty:
        return html.Div("No energy meters reported at this site.", className="muted")
    meters = pd.DataFrame(
        {
            "site": view.site,
            "meter": energy["meter"],
            "parent": energy["meter"].map(METER_PARENTS),
            "energy_j": energy["increase"],
            "coverage": energy["coverage"],
        }
    )
    for meter, parent in METER_PARENTS.items():
        if meter not in set(meters["meter"]) and parent in set(meters["meter"]):
            missing = {
                "site": view.site,
                "meter": meter,
                "parent": parent,
                "energy_j": math.nan,
                "coverage": 0.0,
            }
            meters = pd.concat([meters, pd.DataFrame([missing])], ignore_index=True)
    findings = submeter_findings(meters, tolerance=panel.tolerance)
    meter_rows = [
        html.Tr(
            [
                html.Td(r["meter"], className="mono"),
                html.Td(r["parent"] or "—"),
                html.Td(num(r["energy_j"] / 3.6e9, ",.1f")),
                html.Td(num(r["coverage"], ".1%")),
            ]
        )
        for r in records(meters.sort_values("meter"))
    ]
    parts: list[html.Div | html.Table] = [table(("meter", "parent", "MWh", "coverage"), meter_rows)]
    if findings.empty:
        parts.append(
            html.Div(
                "Energy is conserved: every parent's children agree with it within "
                f"±{panel.tolerance:.0%}.",
                className="ok-note",
            )
        )
    else:
        parts.append(
            table(
                ("finding", "parent", "parent MWh", "children MWh", "drift"),
                [
                    html.Tr(
                        [
                            html.Td(r["reason"], className="bad"),
                            html.Td(r["parent"], className="mono"),
                            html.Td(num(r["parent_j"] / 3.6e9, ",.1f")),
                            html.Td(num(r["children_j"] / 3.6e9, ",.1f")),
                            html.Td(num(r["drift_ratio"], "+.1%")),
                        ]
                    )
                    for r in records(findings)
                ],
                "findings",
            )
        )
    return html.Div(parts)


def paths_from(
    inventory: Inventory, origin: str, utilisation: dict[str, float]
) -> dict[str, tuple[float, float]]:
    """Shortest path (km, Dijkstra over inventory links) from ``origin`` to every reachable
    site, with the highest link utilisation on that path."""
    graph: dict[str, list[tuple[str, float, float]]] = {}
    for link in inventory.links:
        km = link.distance_km or link_distance_km(inventory, link)
        busy = utilisation.get(link.id, 0.0)
        busy = 0.0 if not math.isfinite(busy) else min(max(busy, 0.0), 1.0)
        graph.setdefault(link.a, []).append((link.b, km, busy))
        graph.setdefault(link.b, []).append((link.a, km, busy))
    best: dict[str, tuple[float, float]] = {}
    queue: list[tuple[float, float, str]] = [(0.0, 0.0, origin)]
    while queue:
        km, busy, site = heapq.heappop(queue)
        if site in best:
            continue
        best[site] = (km, busy)
        for other, length, load in graph.get(site, []):
            if other not in best:
                heapq.heappush(queue, (km + length, max(busy, load), other))
    return best


def placement(panel: PlacementPanel, view: View, env: Env, search: str) -> html.Div:
    """Where a workload started here would emit least, and what moving it costs."""
    if not view.site:
        return html.Div("Choose a site.", className="muted")
    frame = env.overview(view)
    links = env.link_health(view)
    paths = paths_from(
        env.inventory, view.site, dict(zip(links["link"], links["utilisation"], strict=True))
    )
    reach = frame[frame["site"].isin(list(paths)) & frame["pue"].notna()]
    if reach.empty:
        return html.Div("No reachable site has PUE data for this period.", className="muted")
    candidates = pd.DataFrame(
        {
            "site": reach["site"],
            "pue": reach["pue"],
            "grid_factor_kg_per_kwh": reach["factor_kg_per_kwh"],
            "green_share": reach["green_share"].fillna(0.0).clip(0.0, 1.0),
            "free_capacity_kw": (reach["it_capacity_kw"] - reach["it_power_w"] / 1000.0).clip(
                lower=0
            ),
            "link_utilisation": [paths[s][1] for s in reach["site"]],
            "distance_km": [paths[s][0] for s in reach["site"]],
        }
    )
    if panel.compute_class is not None:
        free = env.compute_figures(view).free
        mine = free[free["class"] == panel.compute_class].set_index("site")["free_flops"]
        # A site without pools of the class has none of its computing power free.
        candidates["free_flops"] = candidates["site"].map(mine).fillna(0.0)
    workload_flops = panel.workload_pflops * PFLOP if panel.workload_pflops else None
    hints = placement_hints(
        panel.workload_it_kwh,
        candidates,
        workload_kw=panel.workload_kw,
        workload_flops=workload_flops,
        movement_kg_per_km=panel.movement_kg_per_km,
    ).head(panel.limit)
    names = {s.id: s.name for s in env.inventory.sites}
    rows = [
        html.Tr(
            [
                html.Td(str(r["rank"])),
                html.Td(
                    site_link(r["site"], names.get(r["site"], r["site"]), search)
                    if r["site"] != view.site
                    else html.B("here")
                ),
                html.Td(num(r["emissions_kg"], ",.0f")),
                html.Td(num(r["pue"], ".3f")),
                html.Td(num(r["grid_factor_kg_per_kwh"], ".3f")),
                html.Td(num(r["green_share"], ".0%")),
                html.Td(num(r["free_capacity_kw"] / 1000, ",.1f")),
                *([html.Td(num(r["free_flops"] / PFLOP, ",.0f"))] if "free_flops" in r else []),
                html.Td(num(r["distance_km"], ",.0f")),
                html.Td(num(r["link_utilisation"], ".0%")),
                html.Td("yes" if r["feasible"] else "no"),
            ],
            title=str(r["reason"]),
        )
        for r in records(hints)
    ]
    flops_head = ["free PFLOPS"] if panel.compute_class else []
    head = ("#", "site", "kgCO2", "PUE", "kg/kWh", "green", "free MW", *flops_head)
    head += ("km", "path busy", "fits")
    needs = [f"{panel.workload_kw:,.0f} kW"] if panel.workload_kw else []
    if panel.workload_pflops and panel.compute_class:
        needs.append(f"{panel.workload_pflops:,.0f} PFLOPS {class_label(panel.compute_class)}")
    intro = (
        f"{panel.workload_it_kwh:,.0f} kWh of IT work"
        + (f" needing {' and '.join(needs)}" if needs else "")
        + ": market-based emissions = IT kWh × PUE × grid factor × (1 − green share)."
    )
    if panel.compute_class:
        intro += " Free PFLOPS = available × (1 − current utilisation)."
    return html.Div(
        [html.Div(intro, className="muted small"), table(head, rows)], className="table-scroll"
    )


def _when(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S UTC")


def ingest_boundary(_panel: object, _view: View, env: Env, _search: str) -> html.Div:
    """Counts of the ingest boundary since the service started, and unregistered sources."""
    if env.boundary is None:
        return html.Div("Ingest runs in another process.", className="muted")
    stats: BoundaryStats = env.boundary.snapshot()
    counts = [
        html.Tr([html.Td(what), html.Td(reason), html.Td(f"{n:,}", className="num")])
        for what, table_counts in (("refused", stats.refused), ("flagged", stats.flagged))
        for reason, n in sorted(table_counts.items())
    ]
    sources = [
        html.Tr(
            [
                html.Td(s.site),
                html.Td(_when(s.first_seen)),
                html.Td(_when(s.last_seen)),
                html.Td(f"{s.samples:,}", className="num"),
            ]
        )
        for s in stats.sources.values()
    ]
    return html.Div(
        [
            html.P(f"{stats.refused_requests:,} pushed request(s) refused since start."),
            table(["outcome", "reason", "samples"], counts)
            if counts
            else html.Div("Nothing refused or flagged.", className="muted"),
            html.H4("Unregistered sources (held out of every figure)"),
            table(["site", "first seen", "last seen", "samples"], sources, "unregistered")
            if sources
            else html.Div("No unregistered sources.", className="muted"),
        ]
    )

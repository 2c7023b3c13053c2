"""Computing-power tables: per site, hub, region or pool and class, and the findings of the
identify and verification checks (the operations view of "registered 512 GPUs, 480 seen")."""

from __future__ import annotations

from typing import Any

import pandas as pd
from dash import html

from greenwatch.dashboard._compute_panels import (
    NO_HUB,
    age_text,
    class_label,
    flops_text,
    percent,
    significant,
)
from greenwatch.dashboard._data import records
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._spec import ComputeFindingsPanel, ComputeTablePanel
from greenwatch.dashboard._tables import site_link, table
from greenwatch.dashboard._theme import NAMED
from greenwatch.dashboard._view import View
from greenwatch.inventory import Level
from greenwatch.query import ComputeFigures

# Most urgent first: a pool that failed or went stale needs action before the backlog of pools
# never verified (which would otherwise fill the findings of a new registry).
VERIFICATION_ORDER = ("failed", "stale", "never", "ok")
VERIFICATION_COLOURS = {
    "ok": NAMED["ok"],
    "stale": NAMED["warn"],
    "failed": NAMED["bad"],
    "never": NAMED["muted"],
}
FINDING_ORDER = {"missing": 0, "unregistered": 1, "surplus": 2}


def _group_keys(frame: pd.DataFrame, level: str) -> pd.Series:
    """The group of each row: its site, hub (empty outside hubs) or region."""
    return frame[level].fillna("").astype(str)


def _key_label(key: str, level: str, env: Env, search: str) -> Any:
    """A site as a link to its page (by name); a hub or region as its id."""
    if level == "site" and key in env.sites:
        return site_link(key, env.sites[key].name, search)
    return key or NO_HUB


def _local_rows(frame: pd.DataFrame, level: str, view: View, env: Env) -> pd.DataFrame:
    """On a site page, only the site's own group (its row, its hub's or its region's)."""
    site = env.sites.get(view.site or "")
    if view.page.scope != "site" or site is None:
        return frame
    own = {"site": site.id, "pool": site.id, "hub": site.hub or "", "region": site.region.value}
    column = "key" if "key" in frame.columns else "site"
    return frame[frame[column] == own[level]]


def verification_text(states: pd.Series, ages: pd.Series) -> str:
    """Verification of a group of pools: its state, or how many pools are in each (most urgent
    first), and how long ago its oldest verification was."""
    counts = states.value_counts()
    if len(counts) == 1:
        text = str(counts.index[0])
    else:
        text = " · ".join(f"{counts[s]} {s}" for s in VERIFICATION_ORDER if counts.get(s, 0))
    oldest = ages.max()
    return text + (f" · {age_text(oldest)} ago" if pd.notna(oldest) else "")


def _state_cell(text: str, state: str) -> html.Td:
    return html.Td(text, style={"color": VERIFICATION_COLOURS[state]})


def _group_rows(
    panel: ComputeTablePanel, figures: ComputeFigures, view: View, env: Env, search: str
) -> list[html.Tr]:
    level = panel.level
    efficiency = figures.efficiency(Level(level)).drop(columns=["rated_flops"])
    frame = figures.power(Level(level)).merge(efficiency, on=["key", "class"], how="left")
    frame = _local_rows(frame[frame["class"].isin(panel.classes)], level, view, env)
    # Sites outside the hubs (an empty hub) come after the hubs.
    frame = frame.assign(outside=frame["key"] == "").sort_values(["outside", "key", "class"])
    status = figures.status.assign(key=_group_keys(figures.status, level))
    checks = {
        k: (
            verification_text(g["verification"], g["verified_age_s"]),
            next(s for s in VERIFICATION_ORDER if (g["verification"] == s).any()),
        )
        for k, g in status.groupby(["key", "class"], sort=False)
    }
    rows = []
    for r in records(frame):
        check, urgent = checks.get((r["key"], r["class"]), ("never", "never"))
        rows.append(
            html.Tr(
                [
                    html.Td(_key_label(r["key"], level, env, search)),
                    html.Td(class_label(r["class"])),
                    html.Td(flops_text(r["rated_flops"])),
                    html.Td(flops_text(r["available_flops"])),
                    html.Td(flops_text(r["delivered_flops"])),
                    html.Td(percent(r["utilisation"])),
                    html.Td(significant(r["flops_per_watt"] / 1e9)),
                    html.Td(significant(r["kwh_per_pflop_hour"])),
                    html.Td(significant(r["kg_co2_per_pflop_hour"])),
                    _state_cell(check, urgent),
                    html.Td(percent(r["identified_share"])),
                    html.Td(percent(r["coverage"])),
                ],
                className="compute-row",
            )
        )
    return rows


def _pool_rows(
    panel: ComputeTablePanel, figures: ComputeFigures, view: View, env: Env, search: str
) -> list[html.Tr]:
    usage = figures.pools.loc[:, ["site", "pool", "utilisation", "delivered_flop_hours"]]
    usage = usage.rename(columns={"delivered_flop_hours": "dfh"})
    frame = figures.status.merge(usage, on=["site", "pool"], how="left")
    frame = _local_rows(frame[frame["class"].isin(panel.classes)], "pool", view, env)
    rows = []
    for r in records(frame):
        state = str(r["verification"])
        check = (
            state if pd.isna(r["verified_age_s"]) else f"{state} · {age_text(r['verified_age_s'])}"
        )
        if r["last_benchmark"]:
            check += f" · {r['last_benchmark']}"
        if pd.notna(r["measured_ratio"]):
            check += f" {percent(r['measured_ratio'])} of peak"
        rows.append(
            html.Tr(
                [
                    html.Td(_key_label(str(r["site"]), "site", env, search)),
                    html.Td(str(r["pool"]), className="mono"),
                    html.Td(class_label(r["class"])),
                    html.Td(str(r["model"]), className="mono"),
                    html.Td(f"{int(r['count']):,}"),
                    html.Td(flops_text(r["rated_flops"])),
                    html.Td(flops_text(r["available_flops"])),
                    html.Td(percent(r["seen_share"]) if r["identified"] else "not seen"),
                    html.Td(percent(r["utilisation"])),
                    html.Td(flops_text(r["dfh"] / figures.hours)),
                    _state_cell(check, state),
                ],
                className="compute-row",
            )
        )
    return rows


GROUP_HEAD = (
    "class",
    "rated",
    "available",
    "delivered",
    "util.",
    "GFLOPS/W",
    "kWh/PFLOP-h",
    "kgCO2/PFLOP-h",
    "verified",
    "identified",
    "coverage",
)
POOL_HEAD = (
    "site",
    "pool",
    "class",
    "model",
    "devices",
    "rated",
    "available",
    "seen",
    "util.",
    "delivered",
    "verified",
)


def compute_table(panel: ComputeTablePanel, view: View, env: Env, search: str) -> html.Div:
    """Rated, available and delivered FLOPS and what they cost, per group (or pool) and class."""
    figures = env.compute_figures(view)
    head: tuple[str, ...]
    if panel.level == "pool":
        rows, head = _pool_rows(panel, figures, view, env, search), POOL_HEAD
    else:
        rows = _group_rows(panel, figures, view, env, search)
        head = (panel.level, *GROUP_HEAD)
    if not rows:
        return html.Div("No computing pools of these classes here.", className="muted")
    return html.Div(table(head, rows, "compute-table"), className="table-scroll")


def _identify_part(
    findings: pd.DataFrame, status: pd.DataFrame, limit: int, env: Env, search: str
) -> list[Any]:
    if findings.empty:
        if status["identified"].any():
            text = "Every device model the collectors report matches its registered count."
            return [html.Div(text, className="ok-note")]
        text = (
            "No collector reports compute devices (metric compute_devices) at the end of the "
            "period: registered device counts cannot be checked."
        )
        return [html.Div(text, className="muted")]
    ordered = findings.assign(
        order=findings["finding"].map(FINDING_ORDER), size=-findings["difference"].abs()
    ).sort_values(["order", "size", "site"])
    rows = [
        html.Tr(
            [
                html.Td(_key_label(str(r["site"]), "site", env, search)),
                html.Td(str(r["model"]), className="mono"),
                html.Td(str(r["device_kind"])),
                html.Td(f"{int(r['registered']):,}"),
                html.Td(f"{r['seen']:,.0f}"),
                html.Td(f"{r['difference']:+,.0f}"),
                html.Td(str(r["finding"]), className="bad" if r["finding"] == "missing" else ""),
            ],
            title=str(r["message"]),
            className="finding-row",
        )
        for r in records(ordered.head(limit))
    ]
    head = ("site", "model", "kind", "registered", "seen", "difference", "finding")
    return [table(head, rows, "findings"), *_more(len(ordered), limit)]


def _verification_part(
    status: pd.DataFrame, states: tuple[str, ...], limit: int, env: Env, search: str
) -> list[Any]:
    order = {s: k for k, s in enumerate(VERIFICATION_ORDER)}
    pending = status[status["verification"].isin(states)]
    if pending.empty:
        listed = " or ".join(states)
        return [html.Div(f"No pool's verification is {listed}.", className="ok-note")]
    pending = pending.assign(order=pending["verification"].map(order)).sort_values(
        ["order", "rated_flops"], ascending=[True, False]
    )
    rows = []
    for r in records(pending.head(limit)):
        state = str(r["verification"])
        when = "—" if pd.isna(r["verified_age_s"]) else f"{age_text(r['verified_age_s'])} ago"
        rows.append(
            html.Tr(
                [
                    html.Td(_key_label(str(r["site"]), "site", env, search)),
                    html.Td(str(r["pool"]), className="mono"),
                    html.Td(class_label(r["class"])),
                    html.Td(f"{int(r['count']):,} x {r['model']}"),
                    html.Td(flops_text(r["rated_flops"])),
                    _state_cell(state, state),
                    html.Td(str(r["last_benchmark"]) or "—"),
                    html.Td(when),
                ],
                className="verification-row",
            )
        )
    head = ("site", "pool", "class", "devices", "rated", "verification", "benchmark", "last")
    return [table(head, rows, "verifications"), *_more(len(pending), limit)]


def _more(total: int, shown: int) -> list[html.Div]:
    return [html.Div(f"… and {total - shown} more", className="muted")] if total > shown else []


def compute_findings(panel: ComputeFindingsPanel, view: View, env: Env, search: str) -> html.Div:
    """Operations view: registered devices the collectors do not see (or more than registered),
    and pools whose latest verification failed, is stale or never happened."""
    figures = env.compute_figures(view)
    status = _local_rows(figures.status, "pool", view, env)
    findings = _local_rows(figures.findings, "pool", view, env)
    counts = status["verification"].value_counts()
    summary = [
        html.Span(f"{len(findings)} identify findings · {int(status['identified'].sum())} of "),
        html.Span(f"{len(status)} pools identified · verification: "),
        *[
            html.Span(
                f"{counts.get(s, 0)} {s}" + (" · " if s != "ok" else ""),
                style={"color": VERIFICATION_COLOURS[s]},
            )
            for s in VERIFICATION_ORDER
        ],
    ]
    return html.Div(
        [
            html.Div(summary, className="small compute-summary"),
            html.H4("Registered vs seen", className="panel-subtitle"),
            *_identify_part(findings, status, panel.limit, env, search),
            html.H4("Verification", className="panel-subtitle"),
            *_verification_part(status, panel.verification, panel.limit, env, search),
        ],
        className="table-scroll",
    )

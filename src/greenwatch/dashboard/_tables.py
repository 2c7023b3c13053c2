"""Panels drawn as tables or text: sites, links, devices, site facts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

import pandas as pd
from dash import dcc, html

from greenwatch.dashboard._components import StaticHtml
from greenwatch.dashboard._data import device_power, records
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._links import HEALTH_COLOURS
from greenwatch.dashboard._spec import WidgetPanel
from greenwatch.dashboard._theme import KIND_LABELS, STATUS_COLOURS
from greenwatch.dashboard._view import View, with_params
from greenwatch.metrics import PUE_CATEGORY_METERS


def num(value: Any, spec: str = ".3f", empty: str = "—") -> str:
    """A number formatted with ``spec``; ``—`` when missing or not finite."""
    if value is None:
        return empty
    try:
        number = float(value)
    except (TypeError, ValueError):
        return empty
    return empty if not math.isfinite(number) else format(number, spec)


def table(head: Sequence[str], rows: Sequence[html.Tr], cls: str = "") -> html.Table:
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(list(rows))],
        className=f"grid-table {cls}".strip(),
    )


def site_link(site: str, name: str, search: str) -> dcc.Link:
    return dcc.Link(name, href=f"/site/{site}{with_params(search, link=None, edge=None)}")


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f' {name}="{escape(value)}"' for name, value in attrs.items())


def _cell(content: str, **attrs: str) -> str:
    """A ``<td>`` of a table drawn as HTML (``content`` already escaped)."""
    return f"<td{_attrs(attrs)}>{content}</td>"


def site_table(_panel: WidgetPanel, view: View, env: Env, search: str) -> html.Div:
    """Every site, furthest above its PUE target first; a row opens the site page.

    Drawn on the server as one HTML table (:class:`StaticHtml`) rather than as components:
    the browser does work for every component of a page on every callback answer it gets
    (42 rows of nine components each made a picker change ~0.4 s slower), and the Markdown
    component this table was before parsed its HTML as JSX, 0.5 s of the browser's CPU for
    the 1,000 rows of a national network of that size.
    """
    frame = env.overview(view).sort_values("gap", ascending=False, na_position="last")
    keep = with_params(search, link=None, edge=None)
    rows = []
    for r in records(frame):
        href = f"/site/{r['site']}{keep}"
        link = f"<a{_attrs({'href': href})}>{escape(r['name'])}</a>"
        cells = [
            _cell(link, title=KIND_LABELS.get(r["kind"], r["kind"])),
            _cell(escape(r["hub"] if isinstance(r["hub"], str) and r["hub"] else "—")),
            _cell(num(r["pue"]), style=f"color: {STATUS_COLOURS[r['status']]}"),
            _cell(num(r["target_pue"], ".2f")),
            _cell(num(r["coverage"], ".0%")),
            _cell(num(r["it_power_w"] / 1e6, ".1f")),
            _cell(num(r["green_share"], ".0%")),
        ]
        row = _attrs({"class": "site-row", "data-site": r["site"]})
        rows.append(f"<tr{row}>{''.join(cells)}</tr>")
    head = "".join(
        f"<th>{h}</th>" for h in ("site", "hub", "PUE", "target", "coverage", "IT MW", "green")
    )
    markup = (
        f'<table class="grid-table site-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return html.Div(StaticHtml(markup), className="table-scroll")


def link_table(_panel: WidgetPanel, view: View, env: Env, search: str) -> html.Div:
    """Links in worst health first, each with a link to its history."""
    frame = env.link_health(view)
    order = {h: k for k, h in enumerate(HEALTH_COLOURS)}
    frame = frame.assign(rank=frame["health"].map(order)).sort_values(
        ["rank", "utilisation"], ascending=[True, False]
    )
    selected = view.param("link")
    rows = [
        html.Tr(
            [
                html.Td(dcc.Link(r["link"], href=f"/network{with_params(search, link=r['link'])}")),
                html.Td(r["health"], style={"color": HEALTH_COLOURS[r["health"]]}),
                html.Td(num(r["capacity_bps"] / 1e9, ".0f")),
                html.Td(num(r["utilisation"], ".1%")),
                html.Td(num(r["availability"], ".2%")),
                html.Td(num(r["latency_mean_s"] * 1000, ".1f")),
                html.Td(num(r["latency_max_s"] * 1000, ".1f")),
                html.Td(num(r["loss_mean"], ".2%")),
                html.Td(num(r["distance_km"], ".0f")),
            ],
            className="link-row" + (" selected" if r["link"] == selected else ""),
        )
        for r in records(frame)
    ]
    head = ("link", "health", "Gbit/s", "util.", "avail.", "lat. ms", "max ms", "loss", "km")
    return html.Div(table(head, rows, "link-table"), className="table-scroll")


def site_facts(_panel: WidgetPanel, view: View, env: Env, _search: str) -> html.Div:
    """Who the site is: kind, hub, region, province, capacity, PUE category, targets."""
    site = env.sites.get(view.site or "")
    if site is None:
        return html.Div("Choose a site.", className="muted")
    t = site.targets
    facts = [
        ("kind", KIND_LABELS.get(site.kind.value, site.kind.value)),
        ("hub", site.hub or "—"),
        ("region", site.region.value),
        ("province", site.province + (f", {site.city}" if site.city else "")),
        ("IT capacity", f"{site.it_capacity_kw / 1000:,.1f} MW"),
        ("PUE category", f"{site.pue_category} ({PUE_CATEGORY_METERS[site.pue_category]})"),
        ("PUE target", num(t.pue, ".2f")),
        ("green share target", num(t.green_energy_share, ".0%")),
        ("occupancy target", num(t.occupancy, ".0%")),
        ("location", f"{site.location.lat:.2f}° N, {site.location.lon:.2f}° E"),
    ]
    return html.Div(
        [html.Dl([c for k, v in facts for c in (html.Dt(k), html.Dd(v))], className="facts")]
        + ([html.Div(site.source, className="muted small")] if site.source else [])
    )


def site_links(_panel: WidgetPanel, view: View, env: Env, search: str) -> html.Div | html.Table:
    """The site's own links and their health over the period."""
    frame = env.link_health(view)
    mine = frame[(frame["a"] == view.site) | (frame["b"] == view.site)]
    if mine.empty:
        return html.Div("This site has no inter-centre links in the inventory.", className="muted")
    rows = []
    for r in records(mine):
        other = r["b"] if r["a"] == view.site else r["a"]
        rows.append(
            html.Tr(
                [
                    html.Td(site_link(other, other, search)),
                    html.Td(r["health"], style={"color": HEALTH_COLOURS[r["health"]]}),
                    html.Td(num(r["utilisation"], ".1%")),
                    html.Td(num(r["availability"], ".2%")),
                    html.Td(num(r["latency_mean_s"] * 1000, ".1f")),
                    html.Td(
                        dcc.Link(
                            "history",
                            href=f"/network{with_params(search, link=r['link'])}",
                        )
                    ),
                ]
            )
        )
    return table(("to", "health", "util.", "avail.", "lat. ms", ""), rows)


def device_table(_panel: WidgetPanel, view: View, env: Env, _search: str) -> html.Div:
    """Inventory devices of the site with their power over the period, and any device that
    reports power without being in the inventory."""
    site = env.sites.get(view.site or "")
    if site is None:
        return html.Div("Choose a site.", className="muted")
    power = device_power(env.store, site.id, view.start, view.end)
    known = {d.id: d for d in site.devices}
    measured = power.set_index("device") if not power.empty else pd.DataFrame()
    ids = list(known) + [d for d in measured.index if d not in known]
    if not ids:
        return html.Div(
            "No devices in the inventory and no device metrics for this site (collect them with "
            "the redfish, nvml or dcgm-exporter profiles).",
            className="muted",
        )
    rows = []
    for device in ids:
        spec = known.get(device)
        m = measured.loc[device] if device in measured.index else None
        kind = (
            spec.kind
            if spec
            else str(m["device_kind"])
            if m is not None and "device_kind" in m
            else "—"
        )
        rows.append(
            html.Tr(
                [
                    html.Td(device),
                    html.Td(kind),
                    html.Td(spec.hall if spec and spec.hall else "—"),
                    html.Td(num(spec.rated_power_w if spec else None, ",.0f")),
                    html.Td(num(m["mean"] if m is not None else None, ",.0f")),
                    html.Td(num(m["max"] if m is not None else None, ",.0f")),
                    html.Td(num(m["last"] if m is not None else None, ",.0f")),
                    html.Td(num(m["coverage"] if m is not None else None, ".0%")),
                ]
            )
        )
    head = ("device", "kind", "hall", "rated W", "mean W", "max W", "last W", "coverage")
    return html.Div(table(head, rows), className="table-scroll")

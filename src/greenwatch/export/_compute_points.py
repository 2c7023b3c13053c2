"""The computing-power points of a KPI snapshot, from :func:`greenwatch.query.compute_figures`.

At the snapshot's time: rated, available and verified computing power per site, hub, region and
the nation and class; per pool its verification state and the age of its latest record; per
site and device model the devices registered and, while the identify check finds a mismatch,
registered minus seen. Per window: delivered FLOPS, FLOPS per facility watt, facility energy
and CO2 per delivered PFLOP-hour. The pool and device series are what a Prometheus rule needs
to judge what greenwatch's ``compute`` alert rules judge (``greenwatch alerts export``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from greenwatch.export._catalogue import GRAMS_PER_KG
from greenwatch.export._points import KpiPoint, Labels
from greenwatch.inventory import Level, Site
from greenwatch.metrics import J_PER_KWH
from greenwatch.query import ComputeFigures

LEVELS = (Level.SITE, Level.HUB, Level.REGION, Level.NATIONAL)
STATES = ("ok", "stale", "failed", "never")
# (figure, column of ComputeFigures.efficiency, factor to the exported unit)
_EFFICIENCY = (
    ("compute_delivered", "delivered_flops", 1.0),
    ("compute_flops_per_watt", "flops_per_watt", 1.0),
    ("compute_energy_per_pflop_hour", "kwh_per_pflop_hour", J_PER_KWH),
    ("compute_carbon_per_pflop_hour", "kg_co2_per_pflop_hour", GRAMS_PER_KG),
)


def _where(site: Site) -> Labels:
    """``site``, ``hub`` (when it has one) and ``region`` labels of a site."""
    hub = (("hub", site.hub),) if site.hub else ()
    return (("site", site.id), *hub, ("region", site.region.value))


def _scope(level: Level, key: str, sites: Mapping[str, Site]) -> Labels | None:
    """Labels of a site, hub, region or the nation; None for what has no such group (a site
    outside the hubs at the hub level, a site the inventory does not know)."""
    if level is Level.NATIONAL:
        return (("scope", "national"),)
    if level is not Level.SITE:
        return (("scope", level.value), (level.value, key)) if key else None
    site = sites.get(key)
    return (("scope", "site"), *_where(site)) if site is not None else None


def _known(share: float) -> float:
    """A coverage: nan (nothing rated, nothing to cover) counts as none."""
    return share if math.isfinite(share) else 0.0


def power_points(figures: ComputeFigures, sites: Mapping[str, Site]) -> list[KpiPoint]:
    """Rated, available (coverage: identified share) and verified share per scope and class."""
    out: list[KpiPoint] = []
    for level in LEVELS:
        for row in figures.power(level).to_dict("records"):
            labels = _scope(level, str(row["key"]), sites)
            if labels is None:
                continue
            labels = (*labels, ("class", str(row["class"])))
            out += [
                KpiPoint("compute_rated", labels, float(row["rated_flops"])),
                KpiPoint(
                    "compute_available",
                    labels,
                    float(row["available_flops"]),
                    _known(float(row["identified_share"])),
                ),
                KpiPoint("compute_verified_share", labels, float(row["verified_share"])),
            ]
    return out


def efficiency_points(
    figures: ComputeFigures, window: str, sites: Mapping[str, Site]
) -> list[KpiPoint]:
    """Delivered FLOPS (with coverage), FLOPS per facility watt, J and g per PFLOP-hour."""
    out: list[KpiPoint] = []
    for level in LEVELS:
        for row in figures.efficiency(level).to_dict("records"):
            labels = _scope(level, str(row["key"]), sites)
            if labels is None:
                continue
            labels = (*labels, ("class", str(row["class"])), ("window", window))
            for figure, column, factor in _EFFICIENCY:
                coverage = _known(float(row["coverage"])) if figure == "compute_delivered" else None
                out.append(KpiPoint(figure, labels, float(row[column]) * factor, coverage))
    return out


def pool_points(figures: ComputeFigures, sites: Mapping[str, Site]) -> list[KpiPoint]:
    """Per pool in service: its verification state (one point per state, 1 or 0) and the age
    of its latest verification record (none when never verified)."""
    out: list[KpiPoint] = []
    status = figures.status
    for row in status[status["rated_flops"] > 0].to_dict("records"):  # in service
        site = sites.get(str(row["site"]))
        if site is None:
            continue
        labels = (
            *_where(site),
            ("pool", str(row["pool"])),
            ("class", str(row["class"])),
            ("model", str(row["model"])),
        )
        for state in STATES:
            value = 1.0 if row["verification"] == state else 0.0
            out.append(KpiPoint("compute_pool_verification", (*labels, ("state", state)), value))
        if pd.notna(row["verified_age_s"]):
            out.append(KpiPoint("compute_verification_age", labels, float(row["verified_age_s"])))
    return out


def device_points(figures: ComputeFigures, sites: Mapping[str, Site]) -> list[KpiPoint]:
    """Registered devices per site and model in service, and registered minus seen devices
    of each identify finding (missing, surplus or unregistered)."""
    status = figures.status
    live = status[status["rated_flops"] > 0]
    registered = live.groupby(["site", "model", "kind"], sort=True)["count"].sum().reset_index()
    found = figures.findings.assign(
        kind=figures.findings["device_kind"],
        count=figures.findings["registered"] - figures.findings["seen"],
    )
    out: list[KpiPoint] = []
    for figure, frame in (
        ("compute_devices_registered", registered),
        ("compute_devices_missing", found),
    ):
        for row in frame.to_dict("records"):
            site = sites.get(str(row["site"]))
            if site is not None:
                model = (("model", str(row["model"])), ("device_kind", str(row["kind"])))
                out.append(KpiPoint(figure, (*_where(site), *model), float(row["count"])))
    return out


def compute_points(
    figures: ComputeFigures, window: str, sites: Mapping[str, Site], *, latest: bool
) -> list[KpiPoint]:
    """The window's efficiency points, and with ``latest`` the points at the snapshot's time
    (the same for every window: they all end then)."""
    out = efficiency_points(figures, window, sites)
    if latest:
        out += power_points(figures, sites) + pool_points(figures, sites)
        out += device_points(figures, sites)
    return out

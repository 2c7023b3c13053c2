"""A small hand-built network and helpers shared by the simulator tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from greenwatch.inventory import Inventory, Link, Location, Site
from greenwatch.simulate import Simulator

JAN = pd.Timestamp("2025-01-13", tz="UTC")  # a Monday
JUL = pd.Timestamp("2025-07-14", tz="UTC")
CATEGORY_METER = {1: "it_ups_output", 2: "it_pdu_output", 3: "it_input"}


def make_site(
    sid: str, kind: str, region: str, lat: float, lon: float, kw: float, cat: int
) -> Site:
    return Site.model_validate(
        {
            "id": sid,
            "name": sid,
            "kind": kind,
            "region": region,
            "province": "Test",
            "location": Location(lat=lat, lon=lon),
            "it_capacity_kw": kw,
            "pue_category": cat,
        }
    )


def small_network() -> Inventory:
    """Five sites from cold-dry west to hot-humid south, three links of growing length."""
    sites = (
        make_site("horinger-1", "hub_cluster", "west", 40.4, 111.8, 60000, 2),
        make_site("guian-1", "hub_cluster", "west", 26.4, 106.3, 40000, 1),
        make_site("sc-guangzhou", "supercomputing", "east", 23.1, 113.4, 20000, 3),
        make_site("ai-shenzhen", "ai", "east", 22.6, 113.9, 15000, 3),
        make_site("sc-wenchang", "supercomputing", "east", 19.5, 110.8, 6000, 2),
    )
    links = (
        Link(id="sc-guangzhou--ai-shenzhen", a="sc-guangzhou", b="ai-shenzhen", capacity_bps=4e11),
        Link(id="horinger-1--guian-1", a="horinger-1", b="guian-1", capacity_bps=4e11),
        Link(id="horinger-1--sc-guangzhou", a="horinger-1", b="sc-guangzhou", capacity_bps=2e11),
    )
    return Inventory(sites=sites, links=links)


def simulator(inv: Inventory, start: pd.Timestamp = JAN, **kw: object) -> Simulator:
    return Simulator(inv, start=start, **kw)  # type: ignore[arg-type]


def select(batch: pd.DataFrame, metric: str, **labels: str) -> pd.DataFrame:
    mask = batch["metric"] == metric
    for name, value in labels.items():
        mask &= batch[name] == value
    return batch.loc[mask]


def series(batch: pd.DataFrame, metric: str, **labels: str) -> pd.Series:
    rows = select(batch, metric, **labels)
    return pd.Series(rows["value"].to_numpy(), index=pd.DatetimeIndex(rows["ts"]))


def increase(counter: pd.Series) -> float:
    """Reset-aware increase of a counter (a drop counts the new value as the increase)."""
    v = counter.to_numpy()
    d = np.diff(v)
    return float(np.where(d < 0, v[1:], d).sum())


def pue(batch: pd.DataFrame, site: Site) -> float:
    facility = increase(series(batch, "energy_joules_total", site=site.id, meter="facility"))
    meter = CATEGORY_METER[site.pue_category]
    it = increase(series(batch, "energy_joules_total", site=site.id, meter=meter))
    return facility / it

"""Inter-centre links as the network page draws them: health over a period, history per step.

Figures come from whole-range or per-step aggregates the store computes (counter increases,
time integrals, means and maxima), never from a month of raw probe samples. Utilisation is
that of the busier direction (as :func:`greenwatch.metrics.link_summary`): bytes x 8 over
the covered seconds, divided by the link's capacity; availability is the time integral of
``link_up`` over the covered seconds (the worse interface).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from greenwatch.dashboard._data import records
from greenwatch.inventory import Inventory, Link
from greenwatch.store import Store

TRAFFIC = ("link_transmit_bytes_total", "link_receive_bytes_total")
HEALTH_COLOURS = {
    "down": "#d64545",
    "degraded": "#e07b00",
    "busy": "#e0a100",
    "ok": "#2e9d5b",
    "no data": "#8a8f98",
}
BUSY = 0.8
DEGRADED_AVAILABILITY = 0.999
DEGRADED_LOSS = 0.01


def _per_link(frame: pd.DataFrame, column: str, how: str) -> pd.Series:
    if frame.empty or "link" not in frame.columns:
        return pd.Series(dtype="float64")
    return frame.groupby("link")[column].agg(how)


def _traffic(
    store: Store, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta | None
) -> pd.DataFrame:
    """Bits per second of the busier direction per link (and step), with its coverage."""
    parts = []
    for metric in TRAFFIC:
        frame = store.query(metric, start, end, step=step, agg=["increase", "coverage"])
        if frame.empty:
            continue
        width = (step or (end - start)).total_seconds()
        covered = frame["coverage"] * width
        parts.append(frame.assign(bps=frame["increase"] * 8.0 / covered.where(covered > 0)))
    if not parts:
        return pd.DataFrame(columns=["ts", "link", "bps", "coverage"])
    both = pd.concat(parts, ignore_index=True)
    return (
        both.groupby(["ts", "link"], sort=True)
        .agg(bps=("bps", "max"), coverage=("coverage", "min"))
        .reset_index()
    )


def link_health(
    store: Store, inventory: Inventory, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """One row per inventory link over ``[start, end)``.

    Columns: link, a, b, capacity_bps, distance_km, bps, utilisation (0-1), traffic_coverage,
    availability (0-1), up_now (last ``link_up``, 1/0), latency_mean_s, latency_max_s,
    loss_mean, loss_max, health (down, degraded, busy, ok, no data).
    """
    seconds = (end - start).total_seconds()
    traffic = _traffic(store, start, end, None).set_index("link")
    up = store.query("link_up", start, end, agg=["integral", "coverage", "last"])
    if not up.empty:
        covered = up["coverage"] * seconds
        up = up.assign(availability=up["integral"] / covered.where(covered > 0))
    latency = store.query("link_latency_seconds", start, end, agg=["mean", "max"])
    loss = store.query("link_loss_ratio", start, end, agg=["mean", "max"])
    rows = []
    for link in inventory.links:
        rows.append({"link": link.id, "a": link.a, "b": link.b, "capacity_bps": link.capacity_bps})
    frame = pd.DataFrame(rows)
    distance = {lk.id: lk.distance_km for lk in inventory.links}
    frame["distance_km"] = frame["link"].map(distance)
    index = frame["link"]
    frame["bps"] = index.map(traffic["bps"]) if len(traffic) else math.nan
    frame["traffic_coverage"] = index.map(traffic["coverage"]).fillna(0.0) if len(traffic) else 0.0
    frame["utilisation"] = frame["bps"] / frame["capacity_bps"]
    frame["availability"] = index.map(_per_link(up, "availability", "min"))
    frame["up_now"] = index.map(_per_link(up, "last", "min"))
    frame["latency_mean_s"] = index.map(_per_link(latency, "mean", "mean"))
    frame["latency_max_s"] = index.map(_per_link(latency, "max", "max"))
    frame["loss_mean"] = index.map(_per_link(loss, "mean", "mean"))
    frame["loss_max"] = index.map(_per_link(loss, "max", "max"))
    frame["health"] = [_health(r) for r in records(frame)]
    return frame


def _health(row: dict[str, float]) -> str:
    if not row["traffic_coverage"] > 0 and not math.isfinite(row["availability"]):
        return "no data"
    if row["up_now"] == 0:
        return "down"
    if row["availability"] < DEGRADED_AVAILABILITY or row["loss_mean"] > DEGRADED_LOSS:
        return "degraded"
    if row["utilisation"] > BUSY:
        return "busy"
    return "ok"


def link_history(
    store: Store, link: Link, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta
) -> pd.DataFrame:
    """Per step of one link: ts, utilisation (busier direction), availability, latency mean and
    max (s), loss mean."""
    labels = {"link": link.id}
    parts = []
    for metric in TRAFFIC:
        frame = store.query(
            metric, start, end, labels=labels, step=step, agg=["increase", "coverage"]
        )
        covered = frame["coverage"] * step.total_seconds()
        parts.append(frame.assign(bps=frame["increase"] * 8.0 / covered.where(covered > 0)))
    traffic = pd.concat(parts).groupby("ts")["bps"].max() if parts else pd.Series(dtype="float64")
    up = store.query("link_up", start, end, labels=labels, step=step, agg=["integral", "coverage"])
    up_covered = up["coverage"] * step.total_seconds()
    availability = (up["integral"] / up_covered.where(up_covered > 0)).groupby(up["ts"]).min()
    latency = store.query(
        "link_latency_seconds", start, end, labels=labels, step=step, agg=["mean", "max"]
    )
    loss = store.query("link_loss_ratio", start, end, labels=labels, step=step, agg="mean")
    out = pd.DataFrame(
        {
            "utilisation": traffic / link.capacity_bps,
            "availability": availability,
            "latency_mean_s": latency.groupby("ts")["mean"].mean(),
            "latency_max_s": latency.groupby("ts")["max"].max(),
            "loss_mean": loss.groupby("ts")["value"].mean(),
        }
    )
    out.index.name = "ts"
    return out.reset_index()


def graph_layout(inventory: Inventory, iterations: int = 300) -> dict[str, tuple[float, float]]:
    """Positions of sites for the link graph: a force-directed (Fruchterman-Reingold) layout.

    Deterministic: it starts from each site's longitude and latitude, so the drawing keeps a
    rough west-east and north-south sense while spreading clusters of nearby sites apart.
    """
    ids = [s.id for s in inventory.sites]
    index = {sid: i for i, sid in enumerate(ids)}
    pos = np.array([[s.location.lon, s.location.lat] for s in inventory.sites], dtype=float)
    pos = (pos - pos.mean(axis=0)) / (pos.std(axis=0) + 1e-9)
    edges = np.array([[index[lk.a], index[lk.b]] for lk in inventory.links], dtype=int).reshape(
        -1, 2
    )
    n = len(ids)
    k = 1.8 * math.sqrt(4.0 / max(n, 1))  # ideal edge length: room for the labels
    temperature = 0.3
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.sqrt((delta**2).sum(axis=-1)) + 1e-6
        force = (k * k / dist**2)[:, :, None] * delta
        move = force.sum(axis=1)
        if len(edges):
            d = pos[edges[:, 0]] - pos[edges[:, 1]]
            length = np.sqrt((d**2).sum(axis=1))[:, None] + 1e-6
            pull = d * length / k
            np.add.at(move, edges[:, 0], -pull)
            np.add.at(move, edges[:, 1], pull)
        # Weak gravity to the centre keeps sites without links from drifting away.
        move -= 0.1 * pos
        size = np.sqrt((move**2).sum(axis=1))[:, None] + 1e-9
        pos += move / size * np.minimum(size, temperature)
        temperature *= 0.985
    return {sid: (float(pos[i, 0]), float(pos[i, 1])) for sid, i in index.items()}

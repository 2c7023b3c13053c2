"""Inter-centre link KPIs: utilisation from byte counters, availability, latency and loss.

Inputs are canonical metrics (DESIGN.md): ``link_transmit_bytes_total`` /
``link_receive_bytes_total`` (counters, bytes), ``link_up`` (gauge, 1 up / 0 down),
``link_latency_seconds`` and ``link_loss_ratio`` (probe results). A long batch has columns
``ts``, ``metric``, ``value``, ``link`` and optionally ``interface``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from greenwatch.metrics._energy import energy_per_bucket, interval_increase
from greenwatch.metrics._series import stamp, window_bounds
from greenwatch.metrics._utilisation import TimeWeighted, time_weighted_mean

TRAFFIC_METRICS = ("link_transmit_bytes_total", "link_receive_bytes_total")
PERCENTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class LinkTraffic:
    """Mean rate over the covered part of a period: bytes, bit/s and utilisation (0-1)."""

    bytes: float
    covered_s: float
    bits_per_second: float
    utilisation: float
    coverage: float


def link_utilisation(
    counter: pd.DataFrame,
    *,
    capacity_bps: float,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    max_gap: pd.Timedelta | str,
    wrap_at: float | None = None,
) -> LinkTraffic:
    """Utilisation = delta-bytes x 8 / (delta-t x capacity) over ``[start, end)``.

    ``counter`` is a byte counter (reset- and wrap-aware, same pair definition as
    :func:`interval_energy`; pass ``wrap_at=2**64`` or ``2**32`` for SNMP octet counters);
    only pairs no longer than ``max_gap`` count, over the seconds they cover, so a gap neither
    inflates nor dilutes the rate. ``capacity_bps`` in bit/s.
    """
    if not capacity_bps > 0:
        raise ValueError(f"capacity_bps must be positive, got {capacity_bps}")
    total = interval_increase(counter, start=start, end=end, max_gap=max_gap, wrap_at=wrap_at)
    covered_bytes = total.value - total.uncovered_increase
    bps = covered_bytes * 8.0 / total.covered_s if total.covered_s else math.nan
    return LinkTraffic(covered_bytes, total.covered_s, bps, bps / capacity_bps, total.coverage)


def link_utilisation_per_bucket(
    counter: pd.DataFrame,
    *,
    capacity_bps: float,
    bucket: pd.Timedelta | str,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    max_gap: pd.Timedelta | str,
    wrap_at: float | None = None,
) -> pd.DataFrame:
    """:func:`link_utilisation` per bucket: columns bucket, bucket_end, bytes, covered_s,
    bits_per_second, utilisation (0-1), coverage."""
    if not capacity_bps > 0:
        raise ValueError(f"capacity_bps must be positive, got {capacity_bps}")
    per = energy_per_bucket(
        counter, bucket=bucket, start=start, end=end, max_gap=max_gap, wrap_at=wrap_at
    )
    covered_bytes = per["value"] - per["uncovered_increase"]
    bps = (covered_bytes * 8.0 / per["covered_s"]).where(per["covered_s"] > 0)
    return pd.DataFrame(
        {
            "bucket": per["bucket"],
            "bucket_end": per["bucket_end"],
            "bytes": covered_bytes,
            "covered_s": per["covered_s"],
            "bits_per_second": bps,
            "utilisation": bps / capacity_bps,
            "coverage": per["coverage"],
        }
    )


def link_availability(
    link_up: pd.DataFrame,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    max_gap: pd.Timedelta | str,
) -> TimeWeighted:
    """Availability = time-weighted share of ``link_up == 1`` over the covered part of the period.

    Each state holds until the next sample (no interpolation between 0 and 1); ``mean`` is the
    availability (0-1), ``coverage`` the share of the period with state known.
    """
    return time_weighted_mean(
        link_up, start=start, end=end, max_gap=max_gap, interpolation="previous"
    )


def percentiles(
    samples: pd.DataFrame,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    q: Sequence[float] = PERCENTILES,
) -> dict[str, float]:
    """Percentiles (``p50``, ``p95``, ``p99`` by default) of probe values in ``[start, end)``.

    Each probe result is one observation (not time-weighted); linear interpolation between
    order statistics (numpy's default); ``nan`` when no sample falls in the window.
    """
    lo, hi = window_bounds(start, end)
    ts = pd.DatetimeIndex(samples["ts"]).tz_convert("UTC").as_unit("ns").asi8
    values = np.asarray(samples["value"], dtype=np.float64)
    inside = values[(ts >= lo) & (ts < hi) & np.isfinite(values)]
    names = [f"p{round(x * 100):d}" for x in q]
    if not inside.size:
        return dict.fromkeys(names, math.nan)
    found = np.quantile(inside, list(q))
    return {name: float(v) for name, v in zip(names, found, strict=True)}


def _series_of(samples: pd.DataFrame, metric: str) -> list[pd.DataFrame]:
    """One frame per interface (or one for the link) of ``metric``."""
    rows = samples[samples["metric"] == metric]
    if "interface" not in rows.columns:
        return [rows] if len(rows) else []
    return [g for _, g in rows.groupby(rows["interface"].fillna(""), sort=True)]


LINK_COLUMNS = (
    "link",
    "a",
    "b",
    "capacity_bps",
    "bits_per_second",
    "utilisation",
    "traffic_coverage",
    "availability",
    "availability_coverage",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "loss_p50",
    "loss_p95",
    "loss_p99",
    "busy_bits",
    "traffic_covered_s",
    "up_s",
    "state_covered_s",
)


def _one_link(
    samples: pd.DataFrame,
    capacity: float,
    lo: pd.Timestamp,
    hi: pd.Timestamp,
    max_gap: pd.Timedelta | str,
    wrap_at: float | None,
) -> dict[str, float]:
    traffic = [
        link_utilisation(
            s, capacity_bps=capacity, start=lo, end=hi, max_gap=max_gap, wrap_at=wrap_at
        )
        for metric in TRAFFIC_METRICS
        for s in _series_of(samples, metric)
    ]
    # A full-duplex link is as busy as its busier direction (and interface).
    measured = [t for t in traffic if t.covered_s > 0]
    busiest = max(measured, key=lambda t: t.bits_per_second) if measured else None
    states = [
        link_availability(s, start=lo, end=hi, max_gap=max_gap)
        for s in _series_of(samples, "link_up")
    ]
    # Interfaces at both ends may report link_up; the link is only as available as the worse.
    known = [s for s in states if s.covered_s > 0]
    worst = min(known, key=lambda s: s.mean) if known else None
    lat = percentiles(samples[samples["metric"] == "link_latency_seconds"], start=lo, end=hi)
    loss = percentiles(samples[samples["metric"] == "link_loss_ratio"], start=lo, end=hi)
    return {
        "capacity_bps": capacity,
        "bits_per_second": busiest.bits_per_second if busiest else math.nan,
        "utilisation": busiest.utilisation if busiest else math.nan,
        "traffic_coverage": min((t.coverage for t in traffic), default=0.0),
        "availability": worst.mean if worst else math.nan,
        "availability_coverage": min((s.coverage for s in states), default=0.0),
        **{f"latency_{k}_s": v for k, v in lat.items()},
        **{f"loss_{k}": v for k, v in loss.items()},
        "busy_bits": busiest.bytes * 8.0 if busiest else 0.0,
        "traffic_covered_s": busiest.covered_s if busiest else 0.0,
        "up_s": worst.mean * worst.covered_s if worst else 0.0,
        "state_covered_s": worst.covered_s if worst else 0.0,
    }


def _check_links(links: pd.DataFrame) -> None:
    missing = {"link", "a", "b", "capacity_bps"} - set(links.columns)
    if missing:
        raise ValueError(f"links table lacks columns {sorted(missing)}")


def link_summary(
    samples: pd.DataFrame,
    links: pd.DataFrame,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    max_gap: pd.Timedelta | str,
    wrap_at: float | None = None,
) -> pd.DataFrame:
    """Per link over ``[start, end)``: utilisation, availability, latency and loss percentiles.

    ``links`` has columns link, a, b, capacity_bps (bit/s). Utilisation is that of the busier
    direction/interface (0-1, bit/s in ``bits_per_second``); availability the worst interface's
    share of time up; ``latency_p*_s`` in seconds, ``loss_p*`` ratios 0-1. ``busy_bits``,
    ``traffic_covered_s``, ``up_s`` and ``state_covered_s`` are the totals that
    :func:`site_link_summary` sums.
    """
    _check_links(links)
    lo, hi = (stamp(x) for x in window_bounds(start, end))
    rows = []
    for link, a, b, capacity in zip(
        links["link"], links["a"], links["b"], links["capacity_bps"].astype(float), strict=True
    ):
        mine = samples[samples["link"] == link] if len(samples) else samples
        figures = _one_link(mine, float(capacity), lo, hi, max_gap, wrap_at)
        rows.append({"link": link, "a": a, "b": b, **figures})
    return pd.DataFrame(rows, columns=list(LINK_COLUMNS))


def site_link_summary(
    samples: pd.DataFrame,
    links: pd.DataFrame,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    max_gap: pd.Timedelta | str,
    wrap_at: float | None = None,
) -> pd.DataFrame:
    """Per site (an end of at least one link): its links' KPIs aggregated over ``[start, end)``.

    utilisation = sum of busy bits / sum of (capacity x covered seconds) (never a mean of link
    ratios); availability = sum of up seconds / sum of covered seconds; latency and loss
    percentiles over the pooled probe samples of the site's links.
    """
    per_link = link_summary(samples, links, start=start, end=end, max_gap=max_gap, wrap_at=wrap_at)
    ends = pd.concat(
        [per_link.assign(site=per_link["a"]), per_link.assign(site=per_link["b"])],
        ignore_index=True,
    )
    rows = []
    for site, mine in ends.groupby("site", sort=True):
        capacity_s = float((mine["capacity_bps"] * mine["traffic_covered_s"]).sum())
        covered = float(mine["state_covered_s"].sum())
        probes = samples[samples["link"].isin(mine["link"])] if len(samples) else samples
        lat = percentiles(probes[probes["metric"] == "link_latency_seconds"], start=start, end=end)
        loss = percentiles(probes[probes["metric"] == "link_loss_ratio"], start=start, end=end)
        rows.append(
            {
                "site": site,
                "links": len(mine),
                "utilisation": mine["busy_bits"].sum() / capacity_s if capacity_s else math.nan,
                "availability": mine["up_s"].sum() / covered if covered else math.nan,
                **{f"latency_{k}_s": v for k, v in lat.items()},
                **{f"loss_{k}": v for k, v in loss.items()},
            }
        )
    return pd.DataFrame(rows)

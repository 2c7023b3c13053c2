"""``GET /metrics/samples``: the latest sample of every canonical series, for rules over them.

The rules ``greenwatch alerts export`` writes query canonical device series (``power_watts``,
``collector_up``, ``link_up``, ``temperature_celsius``, …). Where Prometheus or VictoriaMetrics
scrapes greenwatch rather than the devices, they come from this page: the latest sample of each
series stored in the last ``span`` (default an hour), under its canonical name and labels and
with its own timestamp, so a scraper that honours labels and timestamps (``honor_labels``,
``honor_timestamps``) stores what greenwatch stored. A series that stopped reporting keeps its
last sample and time for the span, then drops off the page: the exported ``absent`` rules
(SiteDown, MeterSilent, NoDataArriving) see the silence from the timestamps, however often the
page is scraped.

The page also holds ``greenwatch_site_info{site, region, kind[, hub]} 1`` per inventory site
(``hub`` only for sites with one): the exported rules join it on ``site``, so the alerts
Prometheus or vmalert send carry the labels greenwatch's engine adds from its inventory.

The page is refreshed by the KPI snapshot job; a scrape computes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pandas as pd
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from greenwatch.inventory import Site
from greenwatch.model import REGISTRY
from greenwatch.store import Store

SPAN = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class LatestSamples:
    """Per canonical metric, the latest sample of each series: columns ts, value, labels."""

    taken_at: pd.Timestamp
    frames: dict[str, pd.DataFrame]


def latest_samples(store: Store, now: pd.Timestamp, span: pd.Timedelta = SPAN) -> LatestSamples:
    """The latest sample of every canonical series with a sample in ``[now - span, now)``,
    in time order. Asked of the store where it can answer it (``DuckDBStore.latest``: an hour
    of a large network is millions of samples, refreshed every minute), else picked from the
    raw samples."""
    frames = {}
    reader = getattr(store, "latest", None)
    for name in REGISTRY:
        if callable(reader):
            last = reader(name, now - span, now)
        else:
            last = _last_of(store.query(name, now - span, now))
        if not last.empty:
            frames[name] = last
    return LatestSamples(now, frames)


def _last_of(raw: pd.DataFrame) -> pd.DataFrame:
    labels = [c for c in raw.columns if c not in ("ts", "value", "metric")]
    ordered = raw.sort_values("ts", kind="stable")
    # by the label columns, hashed per column (a missing label is a value); no per-row Python
    return ordered.groupby(labels, dropna=False, sort=False).tail(1) if labels else ordered[-1:]


class SamplesCollector(Collector):
    """The latest samples as gauge and counter families, each sample with its timestamp."""

    def __init__(self, latest: Callable[[], LatestSamples | None], sites: Iterable[Site]) -> None:
        self._latest = latest
        self._sites = tuple(sites)

    def collect(self) -> Iterator[Metric]:
        yield site_info(self._sites)
        latest = self._latest()
        if latest is None:
            return
        for name, frame in latest.frames.items():
            spec = REGISTRY[name]
            labels = [c for c in frame.columns if c not in ("ts", "value", "metric")]
            family: GaugeMetricFamily | CounterMetricFamily = (
                CounterMetricFamily(name, spec.help, labels=labels)
                if spec.is_counter
                else GaugeMetricFamily(name, spec.help, labels=labels)
            )
            for row in frame.to_dict("records"):
                value = float(row["value"])
                if math.isfinite(value):
                    family.add_metric(
                        [_text(row[c]) for c in labels],
                        value,
                        timestamp=pd.Timestamp(row["ts"]).timestamp(),
                    )
            yield family


def site_info(sites: Iterable[Site]) -> GaugeMetricFamily:
    """``greenwatch_site_info``: the inventory labels greenwatch's alerts carry, per site."""
    family = GaugeMetricFamily(
        "greenwatch_site_info", "Inventory labels of a site (hub only where it has one)"
    )
    for site in sites:
        labels = {"site": site.id, "region": site.region.value, "kind": site.kind.value}
        if site.hub:
            labels["hub"] = site.hub
        family.samples.append(Sample("greenwatch_site_info", labels, 1.0))
    return family


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def samples_registry(
    latest: Callable[[], LatestSamples | None], sites: Iterable[Site]
) -> CollectorRegistry:
    """A dedicated registry for ``/metrics/samples`` (no process or runtime metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SamplesCollector(latest, sites))
    return registry

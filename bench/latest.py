"""How long the minute's refresh of ``/metrics/samples`` takes on an hour of a large network.

An in-memory DuckDB store holds ``--series`` device power series with a sample every
``--every`` seconds for an hour; :func:`greenwatch.export._samples.latest_samples` picks the
last sample of each. Measured: the store's own answer (``DuckDBStore.latest``, one aggregate)
against the peer in the same run, the generic path any store takes (the hour's raw samples,
then the last row per label combination in pandas). Median of ``--repeat`` runs each.

Usage: python bench/latest.py [--series 10000] [--every 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from _results import result
from greenwatch.export._samples import latest_samples
from greenwatch.model import make_batch
from greenwatch.store import DuckDBStore

NOW = pd.Timestamp("2026-03-02T11:00:00Z")


class QueryOnly:
    """The store seen through the store protocol alone (no ``latest``)."""

    def __init__(self, store: DuckDBStore) -> None:
        self.write, self.query, self.series = store.write, store.query, store.series
        self.close = store.close


def _median_s(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=10, help="seconds between samples")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    store = DuckDBStore()
    devices = np.array([f"soak-{i:05d}" for i in range(args.series)])
    sites = np.array([f"site-{i % 42:02d}" for i in range(args.series)])
    for second in range(0, 3600, args.every):
        ts = NOW - pd.Timedelta(hours=1) + pd.Timedelta(seconds=second)
        labels = {"site": sites, "device": devices, "device_kind": "gpu"}
        store.write(make_batch(ts, "device_power_watts", np.full(args.series, 700.0), labels))
    samples = args.series * 3600 // args.every
    own = _median_s(lambda: latest_samples(store, NOW), args.repeat)
    generic = _median_s(lambda: latest_samples(QueryOnly(store), NOW), args.repeat)
    print(
        f"latest samples of {args.series:,} series over an hour ({samples:,} samples): "
        f"store aggregate {own * 1000:.0f} ms, raw samples + pandas {generic * 1000:.0f} ms"
    )
    result("latest samples refresh", own, "s", "raw samples + pandas", generic)
    store.close()


if __name__ == "__main__":
    main()

"""Backfill benchmark: the whole 30-day national network at 1-minute resolution.

Prints samples/s for generation + idempotent write + roll-up maintenance into a fresh DuckDB
store (target: under 30 s on a 2-core machine), then the cost of re-running it (every sample
already stored). Usage: python bench/backfill.py [--days N]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

from _results import result
from greenwatch.inventory import load_inventory
from greenwatch.service import backfill
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    inventory = load_inventory()
    start = pd.Timestamp("2026-10-01T00:00:00Z")
    end = start + pd.Timedelta(days=args.days)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        store = DuckDBStore(path)
        sim = Simulator(inventory, seed=0, start=start)
        t0 = time.perf_counter()
        generated, stored = backfill(sim, store.write, end)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        again, stored_again = backfill(Simulator(inventory, seed=0, start=start), store.write, end)
        second = time.perf_counter() - t0
        store.close()
        size = path.stat().st_size
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(
        f"backfill {args.days} days, {len(inventory.sites)} sites, {len(inventory.links)} links, "
        f"{sim.series_count()} series: {generated:,} samples in {first:.1f} s = "
        f"{generated / first:,.0f} samples/s (stored {stored:,}; "
        f"store file {size / 2**20:,.0f} MiB)"
    )
    print(
        f"re-run (idempotent): {again:,} samples in {second:.1f} s = {again / second:,.0f} "
        f"samples/s, newly stored {stored_again:,}"
    )
    result(f"backfill {args.days} d national", generated / first, "samples/s")


if __name__ == "__main__":
    main()

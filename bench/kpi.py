"""KPI benchmark: 30-day national hourly PUE and the per-site 30-day PUE/carbon table.

Both answered by greenwatch from the embedded store and by VictoriaMetrics with PromQL
``increase()`` over the same energy counters, loaded in the same run. greenwatch's store is
built as ``greenwatch demo`` builds it: backfilled, then each site's hourly PUE inputs kept
(greenwatch.query.keep_hourly_pue); the hourly trend reads those, the per-site table the hourly
roll-ups. Cold = the first query on a freshly opened store / freshly started server; warm =
repeated. Prints milliseconds and ratios. Usage: python bench/kpi.py [--days 30] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd

from _peers import START, demo_store, victoriametrics
from _results import result
from greenwatch.inventory import load_inventory
from greenwatch.metrics import PUE_CATEGORY_METERS
from greenwatch.query import pue_trend, site_totals
from greenwatch.store import DuckDBStore, Store

HOUR = pd.Timedelta(hours=1)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(first call ms, median of the next ``repeat`` calls ms, result)."""
    t0 = time.perf_counter()
    result = fn()
    cold = (time.perf_counter() - t0) * 1e3
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        warm.append((time.perf_counter() - t0) * 1e3)
    return cold, statistics.median(warm), result


Loaded = tuple[tuple[str, str, dict[str, str | list[str]]], ...]
# (metric, its label besides site, a label filter): what the KPI queries read.
COUNTERS: Loaded = (
    ("energy_joules_total", "meter", {}),
    ("green_energy_joules_total", "instrument", {}),
)


def load_into_vm(
    url: str, store: Store, start: pd.Timestamp, end: pd.Timestamp, series: Loaded = COUNTERS
) -> int:
    """Copy ``series`` (default: the energy counters) into VictoriaMetrics through its CSV
    import, a day at a time."""
    loaded = 0
    for metric, label, labels in series:
        day = start
        while day < end:
            raw = store.query(metric, day, day + pd.Timedelta(days=1), labels=labels)
            body = pd.DataFrame(
                {
                    "t": raw["ts"].astype("int64") // 1_000_000,
                    "site": raw["site"],
                    label: raw[label],
                    "v": raw["value"],
                }
            ).to_csv(index=False, header=False)
            fmt = f"1:time:unix_ms,2:label:site,3:label:{label},4:metric:{metric}"
            httpx.post(
                f"{url}/api/v1/import/csv", params={"format": fmt}, content=body, timeout=120
            ).raise_for_status()
            loaded += len(raw)
            day += pd.Timedelta(days=1)
    httpx.get(f"{url}/internal/force_flush", timeout=60)
    return loaded


def it_promql(it_meters: dict[str, str], window: str, by: str = "") -> str:
    parts = []
    for meter in sorted(set(it_meters.values())):
        sites = "|".join(sorted(s for s, m in it_meters.items() if m == meter))
        parts.append(
            f'sum{by}(increase(energy_joules_total{{meter="{meter}",site=~"{sites}"}}[{window}]))'
        )
    return " + ".join(parts) if not by else " or ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    inventory = load_inventory()
    it_meters = {s.id: PUE_CATEGORY_METERS[s.pue_category] for s in inventory.sites}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kpi.duckdb"
        t0 = time.perf_counter()
        store, end = demo_store(path, inventory, args.days)
        print(f"built {args.days}-day national store in {time.perf_counter() - t0:.1f} s")
        start = START
        with victoriametrics(Path(tmp) / "vm") as vm:
            t0 = time.perf_counter()
            n = load_into_vm(vm, store, start, end)
        # Restarted, so "cold" means what it says: a fresh process over data on disk.
        with victoriametrics(Path(tmp) / "vm") as vm:
            print(
                f"loaded {n:,} counter samples into VictoriaMetrics "
                f"in {time.perf_counter() - t0:.1f} s"
            )
            store.close()
            fresh = DuckDBStore(path)
            rows = []
            c, w, trend = timed(
                lambda: pue_trend(fresh, inventory.sites, start, end, HOUR), args.repeat
            )
            rows.append(("national hourly PUE, 30 d", "greenwatch", c, w))
            c, w, _ = timed(lambda: site_totals(fresh, inventory, start, end), args.repeat)
            rows.append(("per-site 30-d PUE/carbon table", "greenwatch", c, w))

            facility = 'sum(increase(energy_joules_total{meter="facility"}[1h]))'
            hourly = f"{facility} / ({it_promql(it_meters, '1h')})"
            params = {
                "query": hourly,
                "start": (start + HOUR).timestamp(),
                "end": end.timestamp(),
                "step": "1h",
            }

            def vm_hourly() -> object:
                return httpx.get(f"{vm}/api/v1/query_range", params=params, timeout=120).json()

            days = f"{args.days}d"
            table = [
                f'sum by (site)(increase(energy_joules_total{{meter="facility"}}[{days}]))',
                it_promql(it_meters, days, " by (site)"),
                f"sum by (site)(increase(green_energy_joules_total[{days}]))",
            ]

            def vm_table() -> object:
                return [
                    httpx.get(
                        f"{vm}/api/v1/query",
                        params={"query": q, "time": end.timestamp()},
                        timeout=120,
                    ).json()
                    for q in table
                ]

            c, w, vm_pue = timed(vm_hourly, args.repeat)
            rows.append(("national hourly PUE, 30 d", "VictoriaMetrics", c, w))
            c_nc, w_nc, _ = timed(
                lambda: httpx.get(
                    f"{vm}/api/v1/query_range", params={**params, "nocache": "1"}, timeout=120
                ),
                args.repeat,
            )
            rows.append(("national hourly PUE, 30 d (nocache=1)", "VictoriaMetrics", c_nc, w_nc))
            c, w, _ = timed(vm_table, args.repeat)
            rows.append(("per-site 30-d PUE/carbon table", "VictoriaMetrics", c, w))
            fresh.close()
    print(f"{'query':42} {'engine':16} {'cold ms':>9} {'warm ms':>9}")
    for name, engine, cold, warm in rows:
        print(f"{name:42} {engine:16} {cold:9.1f} {warm:9.1f}")
    vm = "VictoriaMetrics"
    result(f"{args.days}-d national hourly PUE, cold", rows[0][2], "ms", vm, rows[2][2])
    result(f"{args.days}-d national hourly PUE, warm", rows[0][3], "ms", vm, rows[2][3])
    result(f"{args.days}-d per-site PUE table, warm", rows[1][3], "ms", vm, rows[4][3])
    vm_values = [float(v) for _, v in vm_pue["data"]["result"][0]["values"]]  # type: ignore[index]
    print(
        f"ratio VictoriaMetrics/greenwatch, hourly PUE cold: {rows[2][2] / rows[0][2]:.1f}x, "
        f"warm: {rows[2][3] / rows[0][3]:.1f}x; "
        f"per-site table cold: {rows[4][2] / rows[1][2]:.1f}x, "
        f"warm: {rows[4][3] / rows[1][3]:.1f}x"
    )
    gw_values = trend["pue"].to_numpy()  # type: ignore[index]
    print(
        f"national PUE over the period: greenwatch hourly mean {gw_values.mean():.4f}, "
        f"VictoriaMetrics hourly mean {sum(vm_values) / len(vm_values):.4f} "
        f"({len(gw_values)} / {len(vm_values)} hours)"
    )


if __name__ == "__main__":
    main()

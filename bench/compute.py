"""Computing-power benchmark: the 30-day national computing figures, and registrations per second.

greenwatch computes every computing figure of the national network over 30 days (rated and
available FLOPS per class, identify findings, hourly delivered computing, facility energy and
CO2 per pool, free FLOPS) from the embedded store. The peer is VictoriaMetrics answering, on the
same data loaded in the same run, only the reads those figures need (hourly mean CPU/GPU
utilisation per site, 30-day facility energy per site, the latest device counts) — greenwatch's
time includes the arithmetic, the peer's does not. Then 8 threads register pools through the
HTTP API of a running service (SQLite registry, every registration a new version).

Usage: python bench/compute.py [--days 30] [--repeat 5] [--registrations 400]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pandas as pd

from _peers import START, demo_store, victoriametrics
from _results import result
from greenwatch.inventory import load_inventory
from greenwatch.query import compute_figures
from greenwatch.service import Service
from greenwatch.service._tokens import TokenStore
from greenwatch.store import DuckDBStore
from kpi import Loaded, load_into_vm, timed

HOUR = pd.Timedelta(hours=1)
LOADED: Loaded = (
    ("utilisation_ratio", "resource", {"resource": ["cpu", "gpu"]}),
    ("energy_joules_total", "meter", {"meter": "facility"}),
    ("compute_devices", "model", {}),
)


def registrations(total: int, threads: int = 8) -> tuple[float, int]:
    """(registrations per second, versions stored) through a running service's API."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        token = TokenStore.for_data_dir(data).create(["admin"], "bench")
        service = Service(
            DuckDBStore(":memory:"), load_inventory(), port=0, data_dir=data, alerting=False
        )
        service.start()
        try:
            url = service.url.rstrip("/")
            each = total // threads

            def work(worker: int) -> None:
                headers = {"Authorization": f"Token {token}"}
                with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
                    for i in range(each):
                        pool = {"id": f"bench-{worker}", "class": "ai",
                                "model": "nvidia-h100-sxm", "count": 8 + i}  # fmt: skip
                        answer = client.post(
                            "/api/v1/resources", json={"site": "guian-1", "pool": pool}
                        )
                        answer.raise_for_status()

            t0 = time.perf_counter()
            pool_threads = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
            for t in pool_threads:
                t.start()
            for t in pool_threads:
                t.join()
            took = time.perf_counter() - t0
            versions = sum(
                len(service.resources.history("guian-1", f"bench-{w}")) for w in range(threads)
            )
        finally:
            service.stop()
    return each * threads / took, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--registrations", type=int, default=400)
    args = parser.parse_args()
    inventory = load_inventory()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compute.duckdb"
        t0 = time.perf_counter()
        store, end = demo_store(path, inventory, args.days)
        print(f"built {args.days}-day national store in {time.perf_counter() - t0:.1f} s")
        with victoriametrics(Path(tmp) / "vm") as vm:
            n = load_into_vm(vm, store, START, end, LOADED)
        print(f"loaded {n:,} samples into VictoriaMetrics")
        store.close()
        with victoriametrics(Path(tmp) / "vm") as vm:
            fresh = DuckDBStore(path)
            cold, warm, figures = timed(
                lambda: compute_figures(fresh, inventory, START, end), args.repeat
            )
            days = f"{args.days}d"
            utilisation = 'avg_over_time(utilisation_ratio{resource=~"cpu|gpu"}[1h])'
            facility = f'sum by (site)(increase(energy_joules_total{{meter="facility"}}[{days}]))'
            at_end = {"time": end.timestamp()}
            hourly = {"start": (START + HOUR).timestamp(), "end": end.timestamp(), "step": "1h"}
            reads = [
                ("query_range", {"query": utilisation, **hourly}),
                ("query", {"query": facility, **at_end}),
                ("query", {"query": "last_over_time(compute_devices[15m])", **at_end}),
            ]

            def vm_reads() -> object:
                return [
                    httpx.get(f"{vm}/api/v1/{kind}", params=params, timeout=120).json()
                    for kind, params in reads
                ]

            vm_cold, vm_warm, _ = timed(vm_reads, args.repeat)
            fresh.close()
    nation = figures.table("nation")  # type: ignore[attr-defined]
    print(f"{'what':44} {'cold ms':>9} {'warm ms':>9}")
    print(f"{'greenwatch: every computing figure, 30 d':44} {cold:9.1f} {warm:9.1f}")
    print(f"{'VictoriaMetrics: the three reads alone':44} {vm_cold:9.1f} {vm_warm:9.1f}")
    for row in nation.itertuples(index=False):
        print(
            f"national {row[1]:15} rated {row[4] / 1e3:8.2f} EFLOPS, delivered "
            f"{row[6] / 1e3:7.2f} EFLOPS, {row[9]:7.2f} GFLOPS/W, {row[10]:8.2f} kWh/PFLOP-h, "
            f"coverage {row[14]:.3f}"
        )
    vm_name = "VictoriaMetrics (reads only)"
    result(f"{args.days}-d national computing figures, cold", cold, "ms", vm_name, vm_cold)
    result(f"{args.days}-d national computing figures, warm", warm, "ms", vm_name, vm_warm)
    rate, versions = registrations(args.registrations)
    print(f"registry: {rate:,.0f} registrations/s over HTTP, 8 threads; {versions} versions kept")
    result("pool registrations over HTTP, 8 threads", rate, "registrations/s")


if __name__ == "__main__":
    main()

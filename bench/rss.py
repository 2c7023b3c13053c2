"""Memory benchmark: resident set size with 100,000 active series in the embedded store.

A child process (so nothing else of the run sits in its memory) writes ``--rounds`` rounds of
one sample per series every 15 s — 100,000 ``device_power_watts`` series across the national
network's sites, as a large deployment's per-server power would be — into a fresh DuckDB store,
one columnar batch per round as ingest hands them over, then reads the mean of every series
back. It reports its peak RSS (``resource.getrusage``), and the RSS right after imports for
reference. Peer, in the same run and on the same samples: VictoriaMetrics single node, fed the
rounds as Influx line protocol, its peak RSS from ``/proc/PID/status``.

Usage: python bench/rss.py [--series 100000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from _peers import free_port
from _results import result

START = pd.Timestamp("2026-10-01T00:00:00Z")
STEP = pd.Timedelta(seconds=15)


def rss_mib() -> float:
    """Current RSS of this process (``/proc/self/status`` VmRSS), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_of(pid: int) -> float:
    """Peak RSS (VmHWM) of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def series_labels(n: int) -> pd.DataFrame:
    """``n`` series over the national network's sites: site, device, device_kind."""
    from greenwatch.inventory import load_inventory

    sites = [s.id for s in load_inventory().sites]
    i = np.arange(n)
    return pd.DataFrame(
        {
            "site": np.array(sites, dtype=object)[i % len(sites)],
            "device": [f"srv-{k:06d}" for k in i],
            "device_kind": "server",
        }
    )


def rounds(n: int, count: int) -> Iterator[pd.DataFrame]:
    """One canonical batch per round: every series' power at ``START + k * 15 s``."""
    from greenwatch.model import make_batch

    base = series_labels(n)
    labels = {c: base[c].to_numpy() for c in base.columns}
    rng = np.random.default_rng(0)
    watts = rng.uniform(200, 900, n)
    for k in range(count):
        ts = pd.DatetimeIndex([START + k * STEP] * n)
        values = watts + rng.normal(0, 5, n)
        yield make_batch(ts, "device_power_watts", values, labels)


def child(args: argparse.Namespace) -> None:
    """The measured process: write every round into a fresh store, query, report."""
    from greenwatch.store import DuckDBStore

    after_imports = rss_mib()
    store = DuckDBStore(Path(args.dir) / "rss.duckdb")
    t0 = time.perf_counter()
    written = sum(store.write(batch) for batch in rounds(args.series, args.rounds))
    took = time.perf_counter() - t0
    end = START + args.rounds * STEP
    per_site = store.query("device_power_watts", START, end, agg="mean")
    store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        json.dumps(
            {
                "after_imports": after_imports,
                "peak": peak,
                "written": written,
                "seconds": took,
                "rows": len(per_site),
            }
        )
    )


def line_protocol(batch: pd.DataFrame) -> bytes:
    ns = batch["ts"].astype("int64").astype(str)
    lines = (
        "device_power_watts,device="
        + batch["device"]
        + ",device_kind=server,site="
        + batch["site"]
        + " value="
        + batch["value"].map(repr)
        + " "
        + ns
    )
    return "\n".join(lines).encode()


def victoriametrics_peak(tmp: Path, n: int, count: int) -> float | None:
    binary = shutil.which("victoria-metrics")
    if binary is None:
        print("VictoriaMetrics: not installed (apt-get install victoria-metrics)")
        return None
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            binary,
            f"-storageDataPath={tmp / 'vm'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=100y",
            "-loggerLevel=ERROR",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(timeout=300) as client:
            for batch in rounds(n, count):
                client.post(f"{url}/write", content=line_protocol(batch)).raise_for_status()
            client.get(f"{url}/internal/force_flush")
            end = START + count * STEP
            client.get(
                f"{url}/api/v1/query",
                params={
                    "query": "avg by (site)(avg_over_time(device_power_watts_value[1h]))",
                    "time": end.timestamp(),
                },
            ).raise_for_status()
            series = client.get(f"{url}/api/v1/series/count").json()["data"][0]
        print(f"VictoriaMetrics: {series:,} series stored")
        return peak_of(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20, help="samples per series (every 15 s)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, __file__, "--child", "--dir", tmp]
        cmd += ["--series", str(args.series), "--rounds", str(args.rounds)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        gw = json.loads(out.strip().splitlines()[-1])
        samples = args.series * args.rounds
        print(
            f"greenwatch DuckDBStore: {args.series:,} series x {args.rounds} samples "
            f"({samples:,}) written in {gw['seconds']:.1f} s, "
            f"mean of every series ({gw['rows']:,} rows) read back; "
            f"peak RSS {gw['peak']:,.0f} MiB (after imports {gw['after_imports']:,.0f} MiB)"
        )
        vm = victoriametrics_peak(Path(tmp), args.series, args.rounds)
    if vm is not None:
        print(f"VictoriaMetrics peak RSS {vm:,.0f} MiB on the same samples")
    label = f"peak RSS, {args.series // 1000}k active series"
    result(label, gw["peak"], "MiB", "VictoriaMetrics" if vm else "", vm)


if __name__ == "__main__":
    main()

"""Memory benchmark: resident set size of ``greenwatch serve`` with 100,000 active series.

``greenwatch serve`` (every role, default settings, a fresh data directory) is fed ``--rounds``
rounds of one sample per series every 15 s — 100,000 ``device_power_watts`` series across the
national network's sites, as a large deployment's per-server power would be — as line protocol
on ``/api/v2/write`` (requests of 50,000 lines), then answers the mean of every series over the
API. Reports the server's RSS once started and its peak (``VmHWM``), and the RSS of
``serve --role ingest`` once started (heavy libraries are imported by the roles that need
them). Goal: peak under 400 MiB. Peer, in the same run and on the same requests:
VictoriaMetrics single node, its peak RSS.

Usage: python bench/rss.py [--series 100000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from _peers import free_port, server
from _results import result
from greenwatch.ingest import encode_lines
from greenwatch.inventory import load_inventory
from greenwatch.model import make_batch
from greenwatch.service._tokens import TokenStore

# Recent data: older samples would be refused by the boundary's 400-day window.
START = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(hours=2)
STEP = pd.Timedelta(seconds=15)
LINES = 50_000


def _status(pid: int, key: str) -> float:
    """A ``/proc/PID/status`` size (VmRSS, VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


def rounds(n: int, count: int) -> Iterator[bytes]:
    """Every series' power at ``START + k * 15 s`` for each round, as line-protocol requests."""
    sites = [s.id for s in load_inventory().sites]
    i = np.arange(n)
    labels = {
        "site": np.array(sites, dtype=object)[i % len(sites)],
        "device": np.array([f"srv-{k:06d}" for k in i], dtype=object),
        "device_kind": "server",
    }
    rng = np.random.default_rng(0)
    watts = rng.uniform(200, 900, n)
    for k in range(count):
        ts = pd.DatetimeIndex([START + k * STEP] * n)
        batch = make_batch(ts, "device_power_watts", watts + rng.normal(0, 5, n), labels)
        lines = encode_lines(batch)
        for i in range(0, n, LINES):  # the write endpoint takes up to 10 MiB a request
            yield "\n".join(lines[i : i + LINES]).encode("utf-8")


def post_rounds(url: str, headers: dict[str, str], n: int, count: int) -> float:
    """POST every round to ``/api/v2/write``; seconds taken."""
    t0 = time.perf_counter()
    with httpx.Client(timeout=600, headers=headers) as client:
        for body in rounds(n, count):
            answer = client.post(f"{url}/api/v2/write", params={"precision": "ns"}, content=body)
            if answer.status_code != 204:
                raise SystemExit(f"{url}: HTTP {answer.status_code}: {answer.text[:300]}")
    return time.perf_counter() - t0


def greenwatch_rss(tmp: Path, n: int, count: int, extra: list[str]) -> dict[str, float]:
    """``serve`` fed the rounds: RSS once started, peak, seconds; ``--role ingest`` started."""
    data = tmp / "greenwatch"
    token = TokenStore.for_data_dir(data).create(["write", "read"], "bench", any_site=True)
    headers = {"Authorization": f"Token {token}"}
    cmd = [sys.executable, "-m", "greenwatch.cli", "serve", "--data-dir", str(data), *extra]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with server([*cmd, "--port", str(port), "--role", "ingest"], f"{url}/readyz") as proc:
        ingest_started = _status(proc.pid, "VmRSS:")
    with server([*cmd, "--port", str(port)], f"{url}/readyz") as proc:
        started = _status(proc.pid, "VmRSS:")
        seconds = post_rounds(url, headers, n, count)
        end = START + count * STEP
        query = {"metric": "device_power_watts", "agg": "mean"}
        query |= {"start": START.isoformat(), "end": end.isoformat()}
        answer = httpx.get(f"{url}/api/v1/query", params=query, headers=headers, timeout=600)
        answer.raise_for_status()
        rows = len(answer.json()["data"])
        peak = _status(proc.pid, "VmHWM:")
    return {"ingest": ingest_started, "started": started, "peak": peak, "s": seconds, "rows": rows}


def victoriametrics_peak(tmp: Path, n: int, count: int) -> float | None:
    """VictoriaMetrics fed the same requests, then the same mean: its peak RSS, MiB."""
    binary = shutil.which("victoria-metrics")
    if binary is None:
        print("VictoriaMetrics: not installed (apt-get install victoria-metrics)")
        return None
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [binary, f"-storageDataPath={tmp / 'vm'}", f"-httpListenAddr=127.0.0.1:{port}"]
    with server([*args, "-retentionPeriod=100y", "-loggerLevel=ERROR"], f"{url}/health") as proc:
        post_rounds(url, {}, n, count)
        with httpx.Client(timeout=300) as client:
            client.get(f"{url}/internal/force_flush")
            end = START + count * STEP
            client.get(
                f"{url}/api/v1/query",
                params={
                    "query": "avg_over_time(device_power_watts_value[1h])",
                    "time": end.timestamp(),
                },
            ).raise_for_status()
            series = client.get(f"{url}/api/v1/series/count").json()["data"][0]
        print(f"VictoriaMetrics: {series:,} series stored")
        return _status(proc.pid, "VmHWM:")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20, help="samples per series (every 15 s)")
    parser.add_argument("--serve-arg", action="append", default=[], help="extra serve option")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        gw = greenwatch_rss(Path(tmp), args.series, args.rounds, args.serve_arg)
        samples = args.series * args.rounds
        print(
            f"greenwatch serve: {args.series:,} series x {args.rounds} samples ({samples:,}) "
            f"pushed in {gw['s']:.1f} s, mean of every series ({gw['rows']:,} rows) read back; "
            f"RSS once started {gw['started']:,.0f} MiB, peak {gw['peak']:,.0f} MiB "
            f"(goal < 400 MiB); serve --role ingest once started {gw['ingest']:,.0f} MiB"
        )
        vm = victoriametrics_peak(Path(tmp), args.series, args.rounds)
    if vm is not None:
        print(f"VictoriaMetrics peak RSS {vm:,.0f} MiB on the same samples")
    label = f"serve peak RSS, {args.series // 1000}k active series"
    result(label, gw["peak"], "MiB", "VictoriaMetrics" if vm else "", vm)
    result("serve RSS once started", gw["started"], "MiB")
    result("serve --role ingest RSS once started", gw["ingest"], "MiB")


if __name__ == "__main__":
    main()

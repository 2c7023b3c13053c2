"""Soak: ``greenwatch serve`` under a steady 10,000 samples/s for an hour (``--minutes``).

A child ``greenwatch serve`` on a fresh data directory (one day of demo history backfilled
first, so the dashboard and the alert rules have data) takes one line-protocol request per
second of ``--rate`` samples (``device_power_watts`` of ``--rate`` devices across the
national sites) while a second client polls the dashboard page and the national PUE every 5 s
and the server evaluates its alert rules every 15 s. Every 10 s the server's RSS is read from
``/proc/PID/status`` and the store's memory from ``/metrics``
(``greenwatch_store_memory_bytes``, bounded by ``--store-memory-limit``). Printed: samples
sent and acknowledged, errors, write latency (p50, p99, max), RSS at warm-up end and at the
end, and the RSS slope after warm-up (least squares, MiB per hour) — flat means a slope near
zero.

Usage: python bench/soak.py [--minutes 60] [--rate 10000] [--warmup-minutes 5]
                            [--store-memory-limit SIZE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from _peers import free_port
from greenwatch.inventory import load_inventory


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def lines_for(rate: int) -> list[str]:
    """Line-protocol prefixes (measurement and tags) of ``rate`` device series."""
    sites = [s.id for s in load_inventory().sites]
    return [
        f"device_power_watts,site={sites[i % len(sites)]},device=soak-{i:05d},device_kind=gpu"
        for i in range(rate)
    ]


def serve_demo(
    data: Path, memory_limit: str
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """A demo day in ``data`` served on a free port: the server, its URL and admin headers."""
    gw = [sys.executable, "-m", "greenwatch.cli"]
    subprocess.run(
        [*gw, "demo", "--days", "1", "--no-serve", "--data-dir", str(data)],
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [
            *gw,
            "serve",
            "--data-dir",
            str(data),
            "--port",
            str(free_port()),
            "--store-memory-limit",
            memory_limit,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not (data / "server.json").exists():
        time.sleep(0.2)
    url = json.loads((data / "server.json").read_text())["url"].rstrip("/")
    token = (data / "admin.token").read_text().strip()
    return server, url, {"Authorization": f"Token {token}"}


def report(
    rate: int,
    warmup_minutes: float,
    latencies: list[tuple[float, float]],
    rss: list[tuple[float, float]],
    store: list[tuple[float, float]],
) -> None:
    """Write latency percentiles (over the run and per 10 minutes), the server's RSS and the
    store's memory every 5 minutes (both read every 10 s) and the RSS slope after warm-up.
    ``latencies``: (seconds into the run, ms)."""
    lat = np.array([ms for _, ms in latencies])
    segments = []
    for start in range(0, int(latencies[-1][0]) + 1, 600):
        part = [ms for t, ms in latencies if start <= t < start + 600]
        if part:
            segments.append(f"{np.percentile(part, 50):.0f}/{np.percentile(part, 99):.0f}")
    print("write latency p50/p99 per 10 min (ms):", " ".join(segments))
    warm = [(t, r) for t, r in rss if t >= warmup_minutes * 60]
    slope = (
        float(np.polyfit([t for t, _ in warm], [r for _, r in warm], 1)[0]) * 3600
        if len(warm) > 2
        else float("nan")
    )
    print(
        f"write latency per {rate:,}-sample request: p50 {np.percentile(lat, 50):.0f} ms, "
        f"p99 {np.percentile(lat, 99):.0f} ms, max {lat.max():.0f} ms"
    )
    if warm:
        print(
            f"server RSS: {warm[0][1]:.0f} MiB after {warmup_minutes:g} min warm-up, "
            f"{rss[-1][1]:.0f} MiB at the end; slope after warm-up {slope:+.1f} MiB/h"
        )
    print("server RSS every 5 min (MiB):", " ".join(f"{r:.0f}" for _, r in rss[29::30]))
    print("store memory every 5 min (MiB):", " ".join(f"{m:.0f}" for _, m in store[29::30]))
    if store:
        print(f"store memory at the end: {store[-1][1]:.0f} MiB")


def write_until(
    url: str,
    headers: dict[str, str],
    prefixes: list[str],
    began: float,
    deadline: float,
    latencies: list[tuple[float, float]],
    errors: list[str],
) -> tuple[int, int]:
    """One write request per second of data until ``deadline``: samples sent and acknowledged."""
    sent = acked = 0
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        second = int(time.time())
        while time.perf_counter() < deadline:
            body = "\n".join(f"{p} value={1000 + (second % 97)} {second}" for p in prefixes)
            t0 = time.perf_counter()
            answer = client.post("/api/v2/write", params={"precision": "s"}, content=body)
            latencies.append((t0 - began, (time.perf_counter() - t0) * 1000))
            sent += len(prefixes)
            if answer.status_code == 204:
                acked += len(prefixes)
            else:
                errors.append(f"write: {answer.status_code} {answer.text[:200]}")
            second += 1
            time.sleep(max(0.0, second - time.time()))  # one request per second of data
    return sent, acked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=10_000, help="samples per second")
    parser.add_argument("--warmup-minutes", type=float, default=5.0)
    parser.add_argument(
        "--store-memory-limit", default="1GiB", help="the server's store bound (default 1GiB)"
    )
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="greenwatch-soak-"))
    server, url, headers = serve_demo(data, args.store_memory_limit)
    prefixes = lines_for(args.rate)
    stop = threading.Event()
    latencies: list[tuple[float, float]] = []
    errors: list[str] = []
    polls = 0
    rss: list[tuple[float, float]] = []
    store: list[tuple[float, float]] = []
    began = time.perf_counter()

    def poll() -> None:
        nonlocal polls
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            while not stop.wait(5):
                for path, params in (("/", {}), ("/api/v1/kpi", {"kpi": "pue"})):
                    answer = client.get(path, params=params)
                    if answer.status_code != 200:
                        errors.append(f"GET {path}: {answer.status_code}")
                polls += 1

    def watch() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            while not stop.wait(10):
                rss.append((time.perf_counter() - began, rss_mib(server.pid)))
                page = client.get("/metrics").text.splitlines()
                found = [x for x in page if x.startswith("greenwatch_store_memory_bytes ")]
                at = time.perf_counter() - began
                store.append((at, float(found[0].split()[1]) / 2**20 if found else float("nan")))

    helpers = [threading.Thread(target=f, daemon=True) for f in (poll, watch)]
    for helper in helpers:
        helper.start()
    deadline = began + args.minutes * 60
    sent, acked = write_until(url, headers, prefixes, began, deadline, latencies, errors)
    stop.set()
    for helper in helpers:
        helper.join()
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=120)
    took = time.perf_counter() - began
    print(
        f"soak: {took / 60:.1f} min, {sent:,} samples sent ({sent / took:,.0f}/s), "
        f"{acked:,} acknowledged, {polls} dashboard+KPI polls, {len(errors)} error(s)"
    )
    report(args.rate, args.warmup_minutes, latencies, rss, store)
    for error in errors[:5]:
        print(f"error: {error}")
    print(f"server exit status {server.returncode}")
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()

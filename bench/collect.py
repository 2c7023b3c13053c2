"""Collection benchmark: many targets polled every 15 s through the real collect Scheduler.

``greenwatch simulate serve`` runs in its own process (so the figures are the collecting
process's alone); N targets scrape its per-site Prometheus pages, then its Redfish services
(each chassis' power and energy), then its link routers' SNMP v2c IF-MIB agents (each protocol
on its own: ``--protocol``), many targets sharing each server port with per-site paths. After
a warm-up, prints the CPU share of the collecting process (process CPU time / wall time), its
CPU per poll, the share of polls on time (goals: under 0.5 core, under 5 ms per poll, 99 % on
time), the server's CPU, and the poll-duration percentiles from the scheduler's own
``collector_duration_seconds`` health samples. Peer (Prometheus pages), same pages, same
interval, same window: vmagent's CPU per scrape.

Usage: python bench/collect.py [--targets 1000] [--seconds 30] [--protocol all|snmp|…]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import yaml

from _peers import free_port, victoriametrics
from _results import result
from greenwatch.collect import Scheduler, build_collector

PROFILES = {"prometheus": "greenwatch", "redfish": "redfish-meters", "snmp": "snmp-if-mib"}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve(folder: Path, snmp: bool) -> tuple[subprocess.Popen[bytes], list[dict[str, Any]]]:
    targets = folder / "targets.yaml"
    args = [sys.executable, "-m", "greenwatch.cli", "simulate", "serve", "--base-port", "0"]
    args += [] if snmp else ["--no-snmp"]
    args += ["--targets-out", str(targets)]
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not targets.exists() or "serving until" not in (folder / "serve.log").read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((folder / "serve.log").read_text())
        time.sleep(0.2)
    return proc, yaml.safe_load(targets.read_text())["targets"]


def _targets(specs: list[dict[str, Any]], protocol: str, n: int, jitter: float) -> list[Any]:
    """``n`` targets cycling over the simulator's per-site endpoints of ``protocol``."""
    base = [s for s in specs if s["profile"] == PROFILES[protocol]]
    out = []
    for i in range(n):
        spec = dict(base[i % len(base)])
        spec |= {"name": f"bench-{i:04d}", "jitter_s": jitter, "interval_s": 15.0}
        out.append(build_collector(spec.pop("profile"), spec))
    return out


class Tally:
    """The sink: counts samples and keeps the health samples of the measured window."""

    def __init__(self) -> None:
        self.samples = 0
        self.health: list[pd.DataFrame] = []
        self.measuring = False
        self._lock = threading.Lock()

    def __call__(self, batch: pd.DataFrame) -> None:
        health = batch.iloc[-2:]  # the scheduler appends a poll's two health samples last
        with self._lock:
            self.samples += len(batch) - len(health)
            if self.measuring:
                self.health.append(health)


class Skipped(logging.Filter):
    """Counts (and hides) APScheduler's "skipped: maximum number of running instances" —
    a target whose previous poll had not even started when its next one was due."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "skipped: maximum number of running instances" in record.getMessage():
            self.count += 1
            return False
        return True


def _on_time(health: pd.DataFrame, interval: float, jitter: float) -> tuple[int, int]:
    """(gaps between a target's consecutive polls no longer than interval + jitter + 1 s,
    all such gaps): a poll is on time when it starts within its slot."""
    up = health[health["metric"] == "collector_up"].sort_values("ts")
    gaps = up.groupby("target", observed=True)["ts"].diff().dropna().dt.total_seconds()
    return int((gaps <= interval + jitter + 1.0).sum()), len(gaps)


def _vmagent_peer(urls: list[str], seconds: float, warmup: float, folder: Path) -> float | None:
    """vmagent scraping the same pages on the same interval: CPU ms per scrape (None if absent).

    One scrape job per page path (a job has one path); a ``bench`` label keeps the many
    targets that share a page distinct, as the greenwatch targets are.
    """
    binary = shutil.which("vmagent")
    if binary is None:
        print("peer: vmagent is not installed (apt-get install victoria-metrics)")
        return None
    jobs: dict[str, list[dict[str, Any]]] = {}
    for i, url in enumerate(urls):
        parts = urlsplit(url)
        jobs.setdefault(parts.path, []).append(
            {"targets": [parts.netloc], "labels": {"bench": f"{i:04d}"}}
        )
    config = {
        "scrape_configs": [
            {
                "job_name": f"page{j}",
                "scrape_interval": "15s",
                "metrics_path": path,
                "static_configs": static,
            }
            for j, (path, static) in enumerate(jobs.items())
        ]
    }
    (folder / "scrape.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    with victoriametrics(folder / "vm") as vm:
        args = [binary, f"-promscrape.config={folder / 'scrape.yml'}", "-loggerLevel=ERROR"]
        args += [f"-remoteWrite.url={vm}/api/v1/write", f"-remoteWrite.tmpDataPath={folder}/q"]
        args += [f"-httpListenAddr=127.0.0.1:{free_port()}"]
        agent = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(warmup)
            cpu0 = _cpu_seconds(agent.pid)
            time.sleep(seconds)
            cpu = _cpu_seconds(agent.pid) - cpu0
        finally:
            agent.terminate()
            agent.wait(20)
    scrapes = len(urls) * seconds / 15.0
    print(
        f"peer, vmagent scraping the same {len(urls)} pages every 15 s: {cpu:.1f} s CPU over "
        f"{seconds:.0f} s = {cpu / seconds:.2f} cores "
        f"({cpu / scrapes * 1000:.2f} ms CPU per scrape)"
    )
    return cpu / scrapes * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument(
        "--protocol", choices=[*sorted(PROFILES), "all"], default="all", help="default: each"
    )
    parser.add_argument("--workers", type=int, default=16, help="scheduler max_workers")
    parser.add_argument("--jitter", type=float, default=5.0, help="jitter_s of each target")
    args = parser.parse_args()
    for protocol in PROFILES if args.protocol == "all" else [args.protocol]:
        _measure(argparse.Namespace(**{**vars(args), "protocol": protocol}))


def _measure(args: argparse.Namespace) -> None:
    """One protocol's run: its own simulator, targets and scheduler."""
    with tempfile.TemporaryDirectory() as tmp:
        server, specs = _serve(Path(tmp), args.protocol == "snmp")
        try:
            tally, skipped = Tally(), Skipped()
            logging.getLogger("apscheduler.scheduler").addFilter(skipped)
            collectors = _targets(specs, args.protocol, args.targets, args.jitter)
            scheduler = Scheduler(tally, collectors, max_workers=args.workers)
            scheduler.start()
            time.sleep(args.warmup)
            tally.measuring, skipped.count = True, 0
            cpu0, wall0, srv0 = time.process_time(), time.perf_counter(), _cpu_seconds(server.pid)
            time.sleep(args.seconds)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            srv = _cpu_seconds(server.pid) - srv0
            tally.measuring = False
            scheduler.shutdown()
            logging.getLogger("apscheduler.scheduler").removeFilter(skipped)
            peer = None
            if args.protocol == "prometheus":
                urls = [c.target.require_url() for c in collectors]
                peer = _vmagent_peer(urls, args.seconds, args.warmup, Path(tmp))
        finally:
            server.terminate()
            server.wait(20)
    _report(args, tally, skipped, specs, (cpu, wall, srv), peer)


def _report(
    args: argparse.Namespace,
    tally: Tally,
    skipped: Skipped,
    specs: list[dict[str, Any]],
    times: tuple[float, float, float],
    peer: float | None,
) -> None:
    cpu, wall, srv = times
    health = pd.concat(tally.health, ignore_index=True)
    up = health[health["metric"] == "collector_up"]["value"]
    durations = health[health["metric"] == "collector_duration_seconds"]["value"].to_numpy()
    p50, p95, p99 = np.percentile(durations, [50, 95, 99]) * 1000
    on_time, gaps = _on_time(health, 15.0, args.jitter)
    sites = len({s["site"] for s in specs})
    per_poll = cpu / max(len(up), 1) * 1000
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(
        f"{args.targets} {args.protocol} targets over {sites} simulated sites, every 15 s, "
        f"{args.workers} workers, jitter {args.jitter:g} s; measured {wall:.0f} s after "
        f"{args.warmup:g} s warm-up"
    )
    print(
        f"polls: {len(up):,} ({len(up) / wall:.1f}/s, expected "
        f"{args.targets / (15 + args.jitter / 2):.1f}/s: each next poll 15 s + up to the jitter "
        "after the last), "
        f"failed {int((up == 0).sum())}, runs skipped because the target's previous run was "
        f"still queued {skipped.count:,}, data samples {tally.samples:,}; on time (next poll "
        f"within interval + jitter + 1 s) {on_time:,} of {gaps:,} = {on_time / max(gaps, 1):.1%}"
    )
    print(
        f"collecting process CPU: {cpu:.1f} s over {wall:.1f} s = {cpu / wall:.2f} cores "
        f"({per_poll:.2f} ms CPU per poll); simulator server {srv / wall:.2f} cores "
        "(goals: under 0.5 core, under 5 ms per poll, 99 % on time)"
    )
    print(f"poll duration (collector_duration_seconds): p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
          f"p99 {p99:.1f} ms")  # fmt: skip
    what = f"{args.targets} {args.protocol} targets"
    result(f"collector CPU per poll, {what}", per_poll, "ms", "vmagent" if peer else "", peer)
    result(f"collector CPU share, {what}", cpu / wall, "cores")
    result(f"polls on time, {what}", 100.0 * on_time / max(gaps, 1), "%", higher_is_better=True)


if __name__ == "__main__":
    main()

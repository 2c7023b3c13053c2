"""The scale-out topology on one machine, from the Debian binaries (``make scale-demo``).

VictoriaMetrics (the store, 1 ms de-duplication), two ``greenwatch serve --role ingest``
replicas behind vmauth (one ingest URL, load-balanced, tokens checked at the door), one
``greenwatch serve --role ui,jobs`` (dashboard, alert evaluation, roll-ups, KPI snapshot),
vmagent scraping the jobs process's ``/metrics`` into VictoriaMetrics, vmalert evaluating
``greenwatch alerts export --format vmalert`` against VictoriaMetrics and Alertmanager receiving
its alerts. Everything listens on 127.0.0.1; data and logs go to ``--work-dir``.

The demo then backfills the simulated national network through the ingest URL (simulated
edge agents pushing line protocol, as the greenwatch agent or Telegraf would) and keeps pushing
live data every 15 s until Ctrl-C. ``bench/scale.py`` and ``tests/deploy`` start the same
:class:`Topology`.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd

from greenwatch.ingest import encode_lines
from greenwatch.inventory import load_inventory
from greenwatch.service import TokenStore
from greenwatch.simulate import Simulator

BINARIES = {
    "victoria-metrics": "/usr/bin/victoria-metrics",
    "vmauth": "/usr/bin/vmauth",
    "vmagent": "/usr/bin/vmagent",
    "vmalert": "/usr/bin/vmalert",
    "alertmanager": "/usr/bin/prometheus-alertmanager",
}
LINES_PER_PUSH = 20_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def binary(name: str) -> str:
    """The Debian binary ``name``; SystemExit naming the package when it is missing."""
    found = shutil.which(name) or BINARIES[name]
    if not Path(found).exists():
        package = "prometheus-alertmanager" if name == "alertmanager" else name
        raise SystemExit(f"{name} is not installed: apt-get install -y {package}")
    return found


@dataclass
class Topology:
    """The processes of the scale-out deployment on loopback; :meth:`start` is a context."""

    work: Path
    ports: dict[str, int] = field(default_factory=dict)
    inventory: Path | None = None  # default: the built-in national network
    alert_rules: Path | None = None  # the jobs process's rules; default: the shipped pack
    token: str = ""
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def ingest_url(self) -> str:
        return self.url("vmauth")

    @property
    def dashboard_url(self) -> str:
        return self.url("ui") + "/"

    @contextmanager
    def start(self) -> Iterator[Topology]:
        names = ("vm", "vmauth", "ingest-1", "ingest-2", "ui", "vmagent", "vmalert", "am")
        for name in names:
            self.ports.setdefault(name, free_port())
        data = self.work / "greenwatch-data"
        self.work.mkdir(parents=True, exist_ok=True)
        tokens = TokenStore.for_data_dir(data)
        self.token = tokens.create(["read", "write"], "scale-demo", any_site=True)
        with ExitStack() as stack:
            stack.callback(self.stop)
            self._spawn("vm", self._vm_args(), "/health")
            for name in ("ingest-1", "ingest-2"):
                self._spawn(name, self._serve_args(name, "ingest", data), "/readyz")
            self._spawn("vmauth", self._vmauth_args(), "/health")
            self._spawn("ui", self._serve_args("ui", "ui,jobs", data), "/readyz")
            self._spawn("am", self._alertmanager_args(), "/-/ready")
            self._spawn("vmalert", self._vmalert_args(), "/health")
            self._spawn("vmagent", self._vmagent_args(), "/health")
            yield self

    def _vm_args(self) -> list[str]:
        return [
            binary("victoria-metrics"),
            f"-storageDataPath={self.work / 'vm-data'}",
            f"-httpListenAddr=127.0.0.1:{self.ports['vm']}",
            "-retentionPeriod=100y",
            "-dedup.minScrapeInterval=1ms",  # idempotent writes: one sample per series and ms
            "-search.maxUniqueTimeseries=10000000",  # national queries span every series
        ]

    def _serve_args(self, name: str, role: str, data: Path) -> list[str]:
        args = [sys.executable, "-m", "greenwatch.cli", "serve", "--role", role]
        args += ["--port", str(self.ports[name]), "--data-dir", str(data)]
        if self.inventory is not None:
            args += ["--inventory", str(self.inventory)]
        if self.alert_rules is not None and "jobs" in role:
            args += ["--alert-rules", str(self.alert_rules)]
        return [*args, "--store", "victoriametrics", "--store-write-url", self.url("vm")]

    def _vmauth_args(self) -> list[str]:
        config = self.work / "vmauth.yml"
        replicas = "\n".join(f"      - {self.url(n)}" for n in ("ingest-1", "ingest-2"))
        config.write_text(
            f'users:\n  - bearer_token: "{self.token}"\n    url_prefix:\n{replicas}\n',
            encoding="utf-8",
        )
        config.chmod(0o600)
        return [
            binary("vmauth"),
            f"-auth.config={config}",
            f"-httpListenAddr=127.0.0.1:{self.ports['vmauth']}",
        ]

    def _alertmanager_args(self) -> list[str]:
        config = self.work / "alertmanager.yml"
        config.write_text("route:\n  receiver: noc\nreceivers:\n  - name: noc\n", encoding="utf-8")
        return [
            binary("alertmanager"),
            f"--config.file={config}",
            f"--storage.path={self.work / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{self.ports['am']}",
            "--cluster.listen-address=",
        ]

    def _vmalert_args(self) -> list[str]:
        rules = self.work / "greenwatch-alerts.yml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "greenwatch.cli",
                "alerts",
                "export",
                "--format",
                "vmalert",
                "--out",
                str(rules),
            ],
            check=True,
            capture_output=True,
        )
        return [
            binary("vmalert"),
            f"-rule={rules}",
            f"-datasource.url={self.url('vm')}",
            f"-remoteWrite.url={self.url('vm')}",
            f"-notifier.url={self.url('am')}",
            f"-httpListenAddr=127.0.0.1:{self.ports['vmalert']}",
            "-evaluationInterval=15s",
            "-disableAlertgroupLabel",
        ]

    def _vmagent_args(self) -> list[str]:
        config = self.work / "scrape.yml"
        config.write_text(
            "scrape_configs:\n  - job_name: greenwatch\n    scrape_interval: 30s\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{self.ports['ui']}']\n",
            encoding="utf-8",
        )
        return [
            binary("vmagent"),
            f"-promscrape.config={config}",
            f"-remoteWrite.url={self.url('vm')}/api/v1/write",
            f"-remoteWrite.tmpDataPath={self.work / 'vmagent'}",
            f"-httpListenAddr=127.0.0.1:{self.ports['vmagent']}",
        ]

    def _spawn(self, name: str, args: list[str], ready: str) -> None:
        log = (self.work / f"{name}.log").open("ab")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs[name] = proc
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} stopped at start; see {self.work / name}.log")
            try:
                if httpx.get(self.url(name) + ready, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not get ready in 60 s; see {self.work / name}.log")

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def push(self, batch: pd.DataFrame, batch_id: str) -> int:
        """Push ``batch`` through the ingest URL as line protocol, in requests of
        ``LINES_PER_PUSH`` lines; returns the lines sent."""
        lines = encode_lines(batch, precision="ms")
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.ingest_url, headers=headers, timeout=120) as client:
            for i in range(0, len(lines), LINES_PER_PUSH):
                body = "\n".join(lines[i : i + LINES_PER_PUSH]).encode()
                answer = client.post(
                    "/api/v2/write",
                    params={"precision": "ms"},
                    content=body,
                    headers={"X-Greenwatch-Batch-Id": f"{batch_id}-{i}"},
                )
                if answer.status_code != 204:
                    raise RuntimeError(f"push {batch_id}: HTTP {answer.status_code} {answer.text}")
        return len(lines)


def feed(topology: Topology, hours: float, stop: threading.Event) -> None:
    """Backfill ``hours`` of the simulated network through the ingest URL, then push live data
    every 15 s until ``stop`` is set."""
    now = pd.Timestamp.now(tz="UTC").floor("min")
    sim = Simulator(load_inventory(), seed=0, start=now - pd.Timedelta(hours=hours))
    step = pd.Timedelta(hours=1)
    started = time.perf_counter()
    sent = 0
    while sim.cursor < now:
        sent += topology.push(sim.advance(min(now, sim.cursor + step)), f"backfill-{sim.cursor}")
    took = time.perf_counter() - started
    print(f"backfill: {sent:,} samples through the ingest tier in {took:.1f} s", flush=True)
    while not stop.wait(15.0):
        until = pd.Timestamp.now(tz="UTC").floor("15s")
        if until > sim.cursor:
            topology.push(sim.advance(until, pd.Timedelta(seconds=15)), f"live-{until}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=Path("scale-demo-data"))
    parser.add_argument("--hours", type=float, default=24.0, help="hours to backfill (24)")
    parser.add_argument("--port", type=int, default=8050, help="the dashboard's port (8050)")
    parser.add_argument("--for", dest="seconds", type=float, help="stop after S seconds")
    args = parser.parse_args(argv)
    topology = Topology(args.work_dir, ports={"ui": args.port})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with topology.start():
        print(f"ingest URL (vmauth → 2 replicas): {topology.ingest_url}", flush=True)
        print(
            f"VictoriaMetrics: {topology.url('vm')}  vmalert: {topology.url('vmalert')}  "
            f"Alertmanager: {topology.url('am')}",
            flush=True,
        )
        print(f"token (read, write): {topology.token}", flush=True)
        feeder = threading.Thread(target=feed, args=(topology, args.hours, stop), daemon=True)
        feeder.start()
        print(f"dashboard: {topology.dashboard_url} (Ctrl-C stops)", flush=True)
        with suppress(KeyboardInterrupt):
            stop.wait(args.seconds)
        stop.set()
        feeder.join(timeout=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peers measured in the same run as greenwatch: a VictoriaMetrics server on loopback, and
the 30-day national demo store both sides load."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd

from greenwatch.inventory import Inventory
from greenwatch.query import keep_hourly_pue
from greenwatch.service import backfill
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

START = pd.Timestamp("2026-10-01T00:00:00Z")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def victoriametrics(data_dir: Path) -> Iterator[str]:
    """A VictoriaMetrics single-node server on loopback; yields its base URL."""
    binary = shutil.which("victoria-metrics")
    if binary is None:
        raise SystemExit("victoria-metrics is not installed (apt-get install victoria-metrics)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [binary, f"-storageDataPath={data_dir}", f"-httpListenAddr=127.0.0.1:{port}"]
    args += ["-search.latencyOffset=0s", "-retentionPeriod=100y", "-loggerLevel=ERROR"]
    with server(args, f"{url}/health"):
        yield url


def demo_store(path: Path, inventory: Inventory, days: int) -> tuple[DuckDBStore, pd.Timestamp]:
    """The demo's national network backfilled for ``days`` into a fresh store at ``path``,
    with the hourly PUE inputs kept after the backfill as ``greenwatch demo`` keeps them."""
    store = DuckDBStore(path)
    end = START + pd.Timedelta(days=days)
    backfill(Simulator(inventory, seed=0, start=START), store.write, end)
    keep_hourly_pue(store, [s.id for s in inventory.sites], START, end)
    return store, end


def to_line_protocol(batch: pd.DataFrame) -> list[str]:
    """Influx line protocol of a batch: ``<metric>,<labels> value=<v> <ns>`` (DESIGN.md)."""
    labels = [c for c in batch.columns if c not in ("ts", "metric", "value")]
    tags = pd.Series("", index=batch.index)
    for name in labels:
        column = batch[name].astype(object)
        present = column.notna()
        tags[present] += "," + name + "=" + column[present].astype(str)
    ns = batch["ts"].astype("int64").astype(str)
    return list(
        batch["metric"].astype(str) + tags + " value=" + batch["value"].map(repr) + " " + ns
    )


@contextmanager
def server(args: list[str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit(f"{args[0]} did not start")
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=60)

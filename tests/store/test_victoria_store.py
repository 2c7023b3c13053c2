"""The scale-out store passes the store contract against a real VictoriaMetrics.

The fixture starts ``victoria-metrics`` on a free loopback port with its data in the test's
directory (so reopening the directory after a restart finds the data), a retention long
enough for the contract's 2026 timestamps, no search latency offset and 1 ms de-duplication.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from greenwatch.model import make_batch
from greenwatch.store import Store, VictoriaMetricsStore
from tests.conftest import free_port, need_binary
from tests.store.contract import StoreContract

pytestmark = pytest.mark.integration


class VictoriaMetrics:
    """One ``victoria-metrics`` process over ``directory`` on a free port."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        directory.mkdir(parents=True, exist_ok=True)
        self.log = (directory / "victoria-metrics.log").open("ab")
        self.proc = subprocess.Popen(
            [
                binary,
                f"-storageDataPath={directory / 'vm-data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",
                "-search.latencyOffset=0s",
                "-dedup.minScrapeInterval=1ms",
                "-search.disableCache",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"victoria-metrics did not start (see {directory})")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class _Closing(VictoriaMetricsStore):
    """A store that also stops the VictoriaMetrics it was opened on."""

    server: VictoriaMetrics

    def close(self) -> None:
        super().close()
        self.server.stop()


@pytest.fixture(scope="session")
def vm_binary() -> str:
    return need_binary("victoria-metrics", "/usr/bin/victoria-metrics")


class TestVictoriaMetricsStore(StoreContract):
    @pytest.fixture
    def store_factory(self, vm_binary: str) -> Iterator[object]:
        opened: list[VictoriaMetrics] = []

        def make(directory: Path) -> Store:
            server = VictoriaMetrics(vm_binary, directory)
            opened.append(server)
            store = _Closing(server.url)
            store.server = server
            return store

        yield make
        for server in opened:
            server.stop()


def test_series_keep_their_canonical_names_in_the_engine(vm_binary: str, tmp_path: Path) -> None:
    """What PromQL, Grafana and the exported rules see: ``power_watts``, not ``…_value``."""
    server = VictoriaMetrics(vm_binary, tmp_path)
    store = VictoriaMetricsStore(server.url)
    try:
        ts = pd.date_range("2026-03-01", periods=3, freq="1min", tz="UTC")
        batch = make_batch(ts, "power_watts", [1.0, 2.0, 3.0], {"site": "a", "meter": "facility"})
        assert store.write(batch) == 3
        names = httpx.get(f"{server.url}/api/v1/label/__name__/values", timeout=10).json()
        # the late write (March) also marks the metric for the roller (store/_vmrollup.py)
        assert names["data"] == ["greenwatch_rollup_dirty", "power_watts"]
        answer = httpx.get(
            f"{server.url}/api/v1/query",
            params={"query": 'power_watts{meter="facility"}', "time": "2026-03-01T00:02:30Z"},
            timeout=10,
        ).json()
        assert [r["value"][1] for r in answer["data"]["result"]] == ["3"]
    finally:
        store.close()
        server.stop()

"""Prometheus remote write: the real Prometheus and vmagent scraping a real node_exporter."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from greenwatch.ingest import encode_write_request
from tests.conftest import free_port, need_binary
from tests.ingest.conftest import Server

SNAPPY = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}


def test_remote_write_maps_and_keeps_the_rest(server: Server) -> None:
    body = encode_write_request(
        [
            ({"__name__": "power_watts", "site": "test-1", "meter": "facility"}, [(1000, 5.0)]),
            (
                {
                    "__name__": "DCGM_FI_DEV_POWER_USAGE",
                    "gpu": "0",
                    "Hostname": "h1",
                    "site": "test-1",
                },
                [(1000, 300.0), (2000, float("nan"))],
            ),
            ({"__name__": "node_load1", "instance": "x:9100", "job": "node"}, [(1000, 0.5)]),
        ]
    )
    with server.client("site") as client:
        answer = client.post("/api/v1/write", content=body, headers=SNAPPY)
    assert answer.status_code == 204, answer.text
    assert answer.headers["X-Greenwatch-Stale"] == "1"
    assert list(server.query("power_watts")["value"]) == [5.0]
    gpu = server.query("device_power_watts")  # the shipped dcgm-exporter collector profile
    assert list(gpu["device"]) == ["h1/gpu0"]
    load = server.query("ext_node_load1")
    assert list(load["site"]) == ["test-1"]  # the token's site
    assert list(load["instance"]) == ["x:9100"]


class Process:
    """A server binary on loopback, stopped at the end."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_http(self, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{url}: process exited")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{url} did not answer")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def node_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = need_binary("prometheus-node-exporter", "node_exporter")
    port = free_port()
    proc = Process(
        [
            binary,
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.disable-defaults",
            "--collector.cpu",
            "--collector.loadavg",
            "--collector.meminfo",
            "--collector.hwmon",
            "--collector.rapl",
        ],
        tmp_path_factory.mktemp("node") / "node_exporter.log",
    )
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/metrics")
        yield f"127.0.0.1:{port}"
    finally:
        proc.stop()


def _wait_for_series(server: Server, site: str, timeout: float = 120) -> set[str]:
    deadline = time.monotonic() + timeout
    metrics: set[str] = set()
    with server.client("read") as client:
        while time.monotonic() < deadline:
            data = client.get("/api/v1/series", params={"site": site}).json()["data"]
            metrics = {row["metric"] for row in data}
            if {"ext_node_load1", "ext_node_cpu_seconds_total", "ext_up"} <= metrics:
                return metrics
            time.sleep(0.5)
    return metrics


def test_prometheus_remote_writes_node_exporter(
    server: Server, node_exporter: str, tmp_path: Path
) -> None:
    binary = need_binary("prometheus")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        f"""
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  external_labels: {{site: prom-1}}
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ["{node_exporter}"]}}]
remote_write:
  - url: {server.url}/api/v1/write
    authorization: {{credentials: {server.tokens["write"]}}}
    queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}}
""",
        encoding="utf-8",
    )
    port = free_port()
    proc = Process(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp_path / "prometheus.log",
    )
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/-/ready")
        metrics = _wait_for_series(server, "prom-1")
    finally:
        proc.stop()
    assert {"ext_node_load1", "ext_node_cpu_seconds_total", "ext_up"} <= metrics, (
        tmp_path / "prometheus.log"
    ).read_text()[-3000:]
    cpu = server.query("ext_node_cpu_seconds_total", site="prom-1")
    assert set(cpu["job"]) == {"node"}
    assert set(cpu["instance"]) == {node_exporter}
    assert (cpu["value"] >= 0).all()


def test_vmagent_remote_writes_node_exporter(
    server: Server, node_exporter: str, tmp_path: Path
) -> None:
    binary = need_binary("vmagent", "/usr/bin/vmagent")
    config = tmp_path / "scrape.yml"
    config.write_text(
        f"""
global:
  scrape_interval: 2s
  scrape_timeout: 2s
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ["{node_exporter}"]}}]
""",
        encoding="utf-8",
    )
    port = free_port()
    proc = Process(
        [
            binary,
            f"-promscrape.config={config}",
            f"-remoteWrite.url={server.url}/api/v1/write",
            f"-remoteWrite.bearerToken={server.tokens['write']}",
            "-remoteWrite.label=site=vmagent-1",
            "-remoteWrite.flushInterval=500ms",
            f"-remoteWrite.tmpDataPath={tmp_path / 'vmagent-buffer'}",
            f"-httpListenAddr=127.0.0.1:{port}",
        ],
        tmp_path / "vmagent.log",
    )
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/health")
        metrics = _wait_for_series(server, "vmagent-1")
    finally:
        proc.stop()
    assert {"ext_node_load1", "ext_node_cpu_seconds_total", "ext_up"} <= metrics, (
        tmp_path / "vmagent.log"
    ).read_text()[-3000:]

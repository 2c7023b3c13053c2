"""Real servers for the export tests: Prometheus scraping a greenwatch, a tiny OTLP receiver."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import yaml
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from tests.conftest import daemon, free_port, http_handler_server


@contextmanager
def prometheus(binary: str, tmp: Path, target: str, interval: str = "1s") -> Iterator[str]:
    """Debian's prometheus scraping ``http://{target}/metrics`` every ``interval``; its URL."""
    port = free_port()
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {
                "job_name": "greenwatch",
                "metrics_path": "/metrics",
                "scrape_timeout": interval,
                "static_configs": [{"targets": [target]}],
            }
        ],
    }
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    args = [
        binary,
        f"--config.file={path}",
        f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    url = f"http://127.0.0.1:{port}"
    with daemon(args, tmp / "prometheus.log", f"{url}/-/ready"):
        yield url


def instant(url: str, query: str) -> list[dict[str, Any]]:
    """The result vector of a PromQL instant query."""
    reply = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=10)
    reply.raise_for_status()
    body = reply.json()
    assert body["status"] == "success", body
    return body["data"]["result"]  # type: ignore[no-any-return]


def wait_for(url: str, query: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Poll a query until it returns something."""
    deadline = time.monotonic() + timeout_s
    while not (result := instant(url, query)):
        assert time.monotonic() < deadline, f"nothing for {query} within {timeout_s} s"
        time.sleep(0.2)
    return result


@dataclass
class OtlpReceiver:
    """Decoded OTLP/HTTP metric requests, with the headers they came with (lower-case names)."""

    port: int = 0
    requests: list[ExportMetricsServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/metrics"

    def gauges(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        """Every gauge point received: name -> [(attributes, value)]."""
        out: dict[str, list[tuple[dict[str, str], float]]] = {}
        for request in self.requests:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        for point in metric.gauge.data_points:
                            attrs = {a.key: a.value.string_value for a in point.attributes}
                            value = point.as_double if point.HasField("as_double") else point.as_int
                            out.setdefault(metric.name, []).append((attrs, float(value)))
        return out


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """An OTLP/HTTP metrics endpoint (protobuf) on loopback that records what it gets."""
    receiver = OtlpReceiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = ExportMetricsServiceRequest()
            request.ParseFromString(body)
            with lock:
                receiver.requests.append(request)
                receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
            reply = ExportMetricsServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    with http_handler_server(Handler) as port:
        receiver.port = port
        yield receiver


@contextmanager
def victoriametrics(binary: str, tmp: Path) -> Iterator[str]:
    """A VictoriaMetrics single node on loopback (an InfluxDB-compatible write API); its URL."""
    port = free_port()
    args = [
        binary,
        f"-storageDataPath={tmp / 'vm-data'}",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-retentionPeriod=100y",
        "-search.latencyOffset=0s",
        "-search.disableCache",
        "-dedup.minScrapeInterval=1ms",  # what greenwatch's VictoriaMetrics store needs
    ]
    url = f"http://127.0.0.1:{port}"
    with daemon(args, tmp / "victoria-metrics.log", f"{url}/health", poll_s=0.05):
        yield url

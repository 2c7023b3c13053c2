"""OTLP/HTTP metrics: the real OpenTelemetry SDK exporter, the official JSON example."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from tests.ingest.conftest import Server


def _provider(
    server: Server, temporality: AggregationTemporality, site: str = "otel-1"
) -> tuple[MeterProvider, PeriodicExportingMetricReader]:
    exporter = OTLPMetricExporter(
        endpoint=f"{server.url}/v1/metrics",
        headers={"Authorization": f"Bearer {server.tokens['write']}"},
        preferred_temporality={Counter: temporality, Histogram: temporality},
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({"greenwatch.site": site, "service.name": "bmc-bridge"})
    return MeterProvider(resource=resource, metric_readers=[reader]), reader


@pytest.mark.parametrize(
    "temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]
)
def test_sdk_exporter_metrics_arrive_under_canonical_names(
    server: Server, temporality: AggregationTemporality
) -> None:
    provider, reader = _provider(server, temporality)
    meter = provider.get_meter("greenwatch.test")
    attrs = {"hw.id": "gpu-0", "hw.type": "gpu"}

    def power(_: CallbackOptions) -> Iterable[Observation]:
        yield Observation(412.5, attrs)

    meter.create_observable_gauge("hw.power", [power], unit="W")
    meter.create_observable_gauge(
        "hw.temperature", [lambda _: [Observation(61.0, {"hw.id": "inlet"})]], unit="Cel"
    )
    meter.create_observable_gauge(
        "hw.gpu.utilization", [lambda _: [Observation(0.75, attrs)]], unit="1"
    )
    energy = meter.create_counter("hw.energy", unit="J")
    latency = meter.create_histogram("rpc.duration", unit="s")
    energy.add(1000.0, attrs)
    latency.record(0.2)
    assert reader.force_flush(10_000)
    energy.add(500.0, attrs)
    latency.record(0.3)
    assert reader.force_flush(10_000)
    provider.shutdown()

    power_rows = server.query("device_power_watts")
    assert set(power_rows["value"]) == {412.5}
    assert set(power_rows["device"]) == {"gpu-0"}
    assert set(power_rows["device_kind"]) == {"gpu"}
    assert set(power_rows["site"]) == {"otel-1"}
    # Cumulative sums are stored as sent; delta sums are accumulated: the same counter.
    energy_rows = server.query("device_energy_joules_total")
    assert sorted(set(energy_rows["value"])) == [1000.0, 1500.0]  # shutdown exports again
    assert list(energy_rows["value"]) == sorted(energy_rows["value"])
    assert set(server.query("temperature_celsius")["sensor"]) == {"inlet"}
    assert set(server.query("device_utilisation_ratio")["value"]) == {0.75}
    assert server.query("ext_rpc_duration").empty  # histograms are not stored


def test_ignored_points_come_back_as_partial_success(server: Server) -> None:
    provider = MeterProvider(metric_readers=[reader := InMemoryMetricReader()])
    provider.get_meter("t").create_histogram("h").record(1.0)
    data = reader.get_metrics_data()
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics

    body = encode_metrics(data).SerializeToString()
    with server.client("site") as client:
        answer = client.post(
            "/v1/metrics", content=body, headers={"Content-Type": "application/x-protobuf"}
        )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/x-protobuf")
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceResponse,
    )

    response = ExportMetricsServiceResponse.FromString(answer.content)
    assert response.partial_success.rejected_data_points == 1
    provider.shutdown()


def test_official_json_example(server: Server, shared_data: Path) -> None:
    body = (shared_data / "otlp" / "otlp-metrics-example.json").read_bytes()
    with server.client("site") as client:  # no site attribute: the token's site
        for _ in range(2):
            answer = client.post(
                "/v1/metrics", content=body, headers={"Content-Type": "application/json"}
            )
            assert answer.status_code == 200, answer.text
    response = answer.json()
    assert response["partialSuccess"]["rejectedDataPoints"] == "2"  # the two histograms
    gauge = server.query("ext_my_gauge")
    assert list(gauge["value"]) == [10.0]
    assert gauge["service_name"].iloc[0] == "my.service"
    assert gauge["my_gauge_attr"].iloc[0] == "some value"
    assert set(gauge["site"]) == {"test-1"}
    # A delta sum, sent twice with the same timestamp: the running total is kept, the
    # store keeps the first sample at that instant.
    counter = server.query("ext_my_counter")
    assert list(counter["value"]) == [5.0]
    assert str(counter["ts"].iloc[0]) == "2018-12-13 14:51:00.300000+00:00"


def test_json_example_without_any_site_is_rejected(server: Server, shared_data: Path) -> None:
    body = json.loads((shared_data / "otlp" / "otlp-metrics-example.json").read_text())
    with server.client("write") as client:
        answer = client.post("/v1/metrics", json=body)
    assert answer.status_code == 400
    assert "no site" in answer.json()["message"]
    assert server.query("ext_my_gauge").empty

"""The Prometheus registry on its own: families, units, OpenMetrics, health, promtool's lint."""

from __future__ import annotations

import gzip
import math
import subprocess

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from greenwatch.export import (
    CollectorHealth,
    ExportStats,
    KpiPoint,
    KpiSnapshot,
    ServiceHealth,
    Window,
    build_registry,
    exposition,
)
from tests.conftest import need_binary

END = pd.Timestamp("2026-06-02T00:00:00Z")
SNAPSHOT = KpiSnapshot(
    taken_at=END,
    windows=(Window("1h", END - pd.Timedelta(hours=1), END),),
    points=(
        KpiPoint("pue", (("scope", "national"), ("window", "1h")), 1.25, 0.99),
        KpiPoint("pue", (("scope", "site"), ("site", "dark-1"), ("window", "1h")), math.nan, 0.0),
        KpiPoint("carbon", (("scope", "national"), ("basis", "market"), ("window", "1h")), 5e6, 1),
        KpiPoint("sites", (("scope", "national"), ("figure", "pue"), ("window", "1h")), 2.0),
        KpiPoint("pue_target", (("scope", "national"),), 1.5),
    ),
    duration_s=0.25,
)
HEALTH = ServiceHealth(
    samples_received=10,
    samples_stored=7,
    batches_rejected=1,
    pending_batches=2,
    collectors=(
        CollectorHealth("pdu-a1", "apc-rpdu2", "guian-1", True, 0.05, END.timestamp()),
        CollectorHealth("bmc-r12", "redfish", "guian-1", False, 5.0, None),
    ),
    alert_rules=12,
    alert_rule_errors=1,
    alert_evaluation_s=0.125,
    alert_last_evaluation=END.timestamp(),
)


def _stats() -> ExportStats:
    stats = ExportStats(clock=lambda: 1_780_000_000.0)
    stats.record("otlp", ok=True)
    stats.record("influx", ok=False)
    return stats


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_snapshot_families_and_their_coverage() -> None:
    body, headers = exposition(build_registry(lambda: SNAPSHOT, lambda: HEALTH, _stats()))
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = _samples(body.decode())
    national = frozenset({("scope", "national"), ("window", "1h")})
    assert samples["greenwatch_pue_ratio", national] == 1.25
    assert samples["greenwatch_pue_coverage_ratio", national] == 0.99
    dark = frozenset({("scope", "site"), ("site", "dark-1"), ("window", "1h")})
    assert ("greenwatch_pue_ratio", dark) not in samples  # NaN: no value, only its coverage
    assert samples["greenwatch_pue_coverage_ratio", dark] == 0.0
    market = frozenset({("scope", "national"), ("basis", "market"), ("window", "1h")})
    assert samples["greenwatch_carbon_grams", market] == 5e6
    assert samples["greenwatch_kpi_window_start_timestamp_seconds", frozenset({("window", "1h")})]
    assert samples["greenwatch_kpi_snapshot_timestamp_seconds", frozenset()] == END.timestamp()
    assert not any(name.startswith("greenwatch_kpi_sites_coverage") for name, _ in samples)


def test_health_families() -> None:
    body, _ = exposition(build_registry(lambda: None, lambda: HEALTH, _stats()))
    samples = _samples(body.decode())
    assert samples["greenwatch_ingest_samples_received_total", frozenset()] == 10
    assert samples["greenwatch_ingest_samples_stored_total", frozenset()] == 7
    assert samples["greenwatch_ingest_rejected_batches_total", frozenset()] == 1
    assert samples["greenwatch_collect_pending_batches", frozenset()] == 2
    down = frozenset({("target", "bmc-r12"), ("profile", "redfish"), ("site", "guian-1")})
    assert samples["greenwatch_collector_up", down] == 0.0
    assert samples["greenwatch_alert_evaluation_duration_seconds", frozenset()] == 0.125
    assert samples["greenwatch_alert_rule_errors", frozenset()] == 1
    pushes = frozenset({("exporter", "influx"), ("outcome", "failure")})
    assert samples["greenwatch_export_pushes_total", pushes] == 1
    assert samples["greenwatch_build_info", frozenset({("version", "0.1.0")})] == 1
    assert ("process_resident_memory_bytes", frozenset()) in samples
    assert not any(name.startswith("greenwatch_pue") for name, _ in samples)  # no snapshot yet


def test_openmetrics_on_request_with_units_and_gzip() -> None:
    registry = build_registry(lambda: SNAPSHOT, lambda: HEALTH, _stats())
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    body, headers = exposition(registry, accept, "gzip")
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert headers["Content-Encoding"] == "gzip"
    text = gzip.decompress(body).decode()
    assert text.endswith("# EOF\n")
    assert "# UNIT greenwatch_pue_ratio ratio" in text
    assert "# UNIT greenwatch_carbon_grams grams" in text
    assert "# TYPE greenwatch_ingest_samples_received counter" in text
    assert "greenwatch_ingest_samples_received_total 10.0" in text


@pytest.mark.integration
def test_promtool_finds_nothing_to_lint() -> None:
    promtool = need_binary("promtool")
    body, _ = exposition(build_registry(lambda: SNAPSHOT, lambda: HEALTH, _stats()))
    done = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, b"")

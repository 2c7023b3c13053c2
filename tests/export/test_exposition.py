"""The Prometheus registry on its own: families, units, OpenMetrics, health, promtool's lint."""

from __future__ import annotations

import gzip
import math
import re
import subprocess
from pathlib import Path

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
from tests.deploy.conftest import exported_names

NAMES = Path(__file__).parent / "testdata" / "metric-names.txt"

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


MONTH = KpiSnapshot(
    taken_at=END,
    windows=(Window("month", END - pd.Timedelta(days=1), END),),
    points=(
        KpiPoint("facility_energy", (("scope", "site"), ("site", "a-1"), ("window", "month")), 9e9),
        KpiPoint(
            "carbon",
            (("scope", "site"), ("site", "a-1"), ("basis", "location"), ("window", "month")),
            7e5,
        ),
        KpiPoint("facility_energy", (("scope", "national"), ("window", "month")), 9e9),
        KpiPoint("pue", (("scope", "site"), ("site", "a-1"), ("window", "month")), 1.3),
    ),
    duration_s=0.5,
)


def test_snapshot_families_and_their_coverage() -> None:
    registry = build_registry(lambda: SNAPSHOT, lambda: HEALTH, _stats(), lambda: MONTH)
    body, headers = exposition(registry)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = _samples(body.decode())
    assert samples["greenwatch_national_pue_1h_ratio", frozenset()] == 1.25
    assert samples["greenwatch_national_pue_1h_coverage_ratio", frozenset()] == 0.99
    dark = frozenset({("site", "dark-1")})
    assert ("greenwatch_site_pue_1h_ratio", dark) not in samples  # NaN: only its coverage
    assert samples["greenwatch_site_pue_1h_coverage_ratio", dark] == 0.0
    market = frozenset({("basis", "market")})
    assert samples["greenwatch_national_carbon_1h_grams", market] == 5e6
    assert samples["greenwatch_national_pue_target_ratio", frozenset()] == 1.5
    assert samples["greenwatch_kpi_window_1h_start_timestamp_seconds", frozenset()]
    assert samples["greenwatch_kpi_snapshot_timestamp_seconds", frozenset()] == END.timestamp()
    assert not any("kpi_sites_1h_coverage" in name for name, _ in samples)
    # Counters: site energies and carbon since the start of the month, nothing else of it.
    site = frozenset({("site", "a-1")})
    assert samples["greenwatch_site_facility_energy_joules_total", site] == 9e9
    location = frozenset({("site", "a-1"), ("basis", "location")})
    assert samples["greenwatch_site_carbon_grams_total", location] == 7e5
    month = {name for name, _ in samples if "month" in name or "national_facility_energy_j" in name}
    assert month == set()


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
    assert not any("_pue_" in name for name, _ in samples)  # no snapshot yet


def test_openmetrics_on_request_with_units_and_gzip() -> None:
    registry = build_registry(lambda: SNAPSHOT, lambda: HEALTH, _stats())
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    body, headers = exposition(registry, accept, "gzip")
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert headers["Content-Encoding"] == "gzip"
    text = gzip.decompress(body).decode()
    assert text.endswith("# EOF\n")
    assert "# UNIT greenwatch_national_pue_1h_ratio ratio" in text
    assert "# UNIT greenwatch_national_carbon_1h_grams grams" in text
    assert "# TYPE greenwatch_ingest_samples_received counter" in text
    assert "greenwatch_ingest_samples_received_total 10.0" in text


def test_every_exported_name_is_listed() -> None:
    """The names of /metrics (every figure at every level and window, health, counters) are
    exactly those in testdata/metric-names.txt: renaming one is a decision, not an accident."""
    listed = NAMES.read_text(encoding="utf-8").split()
    found = sorted(n for n in exported_names() if n.startswith("greenwatch_"))
    assert found == listed, f"update {NAMES} if the change is meant"
    pattern = re.compile(
        r"greenwatch_(?:(?:site|hub|region|national)_)?[a-z_]+?(?:_(?:1h|24h))?"
        r"(?:_[a-z_]+)?(?:_total|_info)?"
    )
    assert all(pattern.fullmatch(n) for n in found)
    assert not [n for n in found if "_scope_" in n]


@pytest.mark.integration
def test_promtool_finds_nothing_to_lint() -> None:
    promtool = need_binary("promtool")
    registry = build_registry(lambda: SNAPSHOT, lambda: HEALTH, _stats(), lambda: MONTH)
    body, _ = exposition(registry)
    done = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, b"")

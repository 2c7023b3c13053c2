"""OTLP and Influx exports of the snapshot: received by an OTLP endpoint and by VictoriaMetrics
(an InfluxDB-compatible engine) with the expected names, labels and values."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pandas as pd
import pytest

from greenwatch.export import (
    FIGURES,
    ExportSettings,
    ExportStats,
    InfluxSettings,
    KpiPoint,
    KpiSnapshot,
    OtlpExport,
    OtlpSettings,
    Window,
    snapshot_lines,
)
from tests.conftest import need_binary
from tests.export.conftest import T_END, serve, wait_for_snapshot
from tests.export.servers import otlp_receiver, victoriametrics

END = pd.Timestamp("2026-06-02T00:00:00Z")
SMALL = KpiSnapshot(
    taken_at=END + pd.Timedelta(seconds=20),
    windows=(Window("1h", END - pd.Timedelta(hours=1), END),),
    points=(
        KpiPoint("pue", (("scope", "national"), ("window", "1h")), 1.25, 0.99),
        KpiPoint("pue", (("scope", "site"), ("site", "a b,c=d"), ("window", "1h")), math.nan, 0.0),
        KpiPoint("carbon", (("scope", "national"), ("basis", "market"), ("window", "1h")), 5e6, 1),
        KpiPoint("pue_target", (("scope", "national"),), 1.5),
    ),
    duration_s=0.1,
)


def test_line_protocol_of_a_snapshot() -> None:
    assert snapshot_lines(SMALL) == [
        "greenwatch_kpi,kpi=pue,scope=national,unit=1,window=1h value=1.25,coverage=0.99 "
        "1780358400",
        r"greenwatch_kpi,kpi=pue,scope=site,site=a\ b\,c\=d,unit=1,window=1h coverage=0.0 "
        "1780358400",
        "greenwatch_kpi,basis=market,kpi=carbon,scope=national,unit=g,window=1h "
        "value=5000000.0,coverage=1.0 1780358400",
        "greenwatch_kpi,kpi=pue_target,scope=national,unit=1 value=1.5 1780358420",
    ]


def test_otlp_export_reaches_an_otlp_endpoint() -> None:
    stats = ExportStats()
    with otlp_receiver() as receiver:
        settings = OtlpSettings(receiver.url, {"Authorization": "Bearer s3cret"}, interval_s=3600)
        export = OtlpExport(settings, lambda: SMALL, stats)
        try:
            assert export.flush()
        finally:
            export.close()
        gauges = receiver.gauges()
        assert receiver.headers[0]["authorization"] == "Bearer s3cret"
    assert gauges["greenwatch.pue"][0] == ({"scope": "national", "window": "1h"}, 1.25)
    assert len(gauges["greenwatch.pue"]) >= 1  # the NaN site PUE is not sent
    assert all(math.isfinite(v) for _, v in gauges["greenwatch.pue"])
    coverage = {a.get("site", "national"): v for a, v in gauges["greenwatch.pue.coverage"]}
    assert coverage == {"national": 0.99, "a b,c=d": 0.0}
    assert gauges["greenwatch.carbon"][0] == (
        {"scope": "national", "basis": "market", "window": "1h"},
        5e6,
    )
    resource = receiver.requests[0].resource_metrics[0].resource
    assert {a.key: a.value.string_value for a in resource.attributes}["service.name"] == (
        "greenwatch"
    )
    units = {
        m.name: m.unit for m in receiver.requests[0].resource_metrics[0].scope_metrics[0].metrics
    }
    assert units["greenwatch.carbon"] == "g"
    assert stats.pushes[("otlp", "success")] >= 1


def test_a_service_pushes_its_snapshot_over_otlp(data_dir: Path) -> None:
    with otlp_receiver() as receiver:
        service = serve(
            data_dir,
            ExportSettings(otlp=OtlpSettings(receiver.url, interval_s=3600)),  # refreshes too
        )
        try:
            wait_for_snapshot(service)
            assert service.exports.otlp is not None
            assert service.exports.otlp.flush()
            snapshot = service.exports.snapshot
            assert snapshot is not None
            text = httpx.get(service.url + "metrics", timeout=10).text
        finally:
            service.stop()
        gauges = receiver.gauges()
    (national,) = snapshot.find("pue", scope="national", window="24h")
    sent = {tuple(sorted(a.items())): v for a, v in gauges["greenwatch.pue"]}
    assert sent[(("scope", "national"), ("window", "24h"))] == national.value
    names = {FIGURES[p.figure].otel for p in snapshot.points if math.isfinite(p.value)}
    assert names <= set(gauges)
    assert 'greenwatch_export_pushes_total{exporter="otlp",outcome="success"}' in text


@pytest.mark.integration
def test_influx_export_into_victoriametrics(tmp_path: Path, data_dir: Path) -> None:
    binary = need_binary("victoria-metrics")
    with victoriametrics(binary, tmp_path) as url:
        settings = ExportSettings(refresh_s=3600, influx=InfluxSettings(url, interval_s=3600))
        service = serve(data_dir, settings)
        try:
            wait_for_snapshot(service)
            written = service.exports.push_influx()
            assert service.exports.push_influx() == 0  # the same snapshot is written once
            snapshot = service.exports.snapshot
        finally:
            service.stop()
        assert snapshot is not None
        assert written > 0
        httpx.get(f"{url}/internal/force_flush", timeout=10)
        reply = httpx.get(
            f"{url}/api/v1/query",
            params={
                "query": 'greenwatch_kpi_value{kpi="pue",scope="national",window="24h"}',
                "time": str(T_END.timestamp()),
            },
            timeout=10,
        ).json()
        series = httpx.get(
            f"{url}/api/v1/series",
            params={
                "match[]": '{__name__=~"greenwatch_kpi_.*"}',
                "start": str((T_END - pd.Timedelta(days=2)).timestamp()),
                "end": str(T_END.timestamp()),
            },
            timeout=10,
        ).json()["data"]
    (national,) = snapshot.find("pue", scope="national", window="24h")
    (result,) = reply["data"]["result"]
    # VictoriaMetrics keeps 12 significant digits of a value (its decimal compression)
    assert float(result["value"][1]) == pytest.approx(national.value, rel=1e-11)
    assert result["metric"]["unit"] == "1"
    values = [s for s in series if s["__name__"] == "greenwatch_kpi_value"]
    coverages = [s for s in series if s["__name__"] == "greenwatch_kpi_coverage"]
    assert len(coverages) == sum(1 for p in snapshot.points if p.coverage is not None)
    assert len(values) == sum(1 for p in snapshot.points if math.isfinite(p.value))
    assert written == len(snapshot.points)

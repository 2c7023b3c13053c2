"""``GET /metrics`` of a running service: snapshot-backed, cheap, open by default, linted clean."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from greenwatch.export import ExportSettings
from greenwatch.export._samples import site_info
from greenwatch.inventory import Site, load_inventory
from greenwatch.service import Service
from greenwatch.service._tokens import TokenStore
from tests.conftest import need_binary
from tests.export.conftest import T_END, serve, wait_for_snapshot


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def _one(
    families: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    (value,) = [v for lab, v in families[name] if labels.items() <= lab.items()]
    return value


def test_metrics_serves_the_snapshot_and_health(service: Service) -> None:
    page = httpx.get(service.url + "metrics", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = _families(page.text)
    snapshot = service.exports.snapshot
    assert snapshot is not None
    (national,) = snapshot.find("pue", scope="national", window="24h")
    assert _one(families, "greenwatch_national_pue_24h_ratio") == national.value
    assert _one(families, "greenwatch_kpi_window_24h_end_timestamp_seconds") == T_END.timestamp()
    assert (
        _one(families, "greenwatch_kpi_window_1h_start_timestamp_seconds")
        == (T_END - pd.Timedelta(hours=1)).timestamp()
    )
    for name in (
        "greenwatch_site_pue_1h_ratio",
        "greenwatch_site_ppue_24h_ratio",
        "greenwatch_hub_wue_24h_litres_per_kilowatt_hour",
        "greenwatch_region_cue_1h_grams_per_kilowatt_hour",
        "greenwatch_national_carbon_24h_grams",
        "greenwatch_site_green_energy_share_1h_ratio",
        "greenwatch_hub_occupancy_24h_ratio",
        "greenwatch_link_utilisation_1h_ratio",
        "greenwatch_site_pue_24h_coverage_ratio",
        "greenwatch_site_facility_energy_joules_total",
        "greenwatch_site_carbon_grams_total",
        "greenwatch_ingest_samples_received_total",
        "greenwatch_alert_rules",
    ):
        assert name in families, name
    hubs = {lab["hub"] for lab, _ in families["greenwatch_hub_pue_24h_ratio"]}
    assert hubs == {"guizhou", "yangtze-delta"}
    assert all(
        "scope" not in lab and "window" not in lab for f in families.values() for lab, _ in f
    )


def _info_labels(site: Site) -> dict[str, str]:
    labels = {"site": site.id, "region": site.region.value, "kind": site.kind.value}
    return labels | ({"hub": site.hub} if site.hub else {})


def test_samples_page_carries_each_sites_inventory_labels(service: Service) -> None:
    page = httpx.get(service.url + "metrics/samples", timeout=10)
    assert page.status_code == 200
    info = _families(page.text)["greenwatch_site_info"]
    expected = [_info_labels(s) for s in service.inventory.sites]
    assert sorted(info, key=str) == sorted(((lab, 1.0) for lab in expected), key=str)


def test_site_info_has_no_hub_label_for_a_site_without_hub() -> None:
    sites = load_inventory().sites
    assert any(not s.hub for s in sites)
    assert any(s.hub for s in sites)
    family = site_info(sites)
    assert [s.labels for s in family.samples] == [_info_labels(s) for s in sites]


def test_a_scrape_computes_nothing(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """No read of the store serves a scrape; the scheduler's jobs (the snapshot, the dashboard
    drawn ahead) read on their own threads meanwhile and are not counted."""
    queries: list[str] = []
    original = service.store.query

    def counted(metric: str, *args: object, **kwargs: object) -> pd.DataFrame:
        if not threading.current_thread().name.startswith("ThreadPoolExecutor"):
            queries.append(metric)
        return original(metric, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service.store, "query", counted)
    before = service.exports.snapshot
    for _ in range(3):
        assert httpx.get(service.url + "metrics", timeout=10).status_code == 200
    assert queries == []
    assert service.exports.snapshot is before
    service.exports.refresh()  # what the scheduler job does
    assert "energy_joules_total" in queries


def test_openmetrics_and_gzip_on_request(service: Service) -> None:
    page = httpx.get(
        service.url + "metrics",
        headers={
            "Accept": "application/openmetrics-text; version=1.0.0",
            "Accept-Encoding": "gzip",
        },
        timeout=10,
    )
    assert page.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert page.headers["content-encoding"] == "gzip"
    assert page.text.endswith("# EOF\n")  # httpx decompressed it
    assert "# UNIT greenwatch_national_pue_24h_ratio ratio" in page.text
    assert "# UNIT greenwatch_site_facility_energy_joules joules" in page.text


def test_ingest_and_alert_health_move(service: Service, data_dir: Path) -> None:
    token = TokenStore.for_data_dir(data_dir).create(["write"], "centre", any_site=True)
    ns = int(T_END.value)
    body = f"power_watts,site=guian-1,meter=facility value=1000 {ns}\n"
    written = httpx.post(
        service.url + "api/v2/write",
        content=body,
        headers={"Authorization": f"Token {token}"},
        timeout=10,
    )
    assert written.status_code == 204, written.text
    assert service.alerts is not None
    service.alerts.evaluate()
    families = _families(httpx.get(service.url + "metrics", timeout=10).text)
    assert _one(families, "greenwatch_ingest_samples_received_total") == 1
    assert _one(families, "greenwatch_ingest_samples_stored_total") == 1
    assert _one(families, "greenwatch_alert_evaluation_duration_seconds") > 0
    assert _one(families, "greenwatch_alert_last_evaluation_timestamp_seconds") == (
        T_END.timestamp()
    )


def test_metrics_token_is_optional(data_dir: Path) -> None:
    tokens = TokenStore.for_data_dir(data_dir)
    reader, writer = (
        tokens.create(["read"], "prometheus"),
        tokens.create(["write"], "agent", any_site=True),
    )
    service = serve(data_dir, ExportSettings(refresh_s=None, metrics_token=True))
    try:
        url = service.url + "metrics"
        assert httpx.get(url, timeout=10).status_code == 401
        denied = httpx.get(url, headers={"Authorization": f"Bearer {writer}"}, timeout=10)
        assert denied.status_code == 403
        page = httpx.get(url, headers={"Authorization": f"Bearer {reader}"}, timeout=10)
        assert page.status_code == 200
        assert "_pue_" not in page.text  # refresh_s=None: health only
        assert "greenwatch_ingest_samples_received_total" in page.text
    finally:
        service.stop()


def test_a_failed_refresh_keeps_the_last_snapshot(service: Service) -> None:
    before = service.exports.snapshot

    def broken(*args: object, **kwargs: object) -> pd.DataFrame:
        raise OSError("disk gone")

    service.store.query = broken  # type: ignore[method-assign]
    assert service.exports.refresh() is None
    assert service.exports.snapshot is before
    text = httpx.get(service.url + "metrics", timeout=10).text
    assert "greenwatch_kpi_snapshot_failures_total 1.0" in text


@pytest.mark.integration
def test_promtool_check_metrics_on_the_live_page(service: Service) -> None:
    promtool = need_binary("promtool")
    service.exports.refresh()
    wait_for_snapshot(service)
    page = httpx.get(service.url + "metrics", timeout=10)
    done = subprocess.run(
        [promtool, "check", "metrics"],
        input=page.content,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, b"")

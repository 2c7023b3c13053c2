"""Paths of deploy/ and the register of which test checks which file there."""

from __future__ import annotations

import json

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"

SCALE_OUT_UNIT = "test_scale_out_files.py: verify, hardening, command parses"
# Every file in deploy/ and the test that checks it (test_every_deploy_file_is_checked).
CHECKED: dict[str, str] = {
    "README.md": "test_docs.py: relative links resolve, every listed path exists",
    "scale-out.md": "test_docs.py: relative links resolve",
    "prometheus/prometheus.yml": "test_prometheus.py: promtool check config (and its rule files)",
    "prometheus/rules/greenwatch-alerts.yml": "test_rules.py: regenerated, promtool check rules",
    "prometheus/rules/greenwatch-kpi.yml": "test_rules.py: promtool check/test rules, vmalert",
    "prometheus/rules/greenwatch-kpi.test.yml": "test_rules.py: promtool test rules",
    "vmalert/greenwatch-alerts.yml": "test_rules.py: regenerated, promtool, vmalert -dryRun",
    "victoriametrics/scrape.yml": "test_prometheus.py: victoria-metrics -promscrape.config.dryRun",
    "alertmanager/alertmanager.yml": "test_prometheus.py: amtool check-config",
    "systemd/greenwatch.service": "test_systemd.py: systemd-analyze verify, hardening keys",
    "systemd/greenwatch-agent.service": "test_systemd.py: systemd-analyze verify, hardening keys",
    "systemd/greenwatch-gpu-check.service": "test_systemd.py: hardening, verified with its timer",
    "systemd/scale-out/greenwatch-alertmanager.service": SCALE_OUT_UNIT,
    "systemd/scale-out/greenwatch-ingest@.service": SCALE_OUT_UNIT,
    "systemd/scale-out/greenwatch-ui.service": SCALE_OUT_UNIT,
    "systemd/scale-out/greenwatch-victoriametrics.service": SCALE_OUT_UNIT,
    "systemd/scale-out/greenwatch-vmagent.service": SCALE_OUT_UNIT,
    "systemd/scale-out/greenwatch-vmalert.service": SCALE_OUT_UNIT,
    "systemd/scale-out/greenwatch-vmauth.service": SCALE_OUT_UNIT,
    "systemd/greenwatch-gpu-check.timer": "test_systemd.py: systemd-analyze verify, daily",
    "compose/compose.yaml": "test_compose.py: structure, mounts, images, loopback ports",
    "compose/scale-out.yaml": "test_scale_out_files.py: roles, store, wiring, commands parse",
    "compose/vmauth-ingest.yml": "test_scale_out_files.py: vmauth starts on it, replicas",
    "compose/vmagent-scrape.yml": "test_scale_out_files.py: scrapes the ui+jobs process",
    "vmauth/ingest.yml": "test_scale_out_files.py: vmauth starts on it",
    "vmauth/cluster.yml": "test_scale_out_files.py: vmauth starts on it",
    "scale_demo.py": "test_scale_topology.py: the topology starts, is fed and answers",
    "compose/Dockerfile": "test_compose.py: instructions, sources, non-root user",
    "compose/.gitignore": "test_compose.py: secrets stay out of git",
    "grafana/greenwatch-dashboard.json": "test_grafana.py: panels, targets, exported metrics",
    "grafana/provisioning/datasources/greenwatch.yml": "test_grafana.py: structure",
    "grafana/provisioning/dashboards/greenwatch.yml": "test_grafana.py: structure, compose mount",
}


def deploy_files() -> list[str]:
    """Files under deploy/ (secrets, which compose reads from an ignored folder, left out)."""
    return sorted(
        str(p.relative_to(DEPLOY))
        for p in DEPLOY.rglob("*")
        if p.is_file() and "secrets" not in p.relative_to(DEPLOY).parts
    )


def read(path: str) -> str:
    return (DEPLOY / path).read_text(encoding="utf-8")


def dashboard_exprs() -> list[str]:
    """Every query of the Grafana dashboard (the Prometheus end-to-end test runs them all)."""
    board = json.loads(read("grafana/greenwatch-dashboard.json"))
    return [t["expr"] for p in board["panels"] if p["type"] != "row" for t in p["targets"]]


def exported_names() -> set[str]:
    """Every sample name greenwatch's /metrics can carry (one point of each figure, full health)."""
    import pandas as pd
    from prometheus_client.parser import text_string_to_metric_families

    from greenwatch.export import (
        FIGURES,
        CollectorHealth,
        ExportStats,
        KpiPoint,
        KpiSnapshot,
        ServiceHealth,
        Window,
        build_registry,
        exposition,
    )

    end = pd.Timestamp("2026-01-01T00:00:00Z")
    # The label shapes the snapshot gives: links, pools and device models have no level; the
    # figures of "now" (targets, rated FLOPS) no window.
    unlevelled = {"link_utilisation", "compute_verification_age", "compute_pool_verification"}
    unlevelled |= {"compute_devices_registered", "compute_devices_missing"}
    points = tuple(
        KpiPoint(f.key, tuple((k, v) for k, v in (("scope", level), ("window", w)) if v), 1, 1)
        for f in FIGURES.values()
        for level in (("",) if f.key in unlevelled else ("site", "hub", "region", "national"))
        for w in (("1h", "24h") if "over the window" in f.help else ("",))
    )
    windows = tuple(Window(w, end - pd.Timedelta(w), end) for w in ("1h", "24h"))
    snapshot = KpiSnapshot(end, windows, points, 0.1)
    health = ServiceHealth(
        collectors=(CollectorHealth("t", "p", "s", True, 0.1, 1.0),),
        alert_rules=1,
        alert_evaluation_s=0.1,
        alert_last_evaluation=1.0,
        store_memory_bytes=1,
        store_memory_limit_bytes=2,
    )
    stats = ExportStats()
    stats.record("otlp", ok=True)
    body, _ = exposition(build_registry(lambda: snapshot, lambda: health, stats, lambda: snapshot))
    return {s.name for f in text_string_to_metric_families(body.decode()) for s in f.samples}

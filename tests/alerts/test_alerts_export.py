"""``alerts export``: a Prometheus rule file that promtool accepts and vmalert loads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from greenwatch.alerts import load_rules, parse_rules, prometheus_rules
from greenwatch.model import load_yaml
from tests.conftest import need_binary

EXTRA = """rules:
  - alert: GpuHot
    kind: metric
    metric: temperature_celsius
    match: ['sensor=~".*gpu.*"', 'site!="lab"']
    agg: max
    window: 5m
    op: ">="
    threshold: 85.5
    for: 2m
    keep_firing_for: 10m
    annotations: {summary: "{sensor} {value:.1f} °C >= {threshold} ({window})"}
  - alert: Busy
    kind: metric
    metric: link_receive_bytes_total
    agg: rate
    scale: 8
    divide_by: {metric: link_capacity_bits_per_second, join_on: [site, link, interface]}
    window: 15m
    op: ">"
    threshold: 0.9
  - alert: First
    kind: metric
    metric: power_watts
    agg: first
    op: ">"
    threshold: 1
"""


def test_exported_expressions() -> None:
    out = prometheus_rules(parse_rules(load_yaml("extra.yaml", EXTRA)))
    doc = yaml.safe_load(out.text)
    rules = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    hot = 'max_over_time(temperature_celsius{sensor=~".*gpu.*",site!="lab"}[5m]) >= 85.5'
    assert rules["GpuHot"]["expr"] == (
        f"max without (job, instance) ({hot}) * on(site) group_left(region, kind, hub) "
        "max by (site, region, kind, hub) (greenwatch_site_info) "
        f"or on(site) max without (job, instance) ({hot})"
    )
    assert rules["GpuHot"]["keep_firing_for"] == "10m"
    assert rules["GpuHot"]["annotations"]["summary"] == (
        '{{ $labels.sensor }} {{ printf "%.1f" $value }} °C >= 85.5 (5m)'
    )
    assert rules["Busy"]["expr"].startswith(
        "max without (job, instance) ((8 * rate(link_receive_bytes_total[15m])) "
        "/ on(site, link, interface) last_over_time(link_capacity_bits_per_second[15m]) > 0.9)"
    )
    assert out.skipped == [("First", "aggregation 'first' has no PromQL function")]
    shipped = prometheus_rules(load_rules())
    assert "SiteDown" in shipped.exported
    assert "LinkSaturated" in shipped.exported
    assert {name for name, _ in shipped.skipped} == {
        "SitePueAboveTarget",
        "CoolingPartialPueHigh",
        "SiteOccupancyBelowTarget",
        "SiteCarbonIntensityHigh",
        "NationalPueAboveTarget",
        "SubmeterDrift",
        "HubNoData",
        "ComputeIdentifyMismatch",
        "ComputeVerificationFailed",
        "ComputeVerificationStale",
    }
    assert "NoDataArriving" in shipped.exported
    network = {r["alert"]: r for g in yaml.safe_load(shipped.text)["groups"] for r in g["rules"]}
    assert network["NoDataArriving"]["expr"] == (
        "count(count_over_time(power_watts[1d])) unless count(count_over_time(power_watts[5m]))"
    )
    vm = prometheus_rules(parse_rules(load_yaml("extra.yaml", EXTRA)), flavour="vmalert")
    assert "# keep_firing_for left out for vmalert: GpuHot" in vm.text
    assert "keep_firing_for:" not in vm.text


def exported(tmp_path: Path, flavour: str) -> Path:
    path = tmp_path / f"{flavour}.yml"
    path.write_text(prometheus_rules(load_rules(), flavour=flavour).text, encoding="utf-8")
    extra = tmp_path / f"{flavour}-extra.yml"
    extra.write_text(
        prometheus_rules(parse_rules(load_yaml("x", EXTRA)), flavour=flavour).text, encoding="utf-8"
    )
    return path


@pytest.mark.integration
def test_promtool_accepts_the_export(tmp_path: Path) -> None:
    promtool = need_binary("promtool", "/usr/bin/promtool")
    path = exported(tmp_path, "prometheus")
    result = subprocess.run(
        [promtool, "check", "rules", str(path), str(tmp_path / "prometheus-extra.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout
    assert "SUCCESS: 2 rules found" in result.stdout


@pytest.mark.integration
def test_vmalert_loads_the_export(tmp_path: Path) -> None:
    vmalert = need_binary("vmalert", "/usr/bin/vmalert")
    path = exported(tmp_path, "vmalert")
    result = subprocess.run(
        [vmalert, f"-rule={path}", f"-rule={tmp_path / 'vmalert-extra.yml'}", "-dryRun"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""Prometheus, VictoriaMetrics scrape and Alertmanager configs load in the real tools."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import need_binary
from tests.deploy.conftest import DEPLOY, read


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.integration
def test_promtool_check_config() -> None:
    promtool = need_binary("promtool")
    done = _run(promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 rule files found" in done.stdout


def test_prometheus_scrapes_greenwatch_metrics() -> None:
    config = yaml.safe_load(read("prometheus/prometheus.yml"))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "greenwatch"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:8050"]
    for rule_file in config["rule_files"]:
        assert (DEPLOY / "prometheus" / rule_file).is_file()


@pytest.mark.integration
def test_victoriametrics_accepts_the_scrape_config(tmp_path: Path) -> None:
    vm = need_binary("victoria-metrics")
    for path, ok in (
        (DEPLOY / "victoriametrics" / "scrape.yml", True),
        (tmp_path / "bad.yml", False),  # the dry run does reject a bad file
    ):
        if not ok:
            path.write_text("scrape_configs:\n  - job_name: x\n    scrape_intervall: 1m\n", "utf-8")
        done = _run(
            vm,
            f"-promscrape.config={path}",
            "-promscrape.config.dryRun",
            "-loggerLevel=ERROR",
            f"-storageDataPath={tmp_path / 'vm'}",
        )
        assert (done.returncode == 0) is ok, done.stdout + done.stderr


@pytest.mark.integration
def test_amtool_check_config() -> None:
    amtool = need_binary("amtool")
    done = _run(amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_alertmanager_secrets_come_from_files() -> None:
    text = read("alertmanager/alertmanager.yml")
    config = yaml.safe_load(text)
    assert "smtp_auth_password" not in config["global"]
    assert config["global"]["smtp_auth_password_file"].startswith("/etc/alertmanager/")
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            assert "credentials_file" in hook["http_config"]["authorization"]

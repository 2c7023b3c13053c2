"""End to end: a real Prometheus scrapes ``greenwatch serve`` and agrees with ``greenwatch kpi``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.cli import main
from tests.conftest import need_binary
from tests.deploy.conftest import dashboard_exprs
from tests.export.conftest import T_END, serve, wait_for_snapshot
from tests.export.servers import instant, prometheus, wait_for

NATIONAL = "greenwatch_national_pue_24h_ratio"


def _iso(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").isoformat()


@pytest.mark.integration
def test_prometheus_scrapes_greenwatch_and_agrees_with_greenwatch_kpi(
    tmp_path: Path, data_dir: Path, network_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = need_binary("prometheus")
    service = serve(data_dir)
    try:
        wait_for_snapshot(service)
        assert service.alerts is not None
        service.alerts.evaluate()  # so the alert-engine health the dashboard shows exists
        with prometheus(binary, tmp_path, f"127.0.0.1:{service.http.port}") as url:
            (national,) = wait_for(url, NATIONAL)
            (start,) = instant(url, "greenwatch_kpi_window_24h_start_timestamp_seconds")
            (end,) = instant(url, "greenwatch_kpi_window_24h_end_timestamp_seconds")
            (up,) = instant(url, 'up{job="greenwatch"}')
            assert up["value"][1] == "1"
            # three scrapes, so rate() over the dashboard's interval has points
            wait_for(url, 'count_over_time(up{job="greenwatch"}[1m]) >= 3')
            empty = [
                expr
                for expr in dashboard_exprs()
                if not instant(
                    url, expr.replace("${window}", "24h").replace("$__rate_interval", "1m")
                )
            ]
            assert empty == [], "Grafana panels with no data"
    finally:
        service.stop()
    assert (float(start["value"][1]), float(end["value"][1])) == (
        (T_END - pd.Timedelta(hours=24)).timestamp(),
        T_END.timestamp(),
    )
    capsys.readouterr()
    argv = ["kpi", "pue", "--national", "--format", "json", "--data-dir", str(data_dir)]
    argv += ["--inventory", str(network_file)]
    argv += ["--start", _iso(float(start["value"][1])), "--end", _iso(float(end["value"][1]))]
    assert main(argv) == 0
    (answer,) = json.loads(capsys.readouterr().out)
    assert float(national["value"][1]) == answer["value"]  # bit for bit, through Prometheus
    assert national["metric"] == {
        "__name__": "greenwatch_national_pue_24h_ratio",
        "instance": f"127.0.0.1:{service.http.port}",
        "job": "greenwatch",
    }

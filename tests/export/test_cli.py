"""``greenwatch export-kpis``: one snapshot from a data directory, printed or pushed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenwatch.cli import main
from tests.conftest import free_port
from tests.export.conftest import T_END
from tests.export.servers import otlp_receiver


def _common(data_dir: Path, network_file: Path) -> list[str]:
    return ["--data-dir", str(data_dir), "--inventory", str(network_file), "--at", str(T_END)]


def test_json_snapshot_agrees_with_greenwatch_kpi(
    data_dir: Path, network_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = _common(data_dir, network_file)
    assert main(["export-kpis", "--format", "json", "--window", "6h", *common]) == 0
    snapshot = json.loads(capsys.readouterr().out)
    (window,) = snapshot["windows"]
    assert (window["window"], window["end"]) == ("6h", T_END.isoformat())
    (national,) = [
        p
        for p in snapshot["points"]
        if p["name"] == "greenwatch_pue_ratio" and p["labels"]["scope"] == "national"
    ]
    argv = ["kpi", "pue", "--national", "--format", "json", "--data-dir", str(data_dir)]
    argv += ["--inventory", str(network_file), "--start", window["start"], "--end", window["end"]]
    assert main(argv) == 0
    (answer,) = json.loads(capsys.readouterr().out)
    assert national["value"] == answer["value"]
    assert national["coverage"] == answer["coverage"]


def test_prometheus_and_line_protocol_printouts(
    data_dir: Path, network_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    common = _common(data_dir, network_file)
    assert main(["export-kpis", *common]) == 0
    text = capsys.readouterr().out
    assert "# TYPE greenwatch_national_pue_24h_ratio gauge" in text
    assert "\ngreenwatch_national_pue_24h_ratio " in text
    out = tmp_path / "kpis.lp"
    assert main(["export-kpis", "--format", "lp", "--out", str(out), *common]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("greenwatch_kpi,kpi=pue,scope=national,") for line in lines)
    assert all(line.startswith("greenwatch_kpi,") for line in lines)


def test_otlp_push_with_a_token_from_a_file(
    data_dir: Path, network_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    token = tmp_path / "otlp.token"
    token.write_text("s3cret\n", encoding="utf-8")
    with otlp_receiver() as receiver:
        argv = ["export-kpis", "--format", "none", "--otlp-endpoint", receiver.url]
        assert main([*argv, "--otlp-token-file", str(token), *_common(data_dir, network_file)]) == 0
        gauges = receiver.gauges()
        assert receiver.headers[0]["authorization"] == "Bearer s3cret"
    assert "OTLP: pushed to" in capsys.readouterr().out
    national = [v for a, v in gauges["greenwatch.pue"] if a.get("scope") == "national"]
    assert len(national) == 2  # 1h and 24h


def test_a_failed_push_exits_1_and_a_missing_store_2(
    data_dir: Path, network_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    argv = ["export-kpis", "--format", "none", "--influx-url", closed]
    assert main([*argv, *_common(data_dir, network_file)]) == 1
    assert "Influx write to" in capsys.readouterr().err
    empty = ["--data-dir", str(tmp_path / "nothing"), "--inventory", str(network_file)]
    assert main(["export-kpis", *empty]) == 2
    assert "no store at" in capsys.readouterr().err
    assert main(["export-kpis", "--window", "soon", *_common(data_dir, network_file)]) == 2
    assert "--window 'soon'" in capsys.readouterr().err


def test_serve_options_give_export_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from greenwatch.cli._args.shared import add_export_args
    from greenwatch.cli._export_args import export_settings

    parser = argparse.ArgumentParser()
    add_export_args(parser)
    monkeypatch.setenv("GREENWATCH_INFLUX_TOKEN", "influx-secret")
    monkeypatch.delenv("GREENWATCH_OTLP_TOKEN", raising=False)
    defaults = export_settings(parser.parse_args([]))
    assert (defaults.refresh_s, defaults.metrics_token, defaults.otlp, defaults.influx) == (
        60.0,
        False,
        None,
        None,
    )
    assert set(defaults.windows) == {"1h", "24h"}
    argv = ["--kpi-refresh", "30", "--metrics-token", "--window", "7d", "--push-interval", "120"]
    argv += ["--otlp-endpoint", "http://collector:4318/v1/metrics", "--influx-url", "http://vm"]
    settings = export_settings(parser.parse_args(argv))
    assert settings.refresh_s == 30.0
    assert settings.metrics_token
    assert list(settings.windows) == ["7d"]
    assert settings.otlp is not None
    assert settings.otlp.headers == {}
    assert settings.otlp.interval_s == 120.0
    assert settings.influx is not None
    assert (settings.influx.url, settings.influx.token) == ("http://vm", "influx-secret")
    with pytest.raises(SystemExit):
        parser.parse_args(["--kpi-refresh", "soon"])

"""``greenwatch token``, ``export`` and ``agent`` from the command line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenwatch.cli import main
from greenwatch.ingest import parse_lines
from greenwatch.model import make_batch
from greenwatch.service._tokens import TokenStore
from greenwatch.store import DuckDBStore
from tests.ingest.conftest import Server

T0 = pd.Timestamp("2026-03-01T00:00:00Z")


def test_token_create_prints_once_and_stores_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["token", "create", "--scope", "write", "--name", "telegraf", "--site", "guian-1",
                 "--data-dir", str(tmp_path)])  # fmt: skip
    assert code == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("gw_")
    info = TokenStore.for_data_dir(tmp_path).check(token)
    assert info is not None
    assert (info.name, info.scopes, info.sites) == ("telegraf", ("write",), ("guian-1",))
    assert token not in (tmp_path / "tokens.json").read_text()
    assert main(["token", "list", "--data-dir", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert "telegraf" in listed
    assert token not in listed


def _fill(data_dir: Path) -> pd.DataFrame:
    store = DuckDBStore(data_dir / "greenwatch.duckdb")
    ts = pd.date_range(T0, periods=90, freq="1min")
    batch = pd.concat(
        [
            make_batch(ts, "power_watts", np.arange(90) / 3, {"site": "a", "meter": "x y"}),
            make_batch(ts, "temperature_celsius", 20.5, {"site": "b", "sensor": "in,let"}),
        ],
        ignore_index=True,
    )
    store.write(batch)
    store.close()
    return batch


def test_export_line_protocol_round_trips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(tmp_path)
    args = ["export", "--format", "lp", "--metric", "power_watts", "--data-dir", str(tmp_path),
            "--start", "2026-03-01T00:30:00Z", "--end", "2026-03-01T01:00:00Z"]  # fmt: skip
    assert main(args) == 0
    parsed = parse_lines(capsys.readouterr().out, "ns", 0)
    assert parsed.errors == []
    assert parsed.series == [("power_watts", {"site": "a", "meter": "x y"})]
    assert list(parsed.rows["value"]) == [i / 3 for i in range(30, 60)]


def test_export_csv_of_all_metrics_to_a_file(tmp_path: Path) -> None:
    _fill(tmp_path)
    out = tmp_path / "out.csv"
    args = ["export", "--format", "csv", "--data-dir", str(tmp_path), "--out", str(out),
            "--start", "2026-03-01", "--end", "2026-03-02", "--label", "site=b"]  # fmt: skip
    assert main(args) == 0
    frame = pd.read_csv(out)
    assert set(frame["metric"]) == {"temperature_celsius"}
    assert len(frame) == 90
    assert set(frame["sensor"]) == {"in,let"}


def test_export_from_a_running_server(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    with server.client("write") as client:
        body = "link_latency_seconds,site=a,link=a--b value=0.0125 1772323200000000000"
        assert client.post("/api/v2/write", content=body).status_code == 204
    args = ["export", "--url", server.url, "--token", server.tokens["read"],
            "--start", "2026-03-01", "--end", "2026-03-02"]  # fmt: skip
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == body


def test_agent_config_errors_exit_2_with_file_line_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("central:\n  url: nope\n  token: {env: X}\n", encoding="utf-8")
    assert main(["agent", "--config", str(config)]) == 2
    assert f"{config}:2: central.url" in capsys.readouterr().err


@pytest.mark.integration
def test_agent_command_forwards_collected_batches(server: Server, tmp_path: Path) -> None:
    exporter_port = server.service.http.port  # greenwatch itself is an HTTP target here
    config = tmp_path / "agent.yaml"
    config.write_text(
        json.dumps(
            {
                "central": {"url": server.url, "token": {"env": "GW_AGENT_TOKEN"}},
                "buffer": {"path": "buffer.sqlite"},
                "forward": {"backoff_initial_s": 0.1, "flush_s": 5},
                "targets": [
                    {
                        "name": "exporter-1",
                        "site": "edge-1",
                        "profile": "node-exporter",
                        "url": f"http://127.0.0.1:{exporter_port}/healthz",
                        "interval_s": 0.5,
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    env = {"GW_AGENT_TOKEN": server.tokens["write"], "PATH": "/usr/bin:/bin"}
    with (tmp_path / "agent.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "greenwatch.cli", "agent", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 120  # a cold start of the CLI on a busy machine
        while time.monotonic() < deadline and server.query("collector_up").empty:
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    up = server.query("collector_up")
    assert set(up["site"]) == {"edge-1"}, (tmp_path / "agent.log").read_text()[-2000:]
    assert set(up["target"]) == {"exporter-1"}
    assert proc.returncode == 0
    assert (tmp_path / "buffer.sqlite").exists()

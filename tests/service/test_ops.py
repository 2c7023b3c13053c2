"""A data directory operated from a shell while ``greenwatch serve`` runs on it: read commands
find the server, a backup under write load holds every acknowledged sample, and a restored
directory serves the same KPIs; the server leaves nothing behind on a clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest
from tests.conftest import free_port

from greenwatch.inventory import load_inventory
from greenwatch.service import Service
from greenwatch.service._local import ADMIN_TOKEN_FILE, SERVER_FILE
from greenwatch.store import DuckDBStore

GW = [sys.executable, "-m", "greenwatch.cli"]


def gw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GW, *args], capture_output=True, text=True, timeout=300, check=False)


@contextmanager
def serving(data: Path) -> Iterator[tuple[str, str]]:
    """``greenwatch serve`` on ``data`` in a child process; yields (url, admin token)."""
    proc = subprocess.Popen(
        [*GW, "serve", "--data-dir", str(data), "--port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (data / SERVER_FILE).exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        url = json.loads((data / SERVER_FILE).read_text(encoding="utf-8"))["url"]
        token = (data / ADMIN_TOKEN_FILE).read_text(encoding="utf-8").strip()
        yield url, token
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0
    assert not (data / SERVER_FILE).exists(), "server.json is removed on a clean stop"


def _writer(url: str, token: str, stop: threading.Event, acked: list[int]) -> None:
    """One sample per request (facility power of guian-1, a second apart); each
    acknowledged timestamp goes to ``acked``."""
    t0 = int(pd.Timestamp.now(tz="UTC").floor("h").timestamp()) - 3600
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        k = 0
        while not stop.is_set():
            ts = t0 + k
            line = f"power_watts,site=guian-1,meter=facility value={1e6 + k} {ts}"
            answer = client.post("/api/v2/write", params={"precision": "s"}, content=line)
            assert answer.status_code == 204, answer.text
            acked.append(ts)
            k += 1


@pytest.mark.integration
def test_backup_under_write_load_restores_every_acknowledged_sample(tmp_path: Path) -> None:
    data, restored = tmp_path / "data", tmp_path / "restored"
    assert gw("demo", "--days", "1", "--no-serve", "--data-dir", str(data)).returncode == 0
    start, end = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(hours=6), None
    with serving(data) as (url, token):
        assert os.stat(data / ADMIN_TOKEN_FILE).st_mode & 0o777 == 0o600
        end = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(hours=2)
        period = ["--start", start.isoformat(), "--end", end.isoformat(), "--format", "json"]
        kpi = gw("kpi", "pue", "--site", "guian-1", "--data-dir", str(data), *period)
        assert kpi.returncode == 0, kpi.stderr  # asked the server: no lock error
        served = json.loads(kpi.stdout)
        stop, acked = threading.Event(), list[int]()
        writer = threading.Thread(target=_writer, args=(url, token, stop, acked))
        writer.start()
        while len(acked) < 20:
            time.sleep(0.05)
        before = list(acked)  # acknowledged before the backup began
        backup = gw("backup", "--data-dir", str(data), "--out", str(tmp_path / "b.tar.gz"))
        stop.set()
        writer.join()
        assert backup.returncode == 0, backup.stderr
    done = gw("restore", str(tmp_path / "b.tar.gz"), "--data-dir", str(restored))
    assert done.returncode == 0, done.stderr
    for name in ("greenwatch.duckdb", "resources.sqlite", "tokens.json", "demo.json"):
        assert (restored / name).exists(), name
    store = DuckDBStore(restored / "greenwatch.duckdb", create=False)
    got = store.query(
        "power_watts",
        pd.Timestamp(min(before), unit="s", tz="UTC"),
        pd.Timestamp(max(before) + 1, unit="s", tz="UTC"),
        labels={"site": "guian-1", "meter": "facility"},
    )
    stored = set((got["ts"].astype("int64") // 10**9).tolist())
    assert set(before) <= stored
    service = Service(store, load_inventory(), port=free_port(), data_dir=restored)
    service.start()
    try:
        answer = httpx.get(
            f"{service.url}api/v1/kpi",
            params={
                "kpi": "pue",
                "scope": "site:guian-1",
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
            headers={"Authorization": f"Token {token}"},
        )
    finally:
        service.stop()
    assert answer.json()["data"] == served


@pytest.mark.integration
def test_next_to_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serving(data) as (url, token):
        pid = json.loads((data / SERVER_FILE).read_text(encoding="utf-8"))["pid"]
        second = gw("serve", "--data-dir", str(data), "--port", str(free_port()))
        assert second.returncode == 1
        assert f"in use by another process (PID {pid})" in second.stderr
        assert "Traceback" not in second.stderr
        port = url.rsplit(":", 1)[1].strip("/")
        taken = gw("serve", "--data-dir", str(tmp_path / "other"), "--port", port)
        assert taken.returncode == 1
        assert f"port {port} on 127.0.0.1 is in use" in taken.stderr
        assert "Traceback" not in taken.stderr
        check = gw("store", "check", "--data-dir", str(data))
        assert check.returncode == 2
        assert f"greenwatch serve (PID {pid})" in check.stderr
        day = f"{pd.Timestamp.now(tz='UTC') - pd.Timedelta(days=2):%Y-%m-%d}"
        report = gw("report", "--period", day, "--format", "csv", "--data-dir", str(data))
        assert report.returncode == 0, report.stderr
        assert f"archived by {url.rstrip('/')}" in report.stdout
        listed = httpx.get(f"{url}api/v1/reports", headers={"Authorization": f"Token {token}"})
        assert [r["period"] for r in listed.json()["data"]] == [day]

"""``kill -9`` of a ``greenwatch serve`` during ingest: every sample that got a 2xx survives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from greenwatch.service._tokens import TokenStore
from tests.conftest import free_port

pytestmark = pytest.mark.integration
T0 = 1_772_323_200  # 2026-03-01T00:00:00Z
GREENWATCH = [sys.executable, "-m", "greenwatch.cli"]
METERS = ("facility", "it_ups_output", "it_pdu_output")  # one per writer


def _serve(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*GREENWATCH, "serve", "--data-dir", str(data_dir), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("greenwatch serve did not become ready")


def test_kill_9_during_ingest_loses_nothing_acknowledged(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    tokens = TokenStore.for_data_dir(data_dir)
    write, read = tokens.create(["write"], any_site=True), tokens.create(["read"])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(data_dir, port, tmp_path / "serve.log")
    acknowledged: list[tuple[int, int]] = []  # (writer, batch)
    stop = threading.Event()

    def writer(k: int) -> None:
        with httpx.Client(headers={"Authorization": f"Token {write}"}, timeout=5) as client:
            batch = 0
            while not stop.is_set():
                lines = "\n".join(
                    f"power_watts,site=guian-1,meter={METERS[k]} value={batch * 1000 + i} "
                    f"{T0 + batch * 1000 + i}"
                    for i in range(1000)
                )
                try:
                    answer = client.post(
                        f"{url}/api/v2/write", params={"precision": "s"}, content=lines
                    )
                except httpx.HTTPError:
                    return  # the server is gone
                if answer.status_code == 204:
                    acknowledged.append((k, batch))
                batch += 1

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(2.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acknowledged) > 3
    proc = _serve(data_dir, port, tmp_path / "serve.log")
    try:
        answer = httpx.get(
            f"{url}/api/v1/query",
            params={
                "metric": "power_watts",
                "site": "guian-1",
                "start": "2026-01-01",
                "end": "2027-01-01",
            },
            headers={"Authorization": f"Bearer {read}"},
            timeout=60,
        )
        got = pd.DataFrame(answer.json()["data"])
        stored = set(zip(got["meter"], got["value"].astype(int), strict=True))
        for k, batch in acknowledged:
            for i in (0, 500, 999):
                assert (METERS[k], batch * 1000 + i) in stored, (k, batch)
        assert len(got) >= 1000 * len(acknowledged)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

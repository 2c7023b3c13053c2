"""``GET /api/v1/compute`` and ``greenwatch compute``: figures over the registry's pools.

A pool registered through the API (with a passing HPL run and a failing GPU check) must show in
the figures the next request computes: rated FLOPS up, the failed pool nothing available.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from greenwatch.cli import main
from greenwatch.cli._common import STORE_FILE
from greenwatch.store import DuckDBStore
from tests.resources import NOW, h100_pool, serving

H100_FP16 = 989.4e12


def _ai(body: dict[str, Any], key: str, column: str) -> float:
    """One figure of the AI row of ``key`` in a compute answer."""
    row = next(r for r in body["rows"] if r["key"] == key and r["class"] == "ai")
    return float(row[column])


def test_compute_api_follows_the_registry(tmp_path: Path) -> None:
    with serving(tmp_path) as running, running.client("admin") as admin:
        before = admin.get("/api/v1/compute", params={"level": "site"}).json()
        created = admin.post("/api/v1/resources", json={"site": "guian-1", "pool": h100_pool()})
        assert created.status_code == 201
        record = {
            "site": "guian-1",
            "pool": "burst",
            "benchmark": "gpu-matmul",
            "precision": "fp16",
            "measured_flops": 0.0,
            "devices": 64,
            "passed": False,
            "detail": "wrong product",
            "at": (NOW - pd.Timedelta(hours=1)).isoformat(),
        }
        assert admin.post("/api/v1/resources/verifications", json=record).status_code == 201
        after = admin.get("/api/v1/compute", params={"level": "site"}).json()
        # 64 x 989.4 TFLOPS = 63.3216 PFLOPS more rated, none of it available (check failed)
        added = _ai(after, "guian-1", "rated_pflops") - _ai(before, "guian-1", "rated_pflops")
        assert added == pytest.approx(64 * H100_FP16 / 1e15)
        assert _ai(after, "guian-1", "available_pflops") == pytest.approx(
            _ai(before, "guian-1", "available_pflops")
        )
        failed = [u for u in after["unverified"] if u["pool"] == "burst"]
        assert failed[0]["verification"] == "failed"
        bad = admin.get("/api/v1/compute", params={"level": "galaxy"})
        assert bad.status_code == 400
        assert "unknown level 'galaxy'" in bad.json()["message"]
        csv = admin.get("/api/v1/compute", params={"format": "csv"})
        assert csv.text.splitlines()[0].startswith("key,class,pools,devices,rated_pflops")
    with serving(tmp_path) as running, running.client(None) as anonymous:
        assert anonymous.get("/api/v1/compute").status_code == 401


def test_compute_cli_reads_the_registry_in_the_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(tmp_path) as running, running.client("admin") as admin:
        body = {"site": "ai-wuhan", "pool": h100_pool("phase2", 200)}
        assert admin.post("/api/v1/resources", json=body).status_code == 201
    DuckDBStore(tmp_path / STORE_FILE).close()  # a data directory holds its store (in memory above)
    args = ["compute", "--data-dir", str(tmp_path), "--level", "site", "--format", "json"]
    assert main([*args, "--end", NOW.isoformat()]) == 0
    out = json.loads(capsys.readouterr().out)
    # Phase 1: 400 Ascend 910 x 256 TFLOPS; phase 2: 200 H100 x 989.4 TFLOPS
    assert _ai(out, "ai-wuhan", "rated_pflops") == pytest.approx(102.4 + 200 * 0.9894)
    assert main(["compute", "--data-dir", str(tmp_path), "--end", NOW.isoformat()]) == 0
    table = capsys.readouterr().out
    assert "west share of ai:" in table
    assert "verification never: " in table

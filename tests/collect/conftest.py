"""Fixtures for collector tests: a fixed clock, golden batches, real loopback servers."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.model import label_columns
from tests.collect.nvml_trace import TraceNvml, load_trace
from tests.collect.servers import StaticServer

TESTDATA = Path(__file__).parent / "testdata"
T0 = datetime(2026, 11, 23, 6, 26, 11, tzinfo=UTC)
UPDATE = os.environ.get("GREENWATCH_UPDATE_GOLDEN") == "1"


def fixed_clock() -> datetime:
    return T0


def canonical(batch: pd.DataFrame) -> pd.DataFrame:
    """A batch in a stable row and column order, labels as text ('' for none)."""
    labels = sorted(c for c in label_columns(batch) if batch[c].notna().any())
    out = batch[["ts", "metric", "value", *labels]].copy()
    out["ts"] = out["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for name in labels:
        out[name] = out[name].fillna("").astype(str)
    return out.sort_values(["metric", *labels], kind="stable").reset_index(drop=True)


def assert_golden(batch: pd.DataFrame, name: str) -> None:
    """Compare a batch with ``testdata/<name>.csv`` (GREENWATCH_UPDATE_GOLDEN=1 rewrites it)."""
    path = TESTDATA / f"{name}.csv"
    got = canonical(batch)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        got.to_csv(path, index=False, float_format="%.10g")
    want = pd.read_csv(path, dtype=str, keep_default_na=False)
    want["value"] = want["value"].astype("float64")
    assert list(got.columns) == list(want.columns), f"{name}: columns differ"
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), want[got.columns], check_dtype=False, rtol=1e-9
    )


@pytest.fixture
def redfish_tree(shared_data: Path) -> Iterator[StaticServer]:
    """The DMTF rack-mount server mockup on loopback."""
    with StaticServer(shared_data / "redfish" / "dmtf-public-rackmount1") as server:
        yield server


@pytest.fixture
def gpu_tree(shared_data: Path, tmp_path: Path) -> Iterator[StaticServer]:
    """The rack-mount mockup plus ``testdata/redfish/rackmount1-gpus`` (its Processors: the
    DMTF CPU1, CPU2, FPGA1 and eight constructed H100 GPUs) on loopback."""
    root = tmp_path / "rackmount1-gpus"
    shutil.copytree(shared_data / "redfish" / "dmtf-public-rackmount1", root)
    shutil.copytree(TESTDATA / "redfish" / "rackmount1-gpus", root, dirs_exist_ok=True)
    with StaticServer(root) as server:
        yield server


@pytest.fixture
def pdu_tree(shared_data: Path) -> Iterator[StaticServer]:
    """The DMTF PDU mockup on loopback."""
    with StaticServer(shared_data / "redfish" / "dmtf-public-pdu") as server:
        yield server


@pytest.fixture
def trace(shared_data: Path) -> TraceNvml:
    """The real H100 NVML trace, replayed by the collector's NVML interface."""
    return load_trace(shared_data)

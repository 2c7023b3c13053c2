"""The real H100 trace (shared/data/gpu-h100/gpu-nvml-trace.csv) as a frame: ts (UTC, whole
milliseconds), power_w (W) and energy_j (the NVML total-energy counter, in J)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def load_trace(shared_data: Path) -> pd.DataFrame:
    raw = pd.read_csv(shared_data / "gpu-h100" / "gpu-nvml-trace.csv")
    # t_unix_s has millisecond resolution; round to whole ms so float noise never shifts a sample.
    ms = np.round(raw["t_unix_s"].to_numpy() * 1000).astype(np.int64)
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(ms, unit="ms", utc=True).as_unit("ns"),
            "power_w": raw["power_w"].astype(float),
            "energy_j": raw["energy_mj_counter"].astype(float) / 1000.0,
        }
    )

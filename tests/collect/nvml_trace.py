"""The real H100 NVML trace replayed through the collector's injectable NVML interface."""

from __future__ import annotations

import ast
import csv
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path


class TraceNvml:
    """:class:`NvmlApi` replaying gpu-nvml-trace.csv: one row per ``read``, as NVML would
    return it (power in integer mW, energy in mJ, utilisation in %, memory in bytes).

    ``names`` lists the host's GPUs (default: the traced H100 alone); every GPU replays the
    same row."""

    def __init__(self, rows: list[dict[str, str]], meta: Mapping[str, object]) -> None:
        self.rows = rows
        self.meta = meta
        self.names = [str(meta["name"])]
        self.position = -1
        self.stride = 1
        self.initialised = 0

    def init(self) -> None:
        self.initialised += 1

    def device_count(self) -> int:
        return len(self.names)

    def identity(self, index: int) -> Mapping[str, str]:
        return {"uuid": f"GPU-00000000-0000-0000-0000-{index:012d}", "name": self.names[index]}

    def read(self, index: int) -> Mapping[str, float | None]:
        assert index < len(self.names)
        row = self.rows[self.position]
        return {
            "power_mw": round(float(row["power_w"]) * 1000),
            "energy_mj": float(row["energy_mj_counter"]),
            "util_gpu_pct": float(row["util_gpu_pct"]),
            "util_mem_pct": float(row["util_mem_pct"]),
            "mem_used_bytes": float(row["mem_used_bytes"]),
            "temp_c": float(row["temp_c"]),
            "sm_clock_mhz": float(row["sm_clock_mhz"]),
        }

    def shutdown(self) -> None:
        pass

    def clock(self) -> datetime:
        """The collector's clock: advances the trace ``stride`` rows, returns the row's time."""
        self.position += 1 if self.position < 0 else self.stride
        return datetime.fromtimestamp(float(self.rows[self.position]["t_unix_s"]), UTC)


def load_trace(shared_data: Path) -> TraceNvml:
    """``shared/data/gpu-h100``'s trace and metadata, ready to replay."""
    folder = shared_data / "gpu-h100"
    with (folder / "gpu-nvml-trace.csv").open() as f:
        rows = list(csv.DictReader(f))
    meta = ast.literal_eval((folder / "gpu-meta.txt").read_text())
    return TraceNvml(rows, meta)

"""Tiny builders for sample frames in the metrics tests."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

T0 = pd.Timestamp("2025-01-01T00:00:00Z")


def at(seconds: float) -> pd.Timestamp:
    """T0 + seconds."""
    return T0 + pd.Timedelta(seconds=seconds)


def frame(points: Sequence[tuple[float, float]]) -> pd.DataFrame:
    """Samples (seconds after T0, value) as a ts/value frame, in the given order."""
    return pd.DataFrame(
        {
            "ts": pd.DatetimeIndex([at(s) for s, _ in points], dtype="datetime64[ns, UTC]"),
            "value": [float(v) for _, v in points],
        }
    )

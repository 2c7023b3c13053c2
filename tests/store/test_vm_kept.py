"""Rows kept in memory for a process reading VictoriaMetrics: a row is taken while no late-data
marker written since its read began (less the skew) reaches its hour, and only while the markers
read cover its read; whatever the rows, reads and markers, the rows taken are exactly those."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwatch.store._vmkept import KeptInMemory
from greenwatch.store._vmrollup import STATE_LOOKBACK

HOUR = 3_600_000_000_000
NOW = 1_800_000_000 * 1_000_000_000
SKEW = 300_000_000_000
times = st.integers(NOW - 3 * STATE_LOOKBACK // 2, NOW)
hours = st.integers(0, 96).map(lambda h: NOW - STATE_LOOKBACK - h * HOUR)


@given(
    keeps=st.lists(
        st.tuples(times, st.lists(st.tuples(st.sampled_from("abc"), hours), min_size=1)),
        min_size=1,
        max_size=4,
    ),
    late=st.lists(st.tuples(times, hours), max_size=6),
)
@settings(max_examples=200, deadline=None)
def test_rows_taken_are_those_no_marker_reached(
    keeps: list[tuple[int, list[tuple[str, int]]]], late: list[tuple[int, int]]
) -> None:
    kept = KeptInMemory()
    latest: dict[tuple[str, int], tuple[int, int]] = {}  # (site, bucket) -> (read at, keep)
    for number, (read_at, rows) in enumerate(keeps):
        frame = pd.DataFrame(rows, columns=["site", "bucket"]).drop_duplicates()
        kept.keep("x", "v1", frame.assign(value=float(number)), read_at)
        latest |= dict.fromkeys(frame.itertuples(index=False), (read_at, number))
    got = kept.kept("x", "v1", ["a", "b"], 0, NOW, late, NOW, SKEW)
    assert got is not None
    want = {
        (s, b)
        for (s, b), (read_at, _) in latest.items()
        if s in "ab"
        and read_at - SKEW >= NOW - STATE_LOOKBACK
        and not any(w >= read_at - SKEW and b >= first for w, first in late)
    }
    assert set(zip(got["site"], got["bucket"], strict=True)) == want
    # The latest keep of a site and hour is the one taken; its value says which.
    assert all(latest[(s, b)][1] == v for s, b, v in got.itertuples(index=False))
    assert list(got.columns) == ["site", "bucket", "value"]


def test_another_signature_reads_nothing_and_replaces_the_rows() -> None:
    kept = KeptInMemory()
    frame = pd.DataFrame({"site": ["a"], "bucket": [NOW - 2 * HOUR], "value": [1.0]})
    kept.keep("x", "v1", frame, NOW)
    assert kept.kept("x", "v2", ["a"], 0, NOW, [], NOW, SKEW) is None
    kept.keep("x", "v2", frame.assign(value=2.0), NOW)
    assert kept.kept("x", "v1", ["a"], 0, NOW, [], NOW, SKEW) is None
    got = kept.kept("x", "v2", ["a"], 0, NOW, [], NOW, SKEW)
    assert got is not None
    assert got["value"].tolist() == [2.0]
    with pytest.raises(ValueError, match="site and bucket"):
        kept.keep("x", "v2", frame[["bucket", "site"]], NOW)

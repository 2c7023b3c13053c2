"""Roll-ups kept up to date write by write equal roll-ups computed from every raw sample.

Live data is appended after each series' last sample, and the store merges what such a write
adds into the roll-up rows it touches instead of recomputing their hours; backfills and
re-sends take the recomputing path. Whatever the order and the cut of the writes, the hourly
and daily rows must be those of one write of everything.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwatch.model import make_batch
from greenwatch.store import DuckDBStore

T0 = pd.Timestamp("2026-03-01T22:40:00Z")
# Steps between samples: covered pairs, gaps over max_gap (15 min), gaps within and past the
# counter look-back (6 h); with a start near midnight they cross hours and days.
STEPS_S = st.sampled_from([1, 15, 60, 59 * 60, 20 * 60, 3 * 3600, 7 * 3600])


@st.composite
def timelines(draw: st.DrawFn) -> pd.DataFrame:
    """Samples of a counter (with resets) and a gauge on two sites, in time order."""
    frames = []
    for site in ("a", "b"):
        steps = draw(st.lists(STEPS_S, min_size=1, max_size=25))
        ts = T0 + pd.to_timedelta(np.cumsum([0, *steps]), unit="s")
        rises = draw(st.lists(st.floats(0, 5e6), min_size=len(ts), max_size=len(ts)))
        resets = draw(st.lists(st.booleans(), min_size=len(ts), max_size=len(ts)))
        counter, total = [], 0.0
        for rise, reset in zip(rises, resets, strict=True):
            total = rise if reset else total + rise
            counter.append(total)
        labels = {"site": site, "meter": "it"}
        frames.append(make_batch(ts, "energy_joules_total", counter, labels))
        frames.append(make_batch(ts, "power_watts", [r / 1e3 for r in rises], labels))
    return pd.concat(frames, ignore_index=True).sort_values("ts", kind="stable")


def _rollups(store: DuckDBStore) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: store._con.execute(
            f"SELECT s.key, r.* EXCLUDE (series_id) FROM {table} r "
            "JOIN series s ON s.id = r.series_id ORDER BY s.key, r.bucket"
        ).fetchall()
        for table in ("rollup_1h", "rollup_1d")
    }


def _same(got: object, want: object) -> bool:
    if isinstance(got, float) and isinstance(want, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6)
    return got == want


@settings(max_examples=60, deadline=None)
@given(
    samples=timelines(),
    cuts=st.lists(st.integers(0, 200), max_size=6),
    order=st.randoms(use_true_random=False),
    backfill=st.booleans(),
    resend=st.booleans(),
)
def test_rollups_written_in_pieces_equal_one_write(
    samples: pd.DataFrame, cuts: list[int], order: object, backfill: bool, resend: bool
) -> None:
    edges = sorted({0, len(samples), *(c % (len(samples) + 1) for c in cuts)})
    pieces = [samples.iloc[a:b] for a, b in itertools.pairwise(edges) if b > a]
    if backfill:
        order.shuffle(pieces)  # type: ignore[attr-defined]
    if resend:
        pieces.append(pieces[0])
    once, piecewise = DuckDBStore(), DuckDBStore()
    try:
        once.write(samples)
        for piece in pieces:
            piecewise.write(piece)
        want, got = _rollups(once), _rollups(piecewise)
        for table in want:
            assert len(got[table]) == len(want[table]), table
            for row_got, row_want in zip(got[table], want[table], strict=True):
                assert all(map(_same, row_got, row_want)), (table, row_got, row_want)
    finally:
        once.close()
        piecewise.close()


def test_a_live_write_changes_only_the_rows_its_pair_and_sample_fall_in() -> None:
    """Three hours at 1-minute steps, then the 03:00 sample: the 02:59→03:00 pair completes
    hour 2 (60 pairs of 60 kJ) and the sample opens hour 3; hours 0 and 1 keep their rows."""
    store = DuckDBStore()
    labels = {"site": "a", "meter": "it"}
    ts = pd.date_range("2026-03-01", periods=181, freq="1min", tz="UTC")
    counter = np.arange(181.0) * 60e3
    try:
        store.write(make_batch(ts[:-1], "energy_joules_total", counter[:-1], labels))
        before = _rollups(store)["rollup_1h"]
        store.write(make_batch(ts[-1:], "energy_joules_total", counter[-1:], labels))
        after = _rollups(store)["rollup_1h"]
        assert after[:2] == before[:2]
        hour2, hour3 = after[2], after[3]
        assert before[2][10] == 59 * 60e3
        assert (hour2[2], hour2[10], hour2[12]) == (60, 60 * 60e3, 3600.0)
        assert (hour3[2], hour3[6], hour3[9], hour3[10]) == (1, ts[-1].value, counter[-1], 0.0)
        daily = _rollups(store)["rollup_1d"]
        assert [(row[2], row[10]) for row in daily] == [(181, 180 * 60e3)]
    finally:
        store.close()

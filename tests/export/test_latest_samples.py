"""The latest samples behind ``/metrics/samples``: the store's own answer equals the generic one.

The DuckDB store answers "the last sample of each series in the span" with one aggregate; any
other store has it picked from its raw samples. Both must give the same rows, in time order.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from greenwatch.export._samples import latest_samples
from greenwatch.model import concat_batches, make_batch
from greenwatch.store import DuckDBStore, VictoriaMetricsStore
from tests.conftest import need_binary
from tests.export.servers import victoriametrics

NOW = pd.Timestamp("2026-03-02T10:30:00Z")


class QueryOnly:
    """A store seen through the store protocol alone (no ``latest``)."""

    def __init__(self, store: DuckDBStore | VictoriaMetricsStore) -> None:
        self.write, self.query, self.series = store.write, store.query, store.series
        self.close = store.close


def _batch() -> pd.DataFrame:
    before = [NOW - pd.Timedelta(hours=1.5) + pd.Timedelta(minutes=m) for m in range(0, 120, 7)]
    meter_a = {"site": "a", "meter": "it_input"}
    meter_b = {"site": "b", "meter": "facility"}
    batches = [
        # a meter reporting through the span and on past NOW
        make_batch(before, "power_watts", range(len(before)), meter_a),
        # a meter whose last sample is older than the span: not on the page
        make_batch([NOW - pd.Timedelta(hours=2)], "power_watts", [9.0], meter_b),
        make_batch([NOW - pd.Timedelta(minutes=1)], "energy_joules_total", [3.6e6], meter_b),
        # devices, one without a device_kind label, silent for the last 40 minutes
        make_batch(
            [NOW - pd.Timedelta(minutes=m) for m in (55, 40)],
            "device_power_watts",
            [5.0, 6.0],
            {"site": "a", "device": "gpu0"},
        ),
        make_batch(
            [NOW - pd.Timedelta(minutes=m) for m in (50, 40)],
            "device_power_watts",
            [7.0, 8.0],
            {"site": "a", "device": "gpu1", "device_kind": "gpu"},
        ),
    ]
    return concat_batches(batches)


def _store() -> DuckDBStore:
    store = DuckDBStore()
    store.write(_batch())
    return store


def test_the_stores_latest_equals_the_last_raw_sample_of_each_series() -> None:
    store = _store()
    try:
        fast = latest_samples(store, NOW).frames
        generic = latest_samples(QueryOnly(store), NOW).frames
        assert fast.keys() == generic.keys()
        assert set(fast) == {"power_watts", "energy_joules_total", "device_power_watts"}
        for name, frame in fast.items():
            pd.testing.assert_frame_equal(
                frame.reset_index(drop=True), generic[name].reset_index(drop=True)
            )
        power = fast["power_watts"]
        # 10:24 is the 13th sample of meter a (minutes 0, 7, … 84 after 09:00)
        assert (list(power["ts"]), list(power["value"])) == (
            [NOW - pd.Timedelta(minutes=6)],
            [12.0],
        )
        devices = fast["device_power_watts"]
        assert list(devices["device"]) == ["gpu0", "gpu1"]  # same time: in series order
        assert list(devices["value"]) == [6.0, 8.0]
        assert devices["device_kind"].isna().tolist() == [True, False]
    finally:
        store.close()


def test_victoriametrics_answers_latest_as_the_raw_samples_do(tmp_path: Path) -> None:
    """The VictoriaMetrics store asks the engine (``tlast_over_time``, ``last_over_time``):
    the same rows as its raw samples give, and as the embedded store's, in the same order."""
    binary = need_binary("victoria-metrics", "/usr/bin/victoria-metrics")
    embedded = _store()
    with victoriametrics(binary, tmp_path) as url:
        engine = VictoriaMetricsStore(url)
        try:
            engine.write(_batch())
            fast = latest_samples(engine, NOW).frames
            generic = latest_samples(QueryOnly(engine), NOW).frames
            want = latest_samples(embedded, NOW).frames
            assert fast.keys() == generic.keys() == want.keys()
            for name, frame in fast.items():
                pd.testing.assert_frame_equal(frame, generic[name].reset_index(drop=True))
                # the embedded store orders its label columns otherwise
                pd.testing.assert_frame_equal(frame, want[name][frame.columns], check_dtype=False)
        finally:
            engine.close()
            embedded.close()

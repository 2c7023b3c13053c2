"""The evaluator reads every metric's raw window in one store read where the store offers it
(``raw_windows``), and keeps label tables and matcher masks between evaluations while the
series stay the same, a window's table and what is computed from it (a rule's hits, site
totals, sub-meter findings) while its samples stay the same, and the known series while the
store counts no write. Property: whatever is written between evaluations, its outcomes are
those of an evaluator over a store that offers only the plain contract (one query per metric,
no write count: everything recomputed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenwatch.alerts import AbsentRule, KpiRule, MetricRule, RuleSet, SubmeterRule
from greenwatch.alerts._evaluate import Evaluator
from greenwatch.model import make_batch
from greenwatch.store import DuckDBStore, Gaps
from tests.alerts._network import slice_inventory

T0 = pd.Timestamp("2025-03-03T12:00:00Z")
MINUTE = pd.Timedelta(minutes=1)
SITES = ("guian-1", "guian-2", "shaoguan-1")
SENSORS = (None, "n0/gpu0", "n0/gpu1", "supply_air")
METERS = ("facility", "it_pdu_output", "it_input", "cooling")
SECOND = pd.Timedelta(seconds=1)


class PlainStore:
    """A store with the plain contract only: no ``raw_windows``."""

    def __init__(self) -> None:
        self._store = DuckDBStore(":memory:")
        self.gaps: Gaps = self._store.gaps

    def write(self, batch: pd.DataFrame) -> int:
        return self._store.write(batch)

    def query(self, metric: str, *args: Any, **kw: Any) -> pd.DataFrame:
        return self._store.query(metric, *args, **kw)

    def series(self, *args: Any, **kw: Any) -> pd.DataFrame:
        return self._store.series(*args, **kw)

    def close(self) -> None:
        self._store.close()


RULES = RuleSet(
    "reads",
    (
        *(
            MetricRule.model_validate(
                {
                    "alert": f"T{i}",
                    "kind": "metric",
                    "metric": "temperature_celsius",
                    "agg": agg,
                    "window": window,
                    "op": ">",
                    "threshold": 50.0,
                    "match": match,
                }
            )
            for i, (agg, window, match) in enumerate(
                [
                    ("max", "5m", []),
                    ("mean", "15m", ['sensor=~".*gpu.*"']),
                    ("last", "5m", ['site="guian-1"', 'sensor!~".*gpu1"']),
                    ("min", "15m", ['sensor=""']),
                ]
            )
        ),
        MetricRule.model_validate(
            {"alert": "Up", "kind": "metric", "metric": "link_up", "agg": "last", "window": "5m"}
            | {"op": "==", "threshold": 0}
        ),
        AbsentRule.model_validate(
            {"alert": "Gone", "kind": "absent", "metric": "temperature_celsius", "window": "7m"}
            | {"by": ["site", "region"]}
        ),
        AbsentRule.model_validate(
            {"alert": "Silent", "kind": "absent", "metric": "temperature_celsius"}
            | {"window": "3m", "network": True}
        ),
        KpiRule.model_validate(
            {"alert": "Pue", "kind": "kpi", "kpi": "pue", "op": ">", "threshold": 1.1}
            | {"min_coverage": 0.2}
        ),
        KpiRule.model_validate(
            {"alert": "Ppue", "kind": "kpi", "kpi": "ppue", "window": "15m", "op": ">"}
            | {"threshold": 0.1}
        ),
        SubmeterRule.model_validate(
            {"alert": "Drift", "kind": "submeter", "window": "15m", "min_coverage": 0.0}
            | {"parents": {"it_pdu_output": "facility", "cooling": "facility"}}
        ),
    ),
)

writes = st.tuples(
    st.sampled_from(["temperature_celsius", "temperature_celsius", "link_up", "energy"]),
    st.sampled_from(SITES),
    st.sampled_from(SENSORS),
    st.lists(st.integers(-40, 40), min_size=1, max_size=12, unique=True),
    st.floats(0.0, 100.0),
)
# An instant: minutes from T0, and whether a second later (the windows then mostly hold the
# same samples as at the minute: what was computed from them is kept).
instants = st.tuples(st.integers(-30, 40), st.booleans())
steps = st.lists(st.one_of(writes, instants), min_size=1, max_size=10)


def _batch(metric: str, site: str, sensor: str | None, offsets: list[int], base: float) -> Any:
    labels = {"site": site} if sensor is None else {"site": site, "sensor": sensor}
    if metric == "link_up":
        labels = {"site": site, "link": f"{site}--core"}
    if metric == "energy":  # a meter's counter, by minute: the sensor picks the meter
        meter = METERS[SENSORS.index(sensor)]
        metric, labels = "energy_joules_total", {"site": site, "meter": meter}
        ts = pd.DatetimeIndex([T0 + k * MINUTE for k in sorted(offsets)])
        return make_batch(ts, metric, base * 1e4 + np.arange(len(ts)) * 6e4, labels)
    ts = pd.DatetimeIndex([T0 + k * MINUTE for k in offsets])
    values = base + np.arange(len(offsets), dtype=float) % 7 * 3
    return make_batch(ts, metric, values if metric != "link_up" else values > 50, labels)


def _said(evaluator: Evaluator, now: pd.Timestamp) -> list[tuple[object, ...]]:
    return [
        (o.rule_id, o.error, o.held, [(h.labels, repr(h.value), h.figures) for h in o.hits])
        for o in evaluator.evaluate(now)
    ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps)
def test_one_read_and_kept_masks_say_what_plain_reads_say(steps: list[Any]) -> None:
    inventory = slice_inventory()
    fast_store, plain_store = DuckDBStore(":memory:"), PlainStore()
    fast = Evaluator(fast_store, inventory, RULES)
    plain = Evaluator(plain_store, inventory, RULES)  # type: ignore[arg-type]
    try:
        for step in [*steps, (41, False), (41, True)]:
            if len(step) == 2:
                now = T0 + step[0] * MINUTE + int(step[1]) * SECOND
                assert _said(fast, now) == _said(plain, now)
            else:
                batch = _batch(*step)
                fast_store.write(batch)
                plain_store.write(batch)
    finally:
        fast_store.close()
        plain_store.close()


def test_raw_windows_are_the_raw_queries_of_each_metric() -> None:
    store = DuckDBStore(":memory:")
    try:
        for metric, site, sensor, offsets, base in [
            ("temperature_celsius", "guian-1", "n0/gpu0", [-20, -3, -1, 5], 40.0),
            ("temperature_celsius", "guian-2", None, [-9, -2], 60.0),
            ("temperature_celsius", "guian-2", "old", [-90], 60.0),
            ("link_up", "guian-1", None, [-4, -2], 60.0),
        ]:
            store.write(_batch(metric, site, sensor, offsets, base))
        starts = {"temperature_celsius": T0 - 10 * MINUTE, "link_up": T0 - 3 * MINUTE}
        found = store.raw_windows(starts, T0)
        for metric, start in starts.items():
            labels, key, t, v = found[metric]
            frame = store.query(metric, start, T0)
            rebuilt = labels.iloc[key].reset_index(drop=True)
            assert list(rebuilt.columns) == [c for c in frame.columns if c not in ("ts", "value")]
            assert rebuilt.equals(frame[rebuilt.columns].reset_index(drop=True))
            assert (t == frame["ts"].to_numpy("datetime64[ns]").view("int64")).all()
            assert (v == frame["value"].to_numpy()).all()
        assert store.raw_windows({"collector_up": T0 - MINUTE}, T0) == {}
    finally:
        store.close()


def _meters(store: DuckDBStore, watts: dict[str, float]) -> None:
    ts = pd.DatetimeIndex([T0 - k * MINUTE for k in range(59, 0, -1)])
    for meter, w in watts.items():
        labels = {"site": "guian-1", "meter": meter}
        store.write(make_batch(ts, "energy_joules_total", np.arange(59) * w * 60.0, labels))


def test_a_window_with_the_same_samples_keeps_its_figures_and_a_write_is_seen() -> None:
    inventory = slice_inventory()
    store = DuckDBStore(":memory:")
    hour = ("energy_joules_total", pd.Timedelta(hours=1))
    try:
        _meters(store, {"facility": 1.3e6, "it_pdu_output": 1.0e6, "cooling": 0.2e6})
        kept = Evaluator(store, inventory, RULES)
        first = _said(kept, T0 + SECOND)
        table = kept._raw_tables[hour]
        # A second later the windows hold the same samples: the same table, the same figures.
        assert _said(kept, T0 + 2 * SECOND) == first
        assert kept._raw_tables[hour] is table
        pue = [h.value for o in kept.evaluate(T0 + SECOND) if o.rule_id == "Pue" for h in o.hits]
        assert pue == [pytest.approx(1.3)]
        # A write inside the windows is seen at once, even at the same instant.
        late = make_batch(
            pd.DatetimeIndex([T0 - 30 * SECOND]),
            "energy_joules_total",
            np.array([60 * 1.3e6 * 60.0]),
            {"site": "guian-1", "meter": "facility"},
        )
        store.write(late)
        again = _said(kept, T0 + SECOND)
        assert again != first
        assert again == _said(Evaluator(store, inventory, RULES), T0 + SECOND)
    finally:
        store.close()

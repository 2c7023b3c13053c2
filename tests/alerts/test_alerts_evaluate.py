"""The evaluator on hand-made series: aggregates, ratios, absence, KPIs, sub-meters, batching."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwatch.alerts import AbsentRule, KpiRule, MetricRule, RuleSet, SubmeterRule
from greenwatch.alerts._evaluate import Evaluator
from greenwatch.alerts._kpis import _one_per_group, _summed
from greenwatch.alerts._outcome import Outcome
from greenwatch.inventory import Inventory
from greenwatch.model import make_batch
from greenwatch.store import DuckDBStore
from tests.alerts._network import slice_inventory

NOW = pd.Timestamp("2025-03-03T12:00:00Z")
MINUTE = pd.Timedelta(minutes=1)


def minutes(n: int, end: pd.Timestamp = NOW) -> pd.DatetimeIndex:
    return pd.date_range(end - n * MINUTE, periods=n, freq="1min")


def series(metric: str, values: Any, ts: pd.DatetimeIndex, **labels: str) -> pd.DataFrame:
    return make_batch(ts, metric, np.asarray(values, dtype=float), labels)


def evaluate(store: DuckDBStore, inventory: Inventory, *rules: Any) -> dict[str, Outcome]:
    out = Evaluator(store, inventory, RuleSet("test", tuple(rules))).evaluate(NOW)
    return {o.rule_id: o for o in out}


def metric(**kw: Any) -> MetricRule:
    return MetricRule.model_validate({"alert": "T", "kind": "metric", **kw})


@pytest.fixture
def inventory() -> Inventory:
    return slice_inventory()


@pytest.fixture
def store() -> DuckDBStore:
    ts = minutes(20)
    gpu = [70.0] * 15 + [80.0, 91.0, 84.0, 83.0, 82.0]
    s = DuckDBStore(":memory:")
    s.write(series("temperature_celsius", gpu, ts, site="guian-1", sensor="h1/gpu0"))
    s.write(series("temperature_celsius", [60.0] * 20, ts, site="guian-1", sensor="h1/gpu1"))
    s.write(series("temperature_celsius", [95.0] * 20, ts, site="guian-1", sensor="outdoor"))
    # 10 GB/s each way on a 100 Gbit/s link: 80 % utilisation (a reset in the middle).
    tx = np.cumsum(np.full(20, 600e9))
    tx[12:] -= tx[11]
    link = {"site": "guian-1", "link": "guian-1--guian-2", "interface": "wan0"}
    s.write(series("link_transmit_bytes_total", tx, ts, **link))
    s.write(series("link_capacity_bits_per_second", [1e11] * 20, ts, **link))
    return s


def test_gauge_aggregates_over_the_window(store: DuckDBStore, inventory: Inventory) -> None:
    gpu = ['sensor=~".*gpu.*"']
    out = evaluate(
        store,
        inventory,
        metric(
            alert="Max",
            metric="temperature_celsius",
            match=gpu,
            agg="max",
            window="5m",
            op=">",
            threshold=85,
        ),
        metric(
            alert="Mean",
            metric="temperature_celsius",
            match=gpu,
            agg="mean",
            window="5m",
            op=">",
            threshold=0,
        ),
        metric(
            alert="Last",
            metric="temperature_celsius",
            agg="last",
            window="1m",
            op=">",
            threshold=90,
        ),
        metric(
            alert="Short",
            metric="temperature_celsius",
            match=gpu,
            agg="max",
            window="3m",
            op=">",
            threshold=85,
        ),
    )
    assert [(h.labels["sensor"], h.value) for h in out["Max"].hits] == [("h1/gpu0", 91.0)]
    means = {h.labels["sensor"]: h.value for h in out["Mean"].hits}
    assert means == {"h1/gpu0": pytest.approx(84.0), "h1/gpu1": 60.0}
    assert [h.labels["sensor"] for h in out["Last"].hits] == ["outdoor"]
    assert out["Short"].hits == []  # 91 °C was 4 minutes ago: outside [now - 3m, now)
    assert out["Max"].hits[0].labels == {"site": "guian-1", "sensor": "h1/gpu0"}


def test_counter_rate_scaled_and_divided(store: DuckDBStore, inventory: Inventory) -> None:
    rule = metric(
        alert="Busy",
        metric="link_transmit_bytes_total",
        agg="rate",
        scale=8,
        divide_by={"metric": "link_capacity_bits_per_second", "agg": "last"},
        window="15m",
        op=">",
        threshold=0.5,
    )
    hit = evaluate(store, inventory, rule)["Busy"].hits[0]
    # 600 GB per minute = 10 GB/s = 80 Gbit/s on 100 Gbit/s; the reset pair counts its new value.
    assert hit.value == pytest.approx(0.8)
    assert hit.labels["link"] == "guian-1--guian-2"


def test_absent_series_by_labels(inventory: Inventory) -> None:
    store = DuckDBStore(":memory:")
    hours = pd.date_range(NOW - pd.Timedelta(hours=3), NOW - 30 * MINUTE, freq="1min")
    for meter in ("facility", "cooling"):
        for site in ("guian-1", "guian-2"):
            ts = hours if (site, meter) == ("guian-2", "cooling") else minutes(200)
            store.write(
                series("energy_joules_total", np.arange(len(ts)), ts, site=site, meter=meter)
            )
    by_meter = AbsentRule(
        alert="Silent",
        kind="absent",
        metric="energy_joules_total",
        by=("site", "meter"),
        window=timedelta(minutes=15),
    )
    by_site = AbsentRule(
        alert="Down",
        kind="absent",
        metric="energy_joules_total",
        by=("site",),
        window=timedelta(minutes=15),
    )
    out = evaluate(store, inventory, by_meter, by_site)
    assert [h.labels for h in out["Silent"].hits] == [{"site": "guian-2", "meter": "cooling"}]
    assert out["Down"].hits == []  # guian-2's facility meter still reports


def totals_store(facility: float, it: float, cooling: float, *, gap: bool = False) -> DuckDBStore:
    """One hour of energy counters at guian-1 (PUE category 2: it_pdu_output) at given powers."""
    store = DuckDBStore(":memory:")
    ts = minutes(61)
    for meter, watts in (
        ("facility", facility),
        ("it_ups_output", it * 1.02),
        ("it_pdu_output", it),
        ("cooling", cooling),
    ):
        joules = np.arange(61) * watts * 60.0
        keep = np.ones(61, dtype=bool)
        if gap and meter == "facility":
            keep[20:45] = False
        store.write(
            series("energy_joules_total", joules[keep], ts[keep], site="guian-1", meter=meter)
        )
    return store


def pue_rule(**kw: Any) -> KpiRule:
    base = {
        "alert": "Pue",
        "kind": "kpi",
        "kpi": "pue",
        "window": "1h",
        "op": ">",
        "threshold": "target",
    }
    return KpiRule.model_validate(base | kw)


def test_site_pue_against_its_target(inventory: Inventory) -> None:
    out = evaluate(totals_store(1.3e6, 1.0e6, 0.2e6), inventory, pue_rule())
    hits = out["Pue"].hits
    assert [h.labels for h in hits] == [{"site": "guian-1"}]
    assert hits[0].value == pytest.approx(1.3)
    assert hits[0].figures["threshold"] == pytest.approx(1.2)  # guian-1's target
    # Sites with no data at all are not judged: the data-quality companion says so.
    quality = {h.labels["site"] for h in out["Pue:coverage"].hits}
    assert quality == {"guian-2", "shaoguan-1", "qingyang-1", "qingyang-2"}
    held = {h["site"] for h in out["Pue"].held}
    assert held == {"guian-2", "shaoguan-1", "qingyang-1", "qingyang-2"}


def test_low_coverage_holds_the_efficiency_alert(inventory: Inventory) -> None:
    out = evaluate(totals_store(1.3e6, 1.0e6, 0.2e6, gap=True), inventory, pue_rule())
    assert out["Pue"].hits == []
    assert {"site": "guian-1"} in out["Pue"].held
    dq = next(h for h in out["Pue:coverage"].hits if h.labels["site"] == "guian-1")
    assert dq.labels == {"site": "guian-1", "kpi": "pue", "rule": "Pue"}
    assert dq.value < 0.7


def test_margin_and_numeric_thresholds(inventory: Inventory) -> None:
    store = totals_store(1.3e6, 1.0e6, 0.5e6)
    out = evaluate(
        store,
        inventory,
        pue_rule(alert="Margin", margin=0.15),
        pue_rule(alert="Ppue", kpi="ppue", threshold=1.4),
    )
    assert out["Margin"].hits == []  # 1.3 is not above 1.2 + 0.15
    assert out["Ppue"].hits[0].value == pytest.approx(1.5)


def test_submeter_drift_is_found(inventory: Inventory) -> None:
    rule = SubmeterRule.model_validate(
        {
            "alert": "Drift",
            "kind": "submeter",
            "parents": {"it_ups_output": "facility", "cooling": "facility"},
            "tolerance": 0.05,
        }
    )
    fine = evaluate(totals_store(1.22e6, 1.0e6, 0.2e6), inventory, rule)["Drift"]
    assert fine.hits == []
    # Cooling reads 30 % of facility on top of IT: the children exceed their parent.
    drift = evaluate(totals_store(1.0e6, 0.8e6, 0.5e6), inventory, rule)["Drift"].hits
    assert [h.labels for h in drift] == [{"site": "guian-1", "meter": "facility"}]
    assert drift[0].value == pytest.approx((0.816 + 0.5) / 1.0 - 1)
    assert drift[0].figures["reason"] == "drift"


class CountingStore(DuckDBStore):
    def __init__(self) -> None:
        super().__init__(":memory:")
        self.queries: list[str] = []
        self.windows: list[list[str]] = []

    def query(self, metric: str, *args: Any, **kw: Any) -> pd.DataFrame:  # type: ignore[override]
        self.queries.append(metric)
        return super().query(metric, *args, **kw)

    def raw_windows(self, starts: Any, end: pd.Timestamp) -> Any:
        self.windows.append(list(starts))
        return super().raw_windows(starts, end)


def test_rules_sharing_a_metric_share_one_read(inventory: Inventory) -> None:
    store = CountingStore()
    ts = minutes(30)
    for i in range(50):
        store.write(
            series(
                "temperature_celsius",
                np.full(30, 50.0 + i),
                ts,
                site="guian-1",
                sensor=f"h{i}/gpu0",
            )
        )
    rules = [
        metric(
            alert=f"R{i}",
            metric="temperature_celsius",
            agg=("max", "mean", "last")[i % 3],
            window=("5m", "15m")[i % 2],
            op=">",
            threshold=50 + i,
        )
        for i in range(60)
    ]
    out = evaluate(store, inventory, *rules)
    assert store.windows == [["temperature_celsius"]]
    assert store.queries == []
    assert len(out["R10"].hits) == 39  # sensors 60 … 99 °C > 60


def test_a_longer_window_judges_series_the_shorter_one_has_no_samples_of(
    inventory: Inventory,
) -> None:
    store = DuckDBStore(":memory:")
    store.write(
        series(
            "temperature_celsius", [90.0], minutes(1, NOW - 9 * MINUTE), site="guian-1", sensor="a"
        )
    )
    store.write(series("temperature_celsius", [90.0], minutes(1), site="guian-1", sensor="b"))
    short, long = (
        metric(alert=name, metric="temperature_celsius", agg="max", window=w, op=">", threshold=80)
        for name, w in (("Short", "5m"), ("Long", "15m"))
    )
    out = evaluate(store, inventory, short, long)
    assert [h.labels["sensor"] for h in out["Short"].hits] == ["b"]
    assert [h.labels["sensor"] for h in out["Long"].hits] == ["a", "b"]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["guian-1", "guian-2", None]),
            st.sampled_from(["facility", "it_ups_output", "cooling", ""]),
            st.one_of(st.none(), st.floats(-1e9, 1e9)),
            st.one_of(st.none(), st.sampled_from([0.0, 0.25, 1.0])),
        ),
        min_size=1,
        max_size=12,
        unique_by=lambda r: (r[0], r[1]),
    )
)
def test_one_row_per_meter_is_its_own_total(rows: list[tuple[Any, ...]]) -> None:
    sites, meters, values, coverage = zip(*rows, strict=True)
    frame = pd.DataFrame(
        {
            "site": pd.Series(sites, dtype=object).astype(str),
            "meter": pd.Series(meters, dtype=object).astype(str),
            "value": pd.Series(values, dtype="float64"),
            "coverage": pd.Series(coverage, dtype="float64"),
        }
    )
    pd.testing.assert_frame_equal(_one_per_group(frame), _summed(frame, "meter"), check_exact=True)

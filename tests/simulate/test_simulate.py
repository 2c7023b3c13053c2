"""The simulator: canonical batches, determinism, chunking invariance and scripted scenarios,
on a small hand-built network (the built-in one gets a smoke test of its own)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from greenwatch.inventory import Inventory
from greenwatch.model import ConfigError, label_columns, validate_batch
from greenwatch.simulate import Scenario, ScenarioError, Simulator
from tests.simulate._network import (
    JAN,
    JUL,
    increase,
    select,
    series,
    simulator,
)

# --- the batch contract ----------------------------------------------------------------------


def test_batch_follows_the_contract(inventory: Inventory, january: pd.DataFrame) -> None:
    assert list(january.columns[:4]) == ["ts", "metric", "value", "site"]
    labels = label_columns(january)
    assert labels[1:] == sorted(labels[1:])
    assert str(january["ts"].dtype) == "datetime64[ns, UTC]"
    assert january["value"].dtype == np.float64
    checked = validate_batch(january)
    assert len(checked) == len(january)
    sites = {s.id for s in inventory.sites}
    assert set(january["site"].unique()) == sites
    assert january["ts"].is_monotonic_increasing


def test_series_per_site_and_link(inventory: Inventory) -> None:
    sim = simulator(inventory)
    batch = sim.advance(JAN + pd.Timedelta(minutes=1))
    assert len(batch) == sim.series_count() == len(sim.series_names())
    meters = set(select(batch, "power_watts", site="sc-guangzhou")["meter"])
    assert {"facility", "it_ups_output", "it_pdu_output", "it_input", "cooling"} <= meters
    assert "renewable_onsite" in set(select(batch, "power_watts", site="horinger-1")["meter"])
    gpu = select(batch, "utilisation_ratio", resource="gpu")
    assert set(gpu["site"]) == {"sc-guangzhou", "ai-shenzhen", "sc-wenchang"}
    for metric in ("link_transmit_bytes_total", "link_up", "link_capacity_bits_per_second"):
        rows = select(batch, metric)
        assert len(rows) == 3
        assert set(rows["interface"]) == {"wan0"}
    probe = select(batch, "link_latency_seconds")
    assert probe["interface"].isna().all()
    assert set(probe["site"]) == {"sc-guangzhou", "horinger-1"}


def test_cursor_is_half_open(inventory: Inventory) -> None:
    sim = simulator(inventory)
    batch = sim.advance(JAN + pd.Timedelta(minutes=2, seconds=30))
    assert sorted(batch["ts"].unique()) == [
        JAN,
        JAN + pd.Timedelta(minutes=1),
        JAN + pd.Timedelta(minutes=2),
    ]
    assert sim.cursor == JAN + pd.Timedelta(minutes=3)
    empty = sim.advance(JAN + pd.Timedelta(minutes=3))
    assert len(empty) == 0
    assert list(empty.columns) == list(batch.columns)
    with pytest.raises(ValueError, match="tz-aware"):
        sim.advance(pd.Timestamp("2025-02-01"))


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_same_batch_other_seed_other_batch(inventory: Inventory) -> None:
    end = JAN + pd.Timedelta(hours=3)
    a = simulator(inventory, seed=1).advance(end)
    b = simulator(inventory, seed=1).advance(end)
    c = simulator(inventory, seed=2).advance(end)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    # The seed also picks which sites have solar panels or heat reuse, so compare one series.
    key = {"site": "sc-guangzhou", "meter": "facility"}
    assert not np.array_equal(series(a, "power_watts", **key), series(c, "power_watts", **key))


def test_chunks_give_exactly_the_batch_of_one_call(inventory: Inventory) -> None:
    scenarios = [
        Scenario("counter_reset", "guian-1", JAN + pd.Timedelta(hours=20, seconds=7), JAN),
        Scenario(
            "chiller_failure",
            "sc-guangzhou",
            JAN + pd.Timedelta(hours=3),
            JAN + pd.Timedelta(hours=9),
        ),
        Scenario(
            "link_flap",
            "horinger-1--guian-1",
            JAN + pd.Timedelta(hours=30),
            JAN + pd.Timedelta(hours=31),
        ),
        Scenario(
            "meter_dropout",
            "ai-shenzhen",
            JAN + pd.Timedelta(hours=40),
            JAN + pd.Timedelta(hours=41),
        ),
    ]
    end = JAN + pd.Timedelta(days=2)
    whole = simulator(inventory, seed=3, scenarios=scenarios).advance(end)
    sim = simulator(inventory, seed=3, scenarios=scenarios)
    hourly = [sim.advance(JAN + pd.Timedelta(hours=h + 1)) for h in range(48)]
    pd.testing.assert_frame_equal(whole, pd.concat(hourly, ignore_index=True), check_exact=True)
    # Odd pieces too, down to a single sample.
    sim = simulator(inventory, seed=3, scenarios=scenarios)
    pieces, cuts = [], [1, 2, 9, 61, 600, 1439, 2000, 2879, 2880]
    for minute in cuts:
        pieces.append(sim.advance(JAN + pd.Timedelta(minutes=minute)))
    pd.testing.assert_frame_equal(whole, pd.concat(pieces, ignore_index=True), check_exact=True)


def test_fifteen_second_polling_after_minute_backfill(inventory: Inventory) -> None:
    sim = simulator(inventory)
    backfill = sim.advance(JAN + pd.Timedelta(hours=2))
    live = sim.advance(JAN + pd.Timedelta(hours=2, minutes=10), pd.Timedelta(seconds=15))
    steps = np.diff(np.unique(live["ts"].to_numpy())).astype("timedelta64[s]").astype(int)
    assert set(steps) == {15}
    assert live["ts"].min() == JAN + pd.Timedelta(hours=2)
    key = {"site": "guian-1", "meter": "facility"}
    counter = pd.concat(
        [
            series(backfill, "energy_joules_total", **key),
            series(live, "energy_joules_total", **key),
        ]
    )
    assert (np.diff(counter.to_numpy()) > 0).all()
    power = series(live, "power_watts", **key)
    energy = series(live, "energy_joules_total", **key)
    assert increase(energy) == pytest.approx(power.mean() * 15 * (len(power) - 1), rel=0.02)


# --- scenarios ---------------------------------------------------------------------------------


def test_chiller_failure_raises_pue_in_its_window(inventory: Inventory) -> None:
    start, end = JUL + pd.Timedelta(hours=4), JUL + pd.Timedelta(hours=8)
    failing = simulator(
        inventory, JUL, scenarios=[Scenario("chiller_failure", "guian-1", start, end)]
    )
    with_failure = failing.advance(JUL + pd.Timedelta(hours=12))
    baseline = simulator(inventory, JUL).advance(JUL + pd.Timedelta(hours=12))

    def ratio(batch: pd.DataFrame) -> pd.Series:
        facility = series(batch, "power_watts", site="guian-1", meter="facility")
        it = series(batch, "power_watts", site="guian-1", meter="it_ups_output")
        return facility / it

    inside = (ratio(with_failure).index >= start) & (ratio(with_failure).index < end)
    assert (ratio(with_failure)[inside] > ratio(baseline)[inside] + 0.15).all()
    assert (ratio(with_failure)[~inside] == ratio(baseline)[~inside]).all()
    supply = series(with_failure, "temperature_celsius", site="guian-1", sensor="supply_air")
    base_supply = series(baseline, "temperature_celsius", site="guian-1", sensor="supply_air")
    assert supply[end - pd.Timedelta(minutes=1)] > base_supply[end - pd.Timedelta(minutes=1)] + 4


def test_dropouts_leave_gaps(inventory: Inventory) -> None:
    start, end = JAN + pd.Timedelta(hours=1), JAN + pd.Timedelta(hours=2)
    sim = simulator(
        inventory,
        scenarios=[
            Scenario("meter_dropout", "guian-1", start, end),
            Scenario("collector_down", "horinger-1", start, end),
        ],
    )
    batch = sim.advance(JAN + pd.Timedelta(hours=3))
    inside = (batch["ts"] >= start) & (batch["ts"] < end)
    guian = batch[inside & (batch["site"] == "guian-1")]
    assert not (guian["meter"] == "facility").any()
    assert (guian["meter"] == "it_ups_output").any()
    assert not (inside & (batch["site"] == "horinger-1")).any()
    assert (inside & (batch["site"] == "sc-guangzhou")).any()
    facility = series(batch, "power_watts", site="guian-1", meter="facility")
    assert len(facility) == 120
    counter = series(batch, "energy_joules_total", site="horinger-1", meter="facility")
    # The meter kept counting while nobody read it.
    gap = counter[end] - counter[start - pd.Timedelta(minutes=1)]
    assert gap > 50 * (counter.iloc[1] - counter.iloc[0])


def test_counter_reset_restarts_every_joule_counter(inventory: Inventory) -> None:
    at = JAN + pd.Timedelta(hours=2)
    sim = simulator(inventory, seed=5, scenarios=[Scenario("counter_reset", "sc-wenchang", at, at)])
    batch = sim.advance(JAN + pd.Timedelta(hours=4))
    rows = batch[
        (batch["site"] == "sc-wenchang") & batch["metric"].astype(str).str.contains("joules")
    ]
    assert len(rows.groupby(["metric", "meter", "instrument"], observed=True, dropna=False)) >= 6
    for _, one in rows.groupby(["metric", "meter", "instrument"], observed=True, dropna=False):
        s = pd.Series(one["value"].to_numpy(), index=one["ts"].to_numpy())
        assert s[at] == 0.0
        assert s[at - pd.Timedelta(minutes=1)] > 1e12
        assert (np.diff(s[s.index >= at].to_numpy()) >= 0).all()
    water = series(batch, "water_litres_total", site="sc-wenchang", meter="site_inflow")
    assert water[at] > 1e5


def test_link_down_and_flap(inventory: Inventory) -> None:
    start, end = JAN + pd.Timedelta(hours=1), JAN + pd.Timedelta(hours=2)
    down_link, flap_link = "horinger-1--guian-1", "sc-guangzhou--ai-shenzhen"
    sim = simulator(
        inventory,
        scenarios=[
            Scenario("link_down", down_link, start, end),
            Scenario("link_flap", flap_link, start, end),
        ],
    )
    batch = sim.advance(JAN + pd.Timedelta(hours=3))
    up = series(batch, "link_up", link=down_link)
    inside = (up.index >= start) & (up.index < end)
    assert (up[inside] == 0).all()
    assert (up[~inside] == 1).all()
    assert (series(batch, "link_loss_ratio", link=down_link)[inside] == 1.0).all()
    tx = series(batch, "link_transmit_bytes_total", link=down_link)
    assert tx[end - pd.Timedelta(minutes=1)] == tx[start + pd.Timedelta(minutes=1)]
    latency = series(batch, "link_latency_seconds", link=down_link)
    assert not ((latency.index >= start + pd.Timedelta(minutes=1)) & (latency.index < end)).any()
    flap = series(batch, "link_up", link=flap_link)
    window = flap[(flap.index >= start) & (flap.index < end)].to_numpy()
    assert window[0] == 0
    toggles = int((np.diff(window) != 0).sum())
    assert 10 <= toggles <= 30


def test_bad_scenarios_are_refused(inventory: Inventory) -> None:
    with pytest.raises(ScenarioError, match="unknown site"):
        simulator(inventory, scenarios=[Scenario("chiller_failure", "nowhere", JAN, JUL)])
    with pytest.raises(ScenarioError, match="unknown link"):
        simulator(inventory, scenarios=[Scenario("link_down", "guian-1", JAN, JUL)])
    with pytest.raises(ScenarioError, match="tz-aware"):
        Scenario("link_down", "x", pd.Timestamp("2025-01-01"), JUL)
    with pytest.raises(ScenarioError, match="after start"):
        Scenario("collector_down", "guian-1", JUL, JAN)
    with pytest.raises(ScenarioError, match="kind"):
        Scenario("meltdown", "guian-1", JAN, JUL)  # type: ignore[arg-type]


# --- the built-in national network -------------------------------------------------------------


def test_builtin_network_simulates() -> None:
    from greenwatch.inventory import load_inventory

    try:
        national = load_inventory()
    except (ConfigError, FileNotFoundError) as exc:  # written by another stage
        pytest.skip(f"built-in inventory not loadable: {exc}")
    sim = Simulator(national, seed=0, start=JAN)
    batch = sim.advance(JAN + pd.Timedelta(minutes=10))
    assert len(batch) == 10 * sim.series_count()
    assert sim.series_count() > 20 * len(national.sites)
    validate_batch(batch)


def test_device_loss_hides_one_accelerator_in_sixteen() -> None:
    from greenwatch.inventory import load_inventory

    national = load_inventory()
    start, end = JAN + pd.Timedelta(minutes=2), JAN + pd.Timedelta(minutes=4)
    sim = Simulator(
        national, seed=0, start=JAN, scenarios=[Scenario("device_loss", "ai-wuhan", start, end)]
    )
    batch = sim.advance(JAN + pd.Timedelta(minutes=5))
    wuhan = batch[(batch["metric"] == "compute_devices") & (batch["site"] == "ai-wuhan")]
    ascend = wuhan[wuhan["model"] == "Ascend 910"].set_index("ts")["value"]
    cpus = wuhan[wuhan["device_kind"] == "cpu"].set_index("ts")["value"]
    # 400 registered Ascend 910: 400 seen, then floor(400 x 15/16) = 375 during the loss.
    assert ascend.tolist() == [400.0, 400.0, 375.0, 375.0, 400.0]
    assert cpus.nunique() == 1  # CPUs are not affected
    # Every site reports its pools' devices, per model.
    reported = batch[batch["metric"] == "compute_devices"].groupby("site", observed=True).size()
    assert set(reported.index) == {s.id for s in national.sites}


def test_devices_appear_when_their_pool_enters_service() -> None:
    from greenwatch.inventory import ComputePool, load_inventory

    national = load_inventory()
    phase2 = ComputePool.model_validate(
        {"id": "phase2", "class": "ai", "model": "huawei-ascend-910", "count": 800,
         "in_service": (JAN + pd.Timedelta(days=1)).date()}
    )  # fmt: skip
    sites = tuple(
        s.model_copy(update={"compute": (*s.compute, phase2)}) if s.id == "ai-wuhan" else s
        for s in national.sites
    )
    sim = Simulator(national.model_copy(update={"sites": sites}), seed=0, start=JAN)
    batch = sim.advance(JAN + pd.Timedelta(days=1, minutes=2), step=pd.Timedelta(hours=6))
    rows = batch[
        (batch["metric"] == "compute_devices")
        & (batch["site"] == "ai-wuhan")
        & (batch["model"] == "Ascend 910")
    ]
    # Phase 1's 400 alone, then 400 + 800 from the day phase 2 enters service.
    assert rows["value"].tolist() == [400.0, 400.0, 400.0, 400.0, 1200.0]

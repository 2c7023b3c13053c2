"""The simulated physics comes out plausible: counters, metering categories, PUE by climate,
temperatures, sun, water, green power, load cycles and link latency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from greenwatch.inventory import Inventory, link_distance_km
from tests.simulate._network import (
    JAN,
    increase,
    pue,
    series,
    simulator,
)


def test_counters_only_rise_except_at_resets(inventory: Inventory) -> None:
    # Ninety days at hourly samples: flaky meters reset about monthly, the rest never.
    sim = simulator(inventory, seed=11)
    batch = sim.advance(JAN + pd.Timedelta(days=90), pd.Timedelta(hours=1))
    # Without scenarios every timestamp holds every series, in the simulator's order.
    names = np.array(sim.series_names())
    values = batch["value"].to_numpy().reshape(-1, len(names))
    counters = np.flatnonzero(["_total{" in n for n in names])
    rising = np.diff(values[:, counters], axis=0)
    falls = np.argwhere(rising < 0)
    assert 0 < len(falls) < len(counters)
    for step, col in falls:
        # A reset restarts near zero: after it, less than an hour of counting.
        assert values[step + 1, counters[col]] <= rising[:, col].max()


def test_it_meters_nest_by_category(inventory: Inventory, january: pd.DataFrame) -> None:
    for site in inventory.sites:
        e = {
            m: increase(series(january, "energy_joules_total", site=site.id, meter=m))
            for m in ("facility", "it_ups_output", "it_pdu_output", "it_input", "cooling")
        }
        assert e["facility"] > e["it_ups_output"] + e["cooling"]
        assert e["it_ups_output"] > e["it_pdu_output"] > e["it_input"] > 0
        assert 1.01 < e["it_ups_output"] / e["it_input"] < 1.06


def test_pue_is_plausible_and_follows_climate(
    inventory: Inventory, january: pd.DataFrame, july: pd.DataFrame
) -> None:
    sites = {s.id: s for s in inventory.sites}
    for batch in (january, july):
        for site in inventory.sites:
            assert 1.05 < pue(batch, site) < 1.8, site.id
    west_winter = pue(january, sites["horinger-1"])
    south_summer = pue(july, sites["sc-guangzhou"])
    assert west_winter < 1.2
    assert 1.3 < south_summer < 1.6
    assert west_winter + 0.15 < south_summer
    assert pue(july, sites["horinger-1"]) < south_summer


@pytest.mark.parametrize(
    ("site", "jan", "jul"),
    [
        ("horinger-1", (-17, -7), (17, 27)),
        ("sc-guangzhou", (10, 18), (26, 33)),
        ("sc-wenchang", (15, 23), (26, 32)),
    ],
)
def test_outdoor_temperature_follows_latitude_and_season(
    january: pd.DataFrame,
    july: pd.DataFrame,
    site: str,
    jan: tuple[float, float],
    jul: tuple[float, float],
) -> None:
    for batch, (lo, hi) in ((january, jan), (july, jul)):
        t = series(batch, "temperature_celsius", site=site, sensor="outdoor")
        assert lo < t.mean() < hi
        # Warmest in the afternoon, local solar time (UTC+7.5 h here): 06-10 UTC vs 18-24 UTC.
        assert t[(t.index.hour >= 6) & (t.index.hour < 10)].mean() > t[t.index.hour >= 18].mean()


def test_solar_power_follows_the_sun(january: pd.DataFrame) -> None:
    pv = series(january, "power_watts", site="horinger-1", meter="renewable_onsite")
    night = pv[(pv.index.hour >= 13) & (pv.index.hour < 21)]  # 20:30-04:30 solar time
    noon = pv[(pv.index.hour >= 3) & (pv.index.hour < 6)]
    assert (night == 0).all()
    assert (noon > 0).all()
    onsite = series(january, "green_energy_joules_total", site="horinger-1", instrument="onsite")
    energy = series(january, "energy_joules_total", site="horinger-1", meter="renewable_onsite")
    assert increase(onsite) == pytest.approx(increase(energy))


def test_green_power_water_and_load(
    inventory: Inventory, january: pd.DataFrame, july: pd.DataFrame
) -> None:
    def share(batch: pd.DataFrame, site: str) -> float:
        ppa = series(batch, "green_energy_joules_total", site=site, instrument="ppa")
        facility = series(batch, "energy_joules_total", site=site, meter="facility")
        return increase(ppa) / increase(facility)

    assert 0.5 <= share(january, "horinger-1") <= 0.9
    assert 0.1 <= share(january, "sc-guangzhou") <= 0.4
    cool_water = {
        name: increase(series(b, "water_litres_total", site="horinger-1", meter="cooling"))
        for name, b in (("jan", january), ("jul", july))
    }
    assert cool_water["jan"] < 0.05 * cool_water["jul"]
    it_kwh = (
        increase(series(july, "energy_joules_total", site="sc-guangzhou", meter="it_input")) / 3.6e6
    )
    inflow = increase(series(july, "water_litres_total", site="sc-guangzhou", meter="site_inflow"))
    assert 0.5 < inflow / it_kwh < 3.0  # WUE, L/kWh
    for site in inventory.sites:
        util = series(january, "utilisation_ratio", site=site.id, resource="it_capacity")
        assert 0.3 < util.mean() < 0.9
        assert ((util >= 0) & (util <= 1)).all()
    # Weekends are quieter at hub clusters (13 January 2025 was a Monday).
    cpu = series(january, "utilisation_ratio", site="guian-1", resource="cpu")
    weekend = cpu.index.day_of_week >= 5
    assert cpu[weekend].mean() < 0.95 * cpu[~weekend].mean()


def test_link_latency_grows_with_distance(inventory: Inventory, january: pd.DataFrame) -> None:
    by_link = {}
    for link in inventory.links:
        latency = series(january, "link_latency_seconds", link=link.id)
        distance = link_distance_km(inventory, link)
        assert latency.min() > 2 * distance / 200_000
        assert latency.median() < 2 * distance / 200_000 + 0.005
        by_link[distance] = latency.mean()
        loss = series(january, "link_loss_ratio", link=link.id)
        assert loss.median() < 1e-4
        assert (series(january, "link_up", link=link.id) == 1).all()
    ordered = [by_link[d] for d in sorted(by_link)]
    assert ordered == sorted(ordered)
    tx = series(january, "link_transmit_bytes_total", link="horinger-1--guian-1")
    rate = np.diff(tx.to_numpy()) / 600.0
    assert 0 < rate.max() <= 4e11 / 8

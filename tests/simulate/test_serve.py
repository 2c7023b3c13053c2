"""The simulator on the wire: every series served by exactly one protocol endpoint, read back by
the real collectors with the values the simulator itself produces at that instant."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from greenwatch.collect import CollectorError, build_collector, collect_once
from greenwatch.inventory import Inventory
from greenwatch.model import label_columns
from greenwatch.simulate import LIVE_STEP, Scenario, SimulatedCentres, Simulator, serving
from tests.simulate._network import JAN, small_network

pytestmark = pytest.mark.integration
NOW = JAN + pd.Timedelta(days=2, hours=13, minutes=7, seconds=21)  # between 15 s steps
AT = NOW.floor(LIVE_STEP)
SEED = 11
START = AT - pd.Timedelta(hours=1)
Key = tuple[str, str, tuple[tuple[str, str], ...]]


def _keyed(batch: pd.DataFrame) -> dict[Key, float]:
    """``(metric, site, labels) -> value``; fails on a series that appears twice."""
    labels = [c for c in label_columns(batch) if c != "site"]
    out: dict[Key, float] = {}
    for row in batch.astype(dict.fromkeys(labels, object)).to_dict("records"):
        key = (
            str(row["metric"]),
            str(row["site"]),
            tuple(sorted((k, str(row[k])) for k in labels if pd.notna(row[k]))),
        )
        assert key not in out, f"{key} served twice"
        out[key] = float(row["value"])
    return out


def _expected(inventory: Inventory) -> dict[Key, float]:
    """The simulator's own samples at ``AT`` (a second simulator with the same seed, start
    and step: counters integrate from the start)."""
    sim = Simulator(inventory, seed=SEED, start=START)
    batch = sim.advance(AT + LIVE_STEP, LIVE_STEP)
    return _keyed(batch[batch["ts"] == AT])


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return small_network()


@pytest.fixture(scope="module")
def centres(inventory: Inventory) -> Iterator[SimulatedCentres]:
    sim = Simulator(inventory, seed=SEED, start=START)
    with serving(sim, inventory, clock=lambda: NOW) as served:
        yield served


def test_every_series_is_collected_once_with_the_simulators_value(
    inventory: Inventory, centres: SimulatedCentres
) -> None:
    specs = centres.target_specs()
    assert {s["profile"] for s in specs} == {
        "greenwatch",
        "redfish-meters",
        "eastron-sdm630",
        "snmp-if-mib",
    }
    got: dict[Key, float] = {}
    for spec in specs:
        for key, value in _keyed(collect_once(spec["profile"], spec)).items():
            assert key not in got, f"{key} collected from two targets"
            got[key] = value
    want = _expected(inventory)
    assert centres.live.snapshot.ts == AT
    assert set(got) == set(want)
    for key, value in want.items():
        # Modbus carries float32 (7 digits), SNMP integer octet counters.
        assert got[key] == pytest.approx(value, rel=2e-7, abs=1.0), key
    exact = [k for k in want if k[0] not in ("power_watts", "energy_joules_total")]
    assert all(got[k] == pytest.approx(want[k], rel=1e-12, abs=1.0) for k in exact)


def test_all_sites_page_has_every_series_with_site_labels(
    inventory: Inventory, centres: SimulatedCentres
) -> None:
    response = httpx.get(f"http://127.0.0.1:{centres.prometheus_port}/metrics")
    assert response.status_code == 200
    samples = [s for f in text_string_to_metric_families(response.text) for s in f.samples]
    assert len(samples) == len(_expected(inventory))
    assert {s.labels["site"] for s in samples} == {s.id for s in inventory.sites}
    facility = [s for s in samples if s.name == "power_watts" and s.labels["meter"] == "facility"]
    assert len(facility) == len(inventory.sites)


def test_shipped_server_profile_reads_the_meter_chassis_as_devices(
    centres: SimulatedCentres,
) -> None:
    site = "sc-wenchang"
    url = f"http://127.0.0.1:{centres.redfish_ports[site]}"
    batch = collect_once("redfish", {"name": "dcim", "site": site, "url": url})
    devices = set(batch["device"])
    assert "dcim/it_input" in devices
    assert set(batch["metric"]) == {"device_energy_joules_total"}  # MW is beyond a server's max


def test_dropouts_and_collection_outages_reach_the_collectors(inventory: Inventory) -> None:
    scenarios = [
        Scenario("meter_dropout", "guian-1", AT - pd.Timedelta(minutes=5), AT + LIVE_STEP),
        Scenario("collector_down", "ai-shenzhen", AT - pd.Timedelta(minutes=5), AT + LIVE_STEP),
    ]
    sim = Simulator(inventory, seed=SEED, start=AT - pd.Timedelta(minutes=10), scenarios=scenarios)
    with serving(sim, inventory, clock=lambda: NOW, snmp=False) as served:
        specs = {s["name"]: s for s in served.target_specs()}
        meter = build_collector("eastron-sdm630", specs["guian-1/facility-meter"])
        with meter:
            assert meter.collect().empty
        assert any("implausible" in p for p in meter.problems)  # NaN registers
        for name, reason in (
            ("ai-shenzhen/bms", "server error"),  # HTTP 503
            ("ai-shenzhen/redfish", "server error"),
            ("ai-shenzhen/facility-meter", "malformed response"),  # gateway exception 0x0B
        ):
            spec = specs[name]
            with pytest.raises(CollectorError) as err:
                collect_once(spec["profile"], spec)
            assert err.value.reason == reason, err.value
        bms = collect_once("greenwatch", specs["guian-1/bms"])
    assert len(bms) > 0

"""Golden hand-computed energy cases through every read path: the HTTP API, the CLI, a report,
the dashboard's data path, the alert KPIs and /metrics' totals all rest on one definition.

Sites (every meter at constant power, samples every minute over [T0, T0 + 2 h]):

* ``power-1``: meters report only power: facility 220 kW, IT (it_input) 200 kW -> PUE 1.1.
* ``mixed-1``: facility by counter 330 kW, IT (it_input) by power 300 kW -> PUE 1.1.
* ``reset-1``: facility counter 110 kW reset at T0 + 1 h 0 min 30 s, with a facility power series:
  the reset pair is filled from power, so facility = 110 kW x 2 h exactly.
* ``reset-2``: the same counter without power: the 30 s before the reset are lost.
* ``gap-1``: facility and IT counters (110 / 100 kW) silent from T0 + 50 min to T0 + 2 h 10 min
  of a 3-hour period: the energy across the gap is spread 10 : 60 : 10 over the three hours.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenwatch.alerts import KpiRule, RuleSet
from greenwatch.alerts._evaluate import Evaluator
from greenwatch.cli import main
from greenwatch.dashboard._data import ratio_per_step, site_power, step_totals
from greenwatch.export import take_snapshot
from greenwatch.ingest import Ingest
from greenwatch.inventory import Inventory, Location, Site, Targets
from greenwatch.model import make_batch
from greenwatch.query import Scope, energy_read, kpi_answer, pue_trend, site_totals
from greenwatch.reports import ReportConfig, build_report, parse_period, parse_scope
from greenwatch.service import ApiContext
from greenwatch.service._api_kpi import register
from greenwatch.service._http import create_flask
from greenwatch.store import DuckDBStore

# Midnight in Asia/Shanghai, so the report's day holds every sample.
T0 = pd.Timestamp("2026-05-31T16:00:00Z")
END = T0 + pd.Timedelta(hours=2)
HOUR_S = 3600.0
EXACT = {"rel": 1e-9}


def _site(sid: str, category: int = 3) -> Site:
    return Site(
        id=sid,
        name=sid,
        kind="hub_cluster",
        hub="guizhou",
        region="west",
        province="Guizhou",
        location=Location(lat=26.0, lon=106.0),
        it_capacity_kw=1000,
        pue_category=category,
        targets=Targets(pue=1.25),
    )


INVENTORY = Inventory(sites=tuple(_site(s) for s in ("power-1", "mixed-1", "reset-1", "reset-2")))
GAP_INVENTORY = Inventory(sites=(_site("gap-1"),))
RESET = T0 + pd.Timedelta(hours=1, seconds=30)


def _stamps(end: pd.Timestamp = END) -> pd.DatetimeIndex:
    return pd.date_range(T0, end, freq="1min")


def _power(site: str, meter: str, kw: float) -> pd.DataFrame:
    ts = _stamps()
    return make_batch(ts, "power_watts", np.full(len(ts), kw * 1e3), {"site": site, "meter": meter})


def _counter(site: str, meter: str, kw: float, ts: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    ts = _stamps() if ts is None else ts
    joules = (ts - T0).total_seconds().to_numpy() * kw * 1e3
    return make_batch(ts, "energy_joules_total", joules, {"site": site, "meter": meter})


def _reset_counter(site: str) -> pd.DataFrame:
    ts = _stamps()
    seconds = (ts - T0).total_seconds().to_numpy()
    after = ts >= RESET
    joules = np.where(after, seconds - (RESET - T0).total_seconds(), seconds) * 110e3
    return make_batch(ts, "energy_joules_total", joules, {"site": site, "meter": "facility"})


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    store = DuckDBStore(tmp_path / "greenwatch.duckdb")
    for batch in (
        _power("power-1", "facility", 220.0),
        _power("power-1", "it_input", 200.0),
        _counter("mixed-1", "facility", 330.0),
        _power("mixed-1", "it_input", 300.0),
        _reset_counter("reset-1"),
        _power("reset-1", "facility", 110.0),
        _counter("reset-1", "it_input", 100.0),
        _reset_counter("reset-2"),
        _counter("reset-2", "it_input", 100.0),
    ):
        store.write(batch)
    return store


def test_energy_per_meter_hand_computed(store: DuckDBStore) -> None:
    power = energy_read(store, "power-1", T0, END, meter="facility")
    assert power.joules == pytest.approx(220e3 * 7200, **EXACT)
    assert (power.coverage, power.provenance) == (1.0, "power")
    assert power.kwh == pytest.approx(440.0, **EXACT)
    counter = energy_read(store, "mixed-1", T0, END, meter="facility")
    assert counter.joules == pytest.approx(330e3 * 7200, **EXACT)
    assert counter.provenance == "counter"
    filled = energy_read(store, "reset-1", T0, END, meter="facility")
    assert filled.joules == pytest.approx(110e3 * 7200, **EXACT)
    assert (filled.provenance, filled.resets, filled.filled_from_power_s) == ("mixed", 1, 60.0)
    lost = energy_read(store, "reset-2", T0, END, meter="facility")
    assert lost.joules == pytest.approx(110e3 * (7200 - 30), **EXACT)
    assert (lost.provenance, lost.resets) == ("counter", 1)
    nothing = energy_read(store, "reset-2", T0, END, meter="cooling")
    assert (nothing.joules, nothing.kwh, nothing.coverage, nothing.provenance) == (
        None,
        None,
        0.0,
        "",
    )


def test_site_totals_and_pue_by_provenance(store: DuckDBStore) -> None:
    totals = site_totals(store, INVENTORY, T0, END).set_index("site")
    assert totals.at["power-1", "facility_j"] == pytest.approx(220e3 * 7200, **EXACT)
    assert totals.at["power-1", "it_j"] == pytest.approx(200e3 * 7200, **EXACT)
    assert totals.loc["power-1", ["provenance", "it_coverage"]].tolist() == ["power", 1.0]
    assert totals.at["mixed-1", "provenance"] == "mixed"
    assert totals.at["reset-1", "facility_j"] == pytest.approx(110e3 * 7200, **EXACT)
    assert totals.at["reset-2", "facility_j"] == pytest.approx(110e3 * 7170, **EXACT)
    for site, expected in (("power-1", 1.1), ("mixed-1", 1.1), ("reset-1", 1.1)):
        (answer,) = kpi_answer(store, INVENTORY, "pue", Scope("site", site), T0, END)
        assert answer.value == pytest.approx(expected, **EXACT)
        assert answer.coverage == 1.0
    (lossy,) = kpi_answer(store, INVENTORY, "pue", Scope("site", "reset-2"), T0, END)
    assert lossy.value == pytest.approx(1.1 * 7170 / 7200, **EXACT)


def test_http_api_energy_and_kpi(store: DuckDBStore) -> None:
    app = create_flask(lambda: True)
    register(app, ApiContext(store, INVENTORY, Ingest(store.write), lambda: END))
    client = app.test_client()
    window = {"start": T0.isoformat(), "end": END.isoformat()}
    got = client.get(
        "/api/v1/energy", query_string={"site": "reset-1", "meter": "facility", **window}
    )
    assert got.status_code == 200
    data = got.get_json()["data"]
    assert data["joules"] == pytest.approx(110e3 * 7200, **EXACT)
    assert data["kwh"] == pytest.approx(220.0, **EXACT)
    assert (data["coverage"], data["provenance"]) == (1.0, "mixed")
    csv = client.get(
        "/api/v1/energy",
        query_string={"site": "power-1", "meter": "it_input", "format": "csv", **window},
    )
    assert csv.data.decode().splitlines()[0].startswith("site,meter,device,start,end,joules,kwh")
    assert client.get("/api/v1/energy", query_string={"site": "power-1"}).status_code == 400
    assert client.get("/api/v1/energy", query_string={"site": "x", "meter": "a"}).status_code == 400
    pue = client.get("/api/v1/kpi", query_string={"kpi": "pue", "scope": "site:power-1", **window})
    answer = pue.get_json()["data"][0]
    assert answer["value"] == pytest.approx(1.1, **EXACT)
    assert (answer["coverage"], answer["provenance"]) == (1.0, "power")
    bad = client.get("/api/v1/kpi", query_string={"kpi": "pue", "min_coverage": "2"})
    assert bad.status_code == 400


def test_cli_energy(store: DuckDBStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store.close()
    inv = tmp_path / "inv.yaml"
    inv.write_text(
        json.dumps(INVENTORY.model_dump(mode="json", exclude_none=True)), encoding="utf-8"
    )
    args = ["energy", "--site", "mixed-1", "--meter", "it_input", "--start", str(T0)]
    args += ["--end", str(END), "--data-dir", str(tmp_path), "--inventory", str(inv)]
    assert main([*args, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["joules"] == pytest.approx(300e3 * 7200, **EXACT)
    assert (out["coverage"], out["provenance"]) == (1.0, "power")
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "600 kWh" in text
    assert "provenance power" in text
    assert main([*args[:4], "cooling", *args[5:]]) == 0
    assert "mixed-1 cooling: —" in capsys.readouterr().out


def test_report_and_dashboard_data_path(store: DuckDBStore) -> None:
    report = build_report(
        store, INVENTORY, parse_period("2026-06-01"), parse_scope("national", INVENTORY)
    )
    sites = report.tables["sites"].set_index("site")
    assert sites.at["power-1", "pue"] == pytest.approx(1.1, **EXACT)
    assert sites.at["mixed-1", "pue"] == pytest.approx(1.1, **EXACT)
    assert sites.at["reset-1", "facility_kwh"] == pytest.approx(220.0, **EXACT)
    assert sites.at["reset-2", "facility_kwh"] == pytest.approx(220.0 * 7170 / 7200, **EXACT)
    step = pd.Timedelta(hours=1)
    per_step = step_totals(store, INVENTORY.sites, T0, END, step, ["pue"])
    power_1 = per_step[per_step["site"] == "power-1"]
    assert (power_1["facility_j"] / power_1["it_j"]).tolist() == pytest.approx([1.1, 1.1])
    assert set(per_step.loc[per_step["site"] == "mixed-1", "provenance"]) == {"mixed"}
    reset_1 = per_step[per_step["site"] == "reset-1"]["facility_j"].tolist()
    assert reset_1 == pytest.approx([110e3 * HOUR_S, 110e3 * HOUR_S], **EXACT)
    chain = site_power(store, INVENTORY.sites[1], T0, END, step)
    assert chain["IT equipment"].tolist() == pytest.approx([300e3, 300e3], **EXACT)
    assert chain["facility"].tolist() == pytest.approx([330e3, 330e3], **EXACT)


def test_gap_spanning_two_hours_is_spread(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "gap.duckdb")
    ts = _stamps(T0 + pd.Timedelta(hours=3))
    seconds = (ts - T0).total_seconds()
    # Written as it arrives: the samples after the outage come in a later write, and the
    # store's hourly roll-ups of the hours before must take their share of the gap's energy.
    for part in (ts[seconds <= 50 * 60], ts[seconds >= 130 * 60]):
        store.write(_counter("gap-1", "facility", 110.0, part))
        store.write(_counter("gap-1", "it_input", 100.0, part))
    end = T0 + pd.Timedelta(hours=3)
    trend = pue_trend(store, GAP_INVENTORY.sites, T0, end, pd.Timedelta(hours=1))
    # 80 minutes of gap: 10 in hour 0, 60 in hour 1, 10 in hour 2, all at the meters' rate.
    assert trend["facility_j"].tolist() == pytest.approx([110e3 * HOUR_S] * 3, **EXACT)
    assert trend["pue"].tolist() == pytest.approx([1.1, 1.1, 1.1], **EXACT)
    per_step = step_totals(store, GAP_INVENTORY.sites, T0, end, pd.Timedelta(hours=1), ["pue"])
    assert per_step["facility_j_cov"].tolist() == pytest.approx([50 / 60, 0.0, 50 / 60])
    whole = energy_read(store, "gap-1", T0, end, meter="facility")
    assert whole.joules == pytest.approx(110e3 * 3 * HOUR_S, **EXACT)
    assert whole.coverage == pytest.approx(100 / 180)


def test_every_consumer_gives_the_same_site_and_national_figures(store: DuckDBStore) -> None:
    """Query (KPI API), alerts, dashboard, reports and export (/metrics) over one period."""
    sites = [s.id for s in INVENTORY.sites]
    query = {
        s: kpi_answer(store, INVENTORY, "pue", Scope("site", s), T0, END)[0].value for s in sites
    }
    query["national"] = kpi_answer(store, INVENTORY, "pue", Scope("national"), T0, END)[0].value
    expected_national = (220 + 330 + 110 + 110 * 7170 / 7200) / (200 + 300 + 100 + 100)
    assert query["national"] == pytest.approx(expected_national, **EXACT)

    rules = tuple(
        KpiRule.model_validate(
            {"alert": f"Pue{level}", "kind": "kpi", "kpi": "pue", "window": "2h", "op": ">"}
            | {"threshold": 0.0, "level": level}
        )
        for level in ("site", "national")
    )
    outcomes = Evaluator(store, INVENTORY, RuleSet("agreement", rules)).evaluate(END)
    alerts = {h.labels.get("site", "national"): h.value for o in outcomes for h in o.hits}

    totals = step_totals(store, INVENTORY.sites, T0, END, END - T0, ["pue"])
    dashboard = dict(zip(totals["site"], totals["facility_j"] / totals["it_j"], strict=True))
    dashboard["national"] = float(ratio_per_step(totals, "pue")["value"].iloc[0])

    config = ReportConfig(min_coverage=0.0)
    report = build_report(
        store, INVENTORY, parse_period("2026-06-01"), parse_scope("national", INVENTORY), config
    )
    reports = report.tables["sites"].set_index("site")["pue"].to_dict()
    reports["national"] = report.tables["summary"].set_index("figure").at["pue", "value"]

    snapshot = take_snapshot(store, INVENTORY, END, {"2h": END - T0})
    export = {s: snapshot.find("pue", scope="site", site=s)[0].value for s in sites}
    export["national"] = snapshot.find("pue", scope="national")[0].value

    for name, figures in {
        "alerts": alerts,
        "dashboard": dashboard,
        "reports": reports,
        "export": export,
    }.items():
        assert figures == pytest.approx(query, **EXACT), name


def test_alert_kpis_over_raw_windows_fill_reset_pairs_from_power(store: DuckDBStore) -> None:
    """A 1-hour KPI rule reduces raw samples (the last hour, 59 covered minutes, scaled to the
    hour); the reset pair at 1 h 0 min 30 s is filled from the facility power series at reset-1
    (PUE 1.1 exactly) and loses its 30 s at reset-2, which has no power series."""
    rule = KpiRule.model_validate(
        {"alert": "Pue", "kind": "kpi", "kpi": "pue", "window": "1h", "op": ">", "threshold": 0.0}
    )
    outcomes = Evaluator(store, INVENTORY, RuleSet("raw", (rule,))).evaluate(END)
    pue = {h.labels["site"]: h.value for o in outcomes for h in o.hits}
    covered = 59 * 60.0
    assert pue["reset-1"] == pytest.approx(1.1, **EXACT)
    assert pue["reset-2"] == pytest.approx(1.1 * (covered - 30) / covered, **EXACT)
    assert pue["power-1"] == pytest.approx(1.1, **EXACT)

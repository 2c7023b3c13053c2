"""Golden report: three hand-built sites, every number of every CSV table checked.

Energies (see tests/reports/_golden.py), for day 2026-10-05 (Asia/Shanghai) and the day before:
east-a facility 1250 kW (1300 before), IT 1000 kW, cooling 150 kW, water 1200 L/h, PPA 1000 kW,
Shanghai 0.5737 kg/kWh; west-b facility 1300 kW (1260), IT 1000 kW, cooling 200 kW, water
600 L/h, on-site green 500 kW, Guizhou 0.5683; sc-c facility 2000 kW (1900), IT 1600 kW, no water
or green meter, Jiangsu 0.5827, facility meter silent 02:00-05:00 (coverage 21/24 = 0.875, so
left out of the national figures: minimum coverage 0.95).

The expected tables in testdata/golden/ were written by hand from these figures, e.g.:
national PUE = (30 000 + 31 200) / (24 000 + 24 000) = 1.275 (sc-c excluded); previous day
(all three) = (31 200 + 30 240 + 45 600) / (24 000 + 24 000 + 38 400) = 1.238889;
CO2 location = 30 000 x 0.5737 + 31 200 x 0.5683 = 17 211 + 17 730.96 = 34 941.96 kg;
market = (30 000 - 24 000) x 0.5737 + (31 200 - 12 000) x 0.5683 = 14 353.56 kg;
WUE = (28 800 + 14 400) L / 48 000 kWh = 0.9; REF of the hub clusters = 36 000 / 61 200;
the hourly trend is 2550 / 2000 kWh (1.275) for the network, 1250 / 1000 east, 1300 / 1000 west.
The national PUE rests on 2 of 3 sites, (2000 + 2000) / 7000 kW = 0.571429 of the IT capacity,
below the 0.9 minimum share: shown, verdict "partial scope", not "pass".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from greenwatch.inventory import Inventory
from greenwatch.reports import build_report, parse_period, parse_scope, render_csv
from greenwatch.store import DuckDBStore

GOLDEN = Path(__file__).parent / "testdata" / "golden"
TABLES = ("summary", "hubs", "sites", "ranking", "changes", "coverage", "gaps", "trend")
COMPUTE_TABLES = ("compute", "compute_share", "compute_findings", "compute_verification")


def test_every_number_of_the_golden_report(golden: tuple[DuckDBStore, Inventory]) -> None:
    store, inventory = golden
    period = parse_period("2026-10-05")
    report = build_report(store, inventory, period, parse_scope("national", inventory))
    files = render_csv(report)
    # the computing-power tables come last (checked in test_reports_compute)
    assert list(files) == [
        f"greenwatch-national-2026-10-05--{t}.csv" for t in (*TABLES, *COMPUTE_TABLES)
    ]
    for table in TABLES:
        got = files[f"greenwatch-national-2026-10-05--{table}.csv"].decode("utf-8")
        expected = (GOLDEN / f"{table}.csv").read_text(encoding="utf-8")
        assert got.splitlines() == expected.splitlines(), table
        assert got == expected, f"{table}: same cells, different bytes"
    assert report.current.excluded == (("sc-c", "coverage 0.875 < 0.95"),)


def test_methodology_states_interval_category_and_factors(
    golden: tuple[DuckDBStore, Inventory],
) -> None:
    store, inventory = golden
    period = parse_period("2026-10-05")
    report = build_report(store, inventory, period, parse_scope("national", inventory))
    method = report.methodology
    assert period.interval() == "[2026-10-05T00:00+08:00, 2026-10-06T00:00+08:00)"
    assert period.start_utc == pd.Timestamp("2026-10-04T16:00Z")
    assert method.categories == (
        (1, "it_ups_output", 1),
        (2, "it_pdu_output", 1),
        (3, "it_input", 1),
    )
    assert {(y, p, f) for y, _, p, f in method.factors} == {
        (2023, "Guizhou", 0.5683),
        (2023, "Jiangsu", 0.5827),
        (2023, "Shanghai", 0.5737),
    }
    assert all("MEE/NBS" in source for _, source, _, _ in method.factors)
    assert method.interim
    assert method.grades_placeholder

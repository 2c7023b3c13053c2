"""The computing-power section: golden tables, scopes, settings, and the monthly PDF as images.

Golden figures for 2026-10-05 (Asia/Shanghai, 24 h), from tests/reports/_golden.py:

- east-a, pool ai: 1,000 GPUs x 1 PFLOPS FP16 = 1,000 PFLOPS rated; collectors see 960, so 960
  available; verified ok (HPL-MxP on 2026-09-20). Delivered 1,000 x 24 h x 0.5 = 12,000 PFLOP-h;
  the site's facility energy 1,250 kW x 24 h = 30,000 kWh is all the pool's: 2.5 kWh and
  30,000 x 0.5737 / 12,000 = 1.43425 kgCO2 per PFLOP-h; 500 PFLOPS / 1.25 MW = 400 GFLOPS/W.
- west-b, pool general: 2,000 CPUs x 2 TFLOPS FP64 = 4 PFLOPS rated, all seen, but its latest
  verification failed: 0 available. 4 x 24 x 0.25 = 24 PFLOP-h for 31,200 kWh: 1,300 kWh and
  31,200 x 0.5683 / 24 = 738.79 kgCO2 per PFLOP-h; 1 PFLOPS / 1.3 MW = 0.769231 GFLOPS/W.
- sc-c, pool hpc: 400 GPUs x 50 TFLOPS FP64 = 20 PFLOPS, no collector reports (not identified:
  available = rated), no utilisation (no delivered figures, coverage 0); last passed HPL on
  2026-05-01, 157.67 days before the end of the period: stale. Its pool ``old`` retired in
  January and is left out.
- West share: general 4 of 4 PFLOPS (of 0 available: none), ai and supercomputing 0.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from PIL import ImageStat

from greenwatch.inventory import Inventory
from greenwatch.reports import (
    ArchivedReport,
    Report,
    ReportConfig,
    build_report,
    load_report_settings,
    parse_period,
    parse_scope,
    render_csv,
    render_html,
)
from greenwatch.store import DuckDBStore
from tests.conftest import need_binary
from tests.reports._golden import golden_compute, golden_store
from tests.reports._pdf import dark_share, page_image, pdf_info, pdf_page_text

GOLDEN = Path(__file__).parent / "testdata" / "golden"
COMPUTE_TABLES = ("compute", "compute_share", "compute_findings", "compute_verification")
GENERATED = pd.Timestamp("2026-11-01T02:00+08:00")


def _report(
    golden: tuple[DuckDBStore, Inventory], scope: str, config: ReportConfig | None = None
) -> Report:
    store, inventory = golden
    return build_report(
        store,
        inventory,
        parse_period("2026-10-05"),
        parse_scope(scope, inventory),
        config,
        compute=golden_compute(inventory),
    )


def test_every_number_of_the_golden_compute_tables(
    golden: tuple[DuckDBStore, Inventory],
) -> None:
    files = render_csv(_report(golden, "national"))
    for table in COMPUTE_TABLES:
        got = files[f"greenwatch-national-2026-10-05--{table}.csv"].decode("utf-8")
        expected = (GOLDEN / f"{table}.csv").read_text(encoding="utf-8")
        assert got.splitlines() == expected.splitlines(), table
        assert got == expected, f"{table}: same cells, different bytes"


def test_a_hub_or_site_report_shows_its_own_pools(golden: tuple[DuckDBStore, Inventory]) -> None:
    hub = _report(golden, "hub:guizhou").tables
    assert list(zip(hub["compute"]["level"], hub["compute"]["key"], strict=True)) == [
        ("hub", "guizhou"),
        ("site", "west-b"),
    ]
    assert "compute_share" not in hub  # the west share is the nation's
    assert hub["compute_findings"].empty
    assert list(hub["compute_verification"]["pool"]) == ["general"]
    site = _report(golden, "site:east-a").tables
    assert list(site["compute"]["key"]) == ["east-a"]
    assert list(site["compute_findings"]["finding"]) == ["missing"]
    assert site["compute_verification"].empty


def test_the_compute_csv_is_byte_identical_for_the_same_samples(
    golden: tuple[DuckDBStore, Inventory],
) -> None:
    _, inventory = golden
    other = golden_store()
    try:
        twice = [
            render_csv(_report((store, inventory), "national")) for store in (golden[0], other)
        ]
    finally:
        other.close()
    assert twice[0] == twice[1]


def test_report_settings_set_when_a_verification_is_stale(
    golden: tuple[DuckDBStore, Inventory], tmp_path: Path
) -> None:
    path = tmp_path / "reports.yaml"
    path.write_text("max_verification_age_days: 200\n", encoding="utf-8")
    config = load_report_settings(path).config()
    assert config.max_verification_age == pd.Timedelta(days=200)
    report = _report(golden, "national", config=config)
    verification = report.tables["compute_verification"]
    assert list(verification["verification"]) == ["failed"]  # sc-c's 158 days are fine now
    national = report.tables["compute"].set_index(["level", "class"])
    assert national.at[("national", "supercomputing"), "verified_share"] == 1.0


def test_html_section_names_findings_and_unverified_pools(
    golden: tuple[DuckDBStore, Inventory],
) -> None:
    html = render_html(_report(golden, "national"), GENERATED)
    section = html[html.index('<h2 class="section">Computing power</h2>') :]
    section = section[: section.index("Data quality")]
    assert "1.00\u00a0EFLOPS" in section  # east-a's 1,000 PFLOPS of AI
    assert "outside hubs" in section  # sc-c, in no hub
    assert "east-a: registered" not in section  # the table, not the message
    assert '<span class="fail">missing</span>' in section
    assert '<span class="fail">failed</span>' in section
    assert '<span class="low">stale</span>' in section
    assert "2026-05-01" in section
    assert "Sites in the western region hold 0.0\u00a0% of the nation's rated AI" in section


def test_monthly_national_report_has_a_readable_computing_power_page(
    month_report: ArchivedReport, tmp_path: Path
) -> None:
    pdftoppm = need_binary("pdftoppm")
    pdftotext = need_binary("pdftotext")
    pdfinfo = need_binary("pdfinfo")
    pdf = month_report.path / "greenwatch-national-2026-10.pdf"
    _, count = pdf_info(pdfinfo, pdf)
    pages = [pdf_page_text(pdftotext, pdf, p) for p in range(1, count + 1)]
    page = next(i for i, text in enumerate(pages, 1) if "Computing power\n" in text)
    text = pages[page - 1] + pages[page]
    for words in ("EFLOPS", "By hub", "outside hubs", "GFLOPS/W", "Device identification"):
        assert words in text, words
    assert "guian-1" in text  # 938 of its 15,000 GPUs unseen at the end of the month
    assert "no verification record" in text
    grey = page_image(pdftoppm, pdf, page, tmp_path)
    assert dark_share(grey) > 0.03, f"page {page} is (nearly) blank"
    assert ImageStat.Stat(grey).stddev[0] > 20
    # every column of the widest table is on the page: no ink in the right margin (14 mm)
    margin = grey.crop((grey.size[0] - 30, 0, grey.size[0], grey.size[1]))
    assert ImageStat.Stat(margin).extrema[0][0] > 200
    csv = month_report.path / "greenwatch-national-2026-10--compute.csv"
    assert sum(line.startswith("site,") for line in csv.read_text("utf-8").splitlines()) > 40

"""The monthly national report of a simulated month, rendered to PDF and looked at as images."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
from PIL import Image, ImageStat

from greenwatch.inventory import load_inventory
from greenwatch.reports import list_reports, make_report, parse_period, parse_scope
from greenwatch.store import DuckDBStore
from tests.conftest import need_binary
from tests.reports._pdf import pdf_page_text

GENERATED = pd.Timestamp("2026-11-01T02:00+08:00")


def test_monthly_national_report_renders_readable_pages(
    month_store: DuckDBStore, tmp_path: Path
) -> None:
    pdftoppm = need_binary("pdftoppm")
    pdftotext = need_binary("pdftotext")
    pdfinfo = need_binary("pdfinfo")
    inventory = load_inventory()
    archived = make_report(
        month_store,
        inventory,
        parse_period("2026-10"),
        parse_scope("national", inventory),
        formats=("html", "pdf", "csv"),
        archive_dir=tmp_path / "reports",
        generated_at=GENERATED,
    )
    assert [r.name for r in list_reports(tmp_path / "reports")] == ["greenwatch-national-2026-10"]
    pdf = archived.path / "greenwatch-national-2026-10.pdf"
    info = subprocess.run([pdfinfo, str(pdf)], check=True, capture_output=True, text=True).stdout
    assert "(A4)" in info
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages >= 5

    subprocess.run(
        [pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "2", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == 2
    for image in images:
        grey = Image.open(image).convert("L")
        assert grey.size[1] == 702  # A4 (297 mm) at 60 dpi
        dark = sum(grey.histogram()[:160]) / (grey.size[0] * grey.size[1])
        assert dark > 0.01, f"{image.name} is (nearly) blank"
        assert ImageStat.Stat(grey).stddev[0] > 20

    first = pdf_page_text(pdftotext, pdf, 1)
    assert "Monthly efficiency report" in first
    assert "[2026-10-01T00:00+08:00, 2026-11-01T00:00+08:00)" in first
    assert "Executive summary" in first
    assert f"Page 1 of {pages}" in first
    assert "PUE per day of month" in first
    everything = "".join(pdf_page_text(pdftotext, pdf, p) for p in range(2, pages + 1))
    for heading in ("Energy split", "Hubs", "Sites", "Rankings", "Data quality", "Methodology"):
        assert heading in everything, heading
    assert "ISO/IEC 30134-2" in everything
    assert "sc-wuxi" in everything
    assert "coverage 0.935" in everything

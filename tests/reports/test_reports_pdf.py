"""The monthly national report of a simulated month, rendered to PDF and looked at as images."""

from __future__ import annotations

from pathlib import Path

from PIL import ImageStat

from greenwatch.reports import ArchivedReport, list_reports
from tests.conftest import need_binary
from tests.reports._pdf import dark_share, page_image, pdf_info, pdf_page_text


def test_monthly_national_report_renders_readable_pages(
    month_report: ArchivedReport, tmp_path: Path
) -> None:
    pdftoppm = need_binary("pdftoppm")
    pdftotext = need_binary("pdftotext")
    pdfinfo = need_binary("pdfinfo")
    assert [r.name for r in list_reports(month_report.path.parent)] == [
        "greenwatch-national-2026-10"
    ]
    pdf = month_report.path / "greenwatch-national-2026-10.pdf"
    info, pages = pdf_info(pdfinfo, pdf)
    assert "(A4)" in info
    assert pages >= 5
    for page in (1, 2):
        grey = page_image(pdftoppm, pdf, page, tmp_path)
        assert grey.size[1] == 702  # A4 (297 mm) at 60 dpi
        assert dark_share(grey) > 0.01, f"page {page} is (nearly) blank"
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

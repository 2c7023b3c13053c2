"""The PDF rendered in a child process (``greenwatch report``): the same bytes as rendered in
the process itself, and, when the child cannot start or fails, rendered in the process."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.inventory import Inventory
from greenwatch.reports import build_report, make_report, parse_period, parse_scope, render_html
from greenwatch.reports._pdf import PdfProcess, render_pdf
from greenwatch.store import DuckDBStore
from tests.reports._golden import golden_compute

GENERATED = pd.Timestamp("2026-11-01T02:00+08:00")


@pytest.fixture
def html(golden: tuple[DuckDBStore, Inventory]) -> str:
    store, inventory = golden
    report = build_report(
        store,
        inventory,
        parse_period("2026-10-05"),
        parse_scope("national", inventory),
        compute=golden_compute(inventory),
    )
    return render_html(report, GENERATED)


def test_the_child_renders_the_same_pdf(html: str) -> None:
    with PdfProcess() as child:
        pdf = child.render(html)
    assert pdf.startswith(b"%PDF")
    assert pdf == render_pdf(html)


def test_a_child_that_cannot_start_leaves_the_pdf_to_this_process(
    html: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    with PdfProcess() as child:
        pdf = child.render(html)
    assert pdf == render_pdf(html)


def test_a_failing_child_leaves_the_pdf_to_this_process(
    html: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = shutil.which("false")
    assert failing is not None
    monkeypatch.setattr(sys, "executable", failing)  # starts, exits 1 without a PDF
    with PdfProcess() as child:
        pdf = child.render(html)
    assert pdf == render_pdf(html)


def test_an_unused_child_is_ended() -> None:
    with PdfProcess() as child:
        process = child._child
        assert process is not None
        assert process.poll() is None  # loading WeasyPrint, then waiting for a report
    assert process.returncode is not None  # ended on leaving the block, not left behind


def test_make_report_archives_the_same_pdf_with_a_child(
    golden: tuple[DuckDBStore, Inventory], tmp_path: Path
) -> None:
    store, inventory = golden
    pdfs = []
    for in_child in (False, True):
        archived = make_report(
            store,
            inventory,
            parse_period("2026-10-05"),
            parse_scope("national", inventory),
            formats=("html", "pdf"),
            archive_dir=tmp_path / str(in_child),
            generated_at=GENERATED,
            compute=golden_compute(inventory),
            pdf_in_child=in_child,
        )
        pdf = archived.file(f"{archived.name}.pdf")
        assert pdf is not None
        pdfs.append(pdf.read_bytes())
    assert pdfs[0].startswith(b"%PDF")
    assert pdfs[0] == pdfs[1]

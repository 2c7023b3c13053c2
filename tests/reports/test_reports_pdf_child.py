"""``greenwatch report``'s PDF child process: the same bytes as rendered in the process itself,
and, when the child cannot start or fails, the PDF rendered in the process; the child imports
no pandas."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.cli._pdf_child import PdfChild
from greenwatch.inventory import Inventory
from greenwatch.reports import (
    build_report,
    make_report,
    parse_period,
    parse_scope,
    render_html,
    render_pdf,
)
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
    with PdfChild() as child:
        pdf = child.render(html)
    assert pdf.startswith(b"%PDF")
    assert pdf == render_pdf(html)


def test_a_child_that_cannot_start_leaves_the_pdf_to_this_process(
    html: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    with PdfChild() as child:
        pdf = child.render(html)
    assert pdf == render_pdf(html)


def test_a_failing_child_leaves_the_pdf_to_this_process(
    html: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = shutil.which("false")
    assert failing is not None
    monkeypatch.setattr(sys, "executable", failing)  # starts, exits 1 without a PDF
    with PdfChild() as child:
        pdf = child.render(html)
    assert pdf == render_pdf(html)


def test_an_unused_child_is_ended() -> None:
    with PdfChild() as child:
        process = child._child
        assert process is not None
        assert process.poll() is None  # loading WeasyPrint, then waiting for a report
    assert process.returncode is not None  # ended on leaving the block, not left behind


def test_make_report_archives_the_same_pdf_from_a_child(
    golden: tuple[DuckDBStore, Inventory], tmp_path: Path
) -> None:
    store, inventory = golden
    pdfs = []
    for child in (None, PdfChild()):
        archived = make_report(
            store,
            inventory,
            parse_period("2026-10-05"),
            parse_scope("national", inventory),
            formats=("html", "pdf"),
            archive_dir=tmp_path / str(child is not None),
            generated_at=GENERATED,
            compute=golden_compute(inventory),
            pdf_renderer=child.render if child is not None else None,
        )
        pdf = archived.file(f"{archived.name}.pdf")
        assert pdf is not None
        pdfs.append(pdf.read_bytes())
    assert pdfs[0].startswith(b"%PDF")
    assert pdfs[0] == pdfs[1]


def test_the_child_imports_no_pandas() -> None:
    # the child's own imports (the reports face's render_pdf): WeasyPrint, not pandas
    code = "import sys; from greenwatch.reports import render_pdf; print(sorted(sys.modules))"
    modules = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert "'greenwatch.reports._pdf'" in modules
    assert "pandas" not in modules


def test_the_pdf_comes_from_the_child() -> None:
    # in a new process: the PDF is there, and WeasyPrint was never loaded in that process
    code = (
        "import sys; from greenwatch.cli._pdf_child import PdfChild\n"
        "with PdfChild() as child: pdf = child.render('<p>PUE 1.25</p>')\n"
        "print(pdf[:4].decode(), 'weasyprint' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.split() == ["%PDF", "False"]

"""The PDF worker (``greenwatch report`` and ``serve`` render PDFs in it): the same bytes as
rendered in the process itself; one process for many renders, from several threads; a new one
after it ended (idle, killed); and, when it cannot start or fails, the PDF rendered in the
process. The worker imports no pandas."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.inventory import Inventory
from greenwatch.reports import (
    PdfWorker,
    make_report,
    parse_period,
    parse_scope,
    render_html,
    render_pdf,
)
from greenwatch.store import DuckDBStore
from tests.reports._golden import golden_compute, golden_day_report

GENERATED = pd.Timestamp("2026-11-01T02:00+08:00")


@pytest.fixture
def html(golden: tuple[DuckDBStore, Inventory]) -> str:
    return render_html(golden_day_report(*golden), GENERATED)


def _pid(worker: PdfWorker) -> int:
    child = worker._child
    assert child is not None
    assert child.poll() is None
    return child.pid


def test_the_worker_renders_the_same_pdf(html: str) -> None:
    with closing(PdfWorker()) as worker:
        pdf = worker.render(html)
    assert pdf.startswith(b"%PDF")
    assert pdf == render_pdf(html)


def test_one_worker_renders_many_pdfs_from_several_threads(html: str) -> None:
    pages = [html.replace("greenwatch", f"greenwatch {i}", 1) for i in range(4)]
    expected = [render_pdf(page) for page in pages]
    with closing(PdfWorker()) as worker:
        first = _pid(worker)
        with ThreadPoolExecutor(4) as pool:
            pdfs = list(pool.map(worker.render, pages))
        assert _pid(worker) == first  # all four from the one process
    assert pdfs == expected
    assert len(set(pdfs)) == 4


def test_a_worker_starts_at_its_first_render_and_again_after_it_ended(html: str) -> None:
    expected = render_pdf(html)
    with closing(PdfWorker(start=False, idle_s=1.0)) as worker:
        assert worker._child is None  # a service's: nothing started until a report
        assert worker.render(html) == expected
        idle = worker._child
        assert idle is not None
        assert idle.wait(timeout=30) == 0  # a second without a PDF: it ends by itself
        again = worker.render(html)
        renewed = worker._child
        assert renewed is not None
        assert renewed.pid != idle.pid  # a new one rendered it
        assert again == expected
        renewed.kill()
        renewed.wait()
        assert worker.render(html) == expected  # killed: yet another one
        assert worker._child is not None
        assert worker._child.pid != renewed.pid


def test_a_worker_that_cannot_start_leaves_the_pdf_to_this_process(
    html: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    with closing(PdfWorker()) as worker:
        pdf = worker.render(html)
    assert pdf == render_pdf(html)


def test_a_failing_worker_leaves_the_pdf_to_this_process(
    html: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = shutil.which("false")
    assert failing is not None
    monkeypatch.setattr(sys, "executable", failing)  # starts, exits 1 without a PDF
    with closing(PdfWorker()) as worker:
        pdf = worker.render(html)
    assert pdf == render_pdf(html)


def test_text_the_worker_cannot_take_is_rendered_here() -> None:
    html = "<p>PUE 1.25 \ud800</p>"  # a lone surrogate: what this process's render makes of it
    try:
        expected: bytes | str = render_pdf(html)
    except UnicodeError as exc:
        expected = str(exc)
    with closing(PdfWorker()) as worker:
        try:
            got: bytes | str = worker.render(html)
        except UnicodeError as exc:
            got = str(exc)
        assert got == expected
        assert worker.render("<p>PUE 1.25</p>") == render_pdf("<p>PUE 1.25</p>")


def test_an_unused_worker_is_ended() -> None:
    with closing(PdfWorker()) as worker:
        process = worker._child
        assert process is not None
        assert process.poll() is None  # loading WeasyPrint, then waiting for a report
    assert process.returncode is not None  # ended on leaving the block, not left behind


def test_make_report_archives_the_same_pdf_from_a_worker(
    golden: tuple[DuckDBStore, Inventory], tmp_path: Path
) -> None:
    store, inventory = golden
    pdfs = []
    with closing(PdfWorker()) as worker:
        for renderer in (None, worker.render):
            archived = make_report(
                store,
                inventory,
                parse_period("2026-10-05"),
                parse_scope("national", inventory),
                formats=("html", "pdf"),
                archive_dir=tmp_path / str(renderer is not None),
                generated_at=GENERATED,
                compute=golden_compute(inventory),
                pdf_renderer=renderer,
            )
            pdf = archived.file(f"{archived.name}.pdf")
            assert pdf is not None
            pdfs.append(pdf.read_bytes())
    assert pdfs[0].startswith(b"%PDF")
    assert pdfs[0] == pdfs[1]


def test_the_worker_imports_no_pandas() -> None:
    # the worker's own imports (the reports face, then its _pdf module): WeasyPrint, not pandas
    code = (
        "import sys; from greenwatch.reports._pdf import render_pdf; "
        "from greenwatch.reports import PdfWorker; print(sorted(sys.modules))"
    )
    modules = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert "'greenwatch.reports._pdf'" in modules
    assert "pandas" not in modules


def test_the_pdf_comes_from_the_worker() -> None:
    # in a new process: the PDF is there, and WeasyPrint was never loaded in that process
    code = (
        "import sys; from contextlib import closing; from greenwatch.reports import PdfWorker\n"
        "with closing(PdfWorker()) as worker: pdf = worker.render('<p>PUE 1.25</p>')\n"
        "print(pdf[:4].decode(), 'weasyprint' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.split() == ["%PDF", "False"]


def test_a_worker_left_open_ends_with_its_parent() -> None:
    code = (
        "from greenwatch.reports import PdfWorker\n"
        "worker = PdfWorker(); worker.render('<p>PUE 1.25</p>'); print(worker._child.pid)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    pid = int(out.stdout)
    deadline = time.monotonic() + 30
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)  # its input ended with the parent: it exited
    assert out.stderr == ""


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has ended; its new parent reaps it

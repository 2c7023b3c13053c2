"""Report benchmark: the monthly national report (HTML, PDF, CSV) over a simulated month.

Builds a store of the whole national network for October 2026 (Asia/Shanghai) at 1-minute
resolution (Simulator seed 0 + the demo backfill), then times the report: computing it, each
format, and all three formats end to end into an archive as ``greenwatch serve`` makes them (the
PDF from its PDF worker process; goal: < 1.5 s warm) and with the PDF rendered in this process,
first call in a fresh process and then warm (median of --repeat). Also times ``greenwatch
report`` as a new process, imports included (goal: < 3 s; median of three runs, with the CPU
time they used).
Usage: python bench/report.py [--days N] [--store PATH] [--page-png PNG] (``--store`` reuses or
keeps the store, whatever its file name; ``--page-png`` saves page 1 of the PDF via pdftoppm).
Prints RESULT lines (see ``bench/_results.py``) besides the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pandas as pd

from _results import result
from greenwatch.inventory import load_inventory
from greenwatch.reports import (
    PdfWorker,
    build_report,
    make_report,
    parse_period,
    parse_scope,
    render_csv,
    render_html,
    render_pdf,
)
from greenwatch.service import backfill
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

START = pd.Timestamp("2026-09-30T16:00Z")  # 2026-10-01T00:00+08:00
GOAL_WARM_S = 1.5  # all three formats, warm
GOAL_NEW_PROCESS_S = 3.0  # greenwatch report, imports included
STORE_FILE = "greenwatch.duckdb"  # the store's name in a data directory


def _build(path: Path, days: int) -> None:
    store = DuckDBStore(path)
    sim = Simulator(load_inventory(), seed=0, start=START)
    t0 = time.perf_counter()
    generated, _ = backfill(sim, store.write, START + pd.Timedelta(days=days, hours=1))
    took = time.perf_counter() - t0
    store.close()
    print(f"store: {days} days, {generated:,} samples built in {took:.1f} s")


def _timed(fn: object, repeat: int) -> tuple[float, float, float]:
    """(first call, median of the next ``repeat`` calls, their median CPU time), seconds.

    CPU time (all threads of this process) shows what the work costs when other processes
    compete for the cores and wall-clock times are inflated.
    """
    assert callable(fn)
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    runs, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return first, statistics.median(runs), statistics.median(cpu)


def _new_process(store: Path, out: Path, runs: int = 3) -> tuple[float, float]:
    """(median wall-clock, median CPU time of the process), seconds, of ``greenwatch report``
    over the store's data directory (a link to the store when it has another name)."""
    data_dir = store.parent
    if store.name != STORE_FILE:
        data_dir = out / "data"
        data_dir.mkdir(parents=True)
        (data_dir / STORE_FILE).symlink_to(store.resolve())
    cli = shutil.which("greenwatch") or str(Path(sys.executable).parent / "greenwatch")
    command = [cli, "report", "--period", "2026-10", "--data-dir", str(data_dir)]
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([*command, "--out", str(out / "cli")], check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=31, help="days simulated (default 31)")
    parser.add_argument("--store", type=Path, help="store file to reuse (built if absent)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--page-png", type=Path, help="save PDF page 1 here (pdftoppm -r 80)")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = args.store or Path(tmp) / "data" / "greenwatch.duckdb"
        if not path.exists():
            _build(path, args.days)
        inventory = load_inventory()
        period = parse_period("2026-10")
        scope = parse_scope("national", inventory)
        now = pd.Timestamp("2026-11-01T02:00+08:00")
        store = DuckDBStore(path)
        archive = Path(tmp) / "reports"
        worker = PdfWorker(start=False)  # as serve's: started by the first report

        def everything(renderer: Callable[[str], bytes] | None = worker.render) -> None:
            make_report(
                store,
                inventory,
                period,
                scope,
                formats=("html", "pdf", "csv"),
                archive_dir=archive,
                generated_at=now,
                pdf_renderer=renderer,
            )

        with closing(worker):
            first_all, warm_all, cpu_all = _timed(everything, args.repeat)
        first_here, warm_here, cpu_here = _timed(lambda: everything(None), args.repeat)
        report = build_report(store, inventory, period, scope)
        html = render_html(report, now)
        parts = {
            "compute (store reads + figures)": lambda: build_report(
                store, inventory, period, scope
            ),
            "render HTML (with SVG charts)": lambda: render_html(report, now),
            "render PDF (WeasyPrint, from HTML)": lambda: render_pdf(html),
            "render CSV (12 tables)": lambda: render_csv(report),
        }
        timings = {name: _timed(fn, args.repeat) for name, fn in parts.items()}
        store.close()
        pdf = archive / report.name / f"{report.name}.pdf"
        pages = subprocess.run(["pdfinfo", str(pdf)], check=False, capture_output=True, text=True)
        page_count = next(
            (ln.split()[-1] for ln in pages.stdout.splitlines() if "Pages:" in ln), "?"
        )
        print(
            f"monthly national report {period.label} {period.interval()}: "
            f"{len(inventory.sites)} sites, PDF {pdf.stat().st_size / 1024:.0f} KiB, "
            f"{page_count} pages"
        )
        for name, (first, warm, cpu) in timings.items():
            print(f"  {name:38s} first {first:6.3f} s   warm {warm:6.3f} s   cpu {cpu:6.3f} s")
        print(
            f"  {'all three, PDF in this process':38s} first {first_here:6.3f} s   warm "
            f"{warm_here:6.3f} s   cpu {cpu_here:6.3f} s"
        )
        verdict = "meets" if warm_all < GOAL_WARM_S else "misses"
        print(
            f"  {'all three, PDF worker (as serve)':38s} first {first_all:6.3f} s   warm "
            f"{warm_all:6.3f} s   cpu {cpu_all:6.3f} s   "
            f"({verdict} the {GOAL_WARM_S:g} s goal warm; cpu: this process's)"
        )
        wall, cpu = _new_process(path, Path(tmp))
        verdict = "meets" if wall < GOAL_NEW_PROCESS_S else "misses"
        print(
            f"  {'greenwatch report (new process)':38s} {wall:6.3f} s   cpu {cpu:6.3f} s "
            f"(Python start-up and imports included; {verdict} the {GOAL_NEW_PROCESS_S:g} s goal)"
        )
        result("monthly report, HTML+PDF+CSV, first", first_all, "s")
        result("monthly report, HTML+PDF+CSV, warm", warm_all, "s")
        result("monthly report, HTML+PDF+CSV, warm, PDF in this process", warm_here, "s")
        for name, figure in zip(timings, ("compute", "HTML", "PDF", "CSV"), strict=True):
            result(f"monthly report, {figure}, warm", timings[name][1], "s")
        result("monthly report, greenwatch report new process", wall, "s")
        if args.page_png:
            stem = args.page_png.with_suffix("")
            subprocess.run(
                [
                    "pdftoppm",
                    "-png",
                    "-r",
                    "80",
                    "-f",
                    "1",
                    "-l",
                    "1",
                    "-singlefile",
                    str(pdf),
                    str(stem),
                ],
                check=True,
            )
            print(f"page 1 saved to {args.page_png}")
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()

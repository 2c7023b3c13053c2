"""The arguments of report; handlers load when the command runs."""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager, nullcontext
from pathlib import Path
from typing import NoReturn

from greenwatch.cli._args.shared import add_server_args, common_args, lazy
from greenwatch.cli._common import Subparsers
from greenwatch.metrics import DEFAULT_MIN_COVERAGE, DEFAULT_MIN_SHARE
from greenwatch.reports import PERIOD_KINDS, TIMEZONE


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


@contextmanager
def _cyclic_gc_off(for_good: bool) -> Iterator[None]:
    """The cyclic garbage collector off for the command, and ``for_good`` (the command is the
    process, which ends after it) off until the process exits.

    ``greenwatch report`` is one short process: the collections while pandas, DuckDB and the
    report's modules load, the full ones over those objects (some 10^6) and the one Python
    makes at exit free next to nothing, and took some 0.2-0.3 s of a 3 s report. Reference
    counting frees the rest (the PDF's objects are the worker's). Run in-process
    (``main(argv)``, as the tests do), the collector is back as it was after the command.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled and not for_good:
            gc.enable()


def _start_pdf_then_report(args: argparse.Namespace) -> int:
    """``greenwatch report``: start the PDF worker (it loads WeasyPrint on the other core
    meanwhile), then load the command (pandas, the store) and run it, with the cyclic garbage
    collector off; the worker is ended when the command is done, used or not. The command
    being the process, the process then ends at once (:func:`_end_process`)."""
    from greenwatch.reports import PdfWorker  # noqa: PLC0415 - not for --help

    formats = {f.strip() for f in str(args.format).split(",")}
    with (
        _cyclic_gc_off(for_good=args.whole_process),
        closing(PdfWorker()) if "pdf" in formats or args.email else nullcontext() as worker,
    ):
        args.pdf_worker = worker
        code = lazy("_report", "_cmd_report")(args)
    if args.whole_process:
        _end_process(code)
    return code


def _end_process(code: int) -> NoReturn:
    """End the process with ``code`` after what an exit runs first (atexit functions: logging's
    flush, finalizers) and the standard streams flushed, without tearing down its objects.

    The report's files are written and closed and the store is closed by then; unloading
    pandas, DuckDB and the rest, and the last collection Python makes at exit, took 0.18-0.29 s
    after a monthly report's command returned, and free nothing a process that ends needs."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def add_commands(sub: Subparsers) -> None:
    """Register ``report``."""
    report = sub.add_parser(
        "report",
        help="efficiency report for a calendar period (HTML, PDF, CSV)",
        description="Write the efficiency report of a scope over one calendar period in "
        f"{TIMEZONE} local time: executive summary against the national targets, hub and "
        "site tables with verdicts and grades, rankings and changes against the previous "
        "period, charts, data quality and methodology. Figures equal those of greenwatch kpi "
        "and GET /api/v1/kpi for the same interval. The report goes to OUT/<name>/ (the "
        "archive the dashboard lists); CSV is one file per table.",
    )
    report.add_argument(
        "--period",
        required=True,
        help=f"calendar period ({', '.join(PERIOD_KINDS)}): 2026 | 2026-10 | 2026-W43 | "
        "2026-10-05; 2026-10 means [2026-10-01T00:00+08:00, 2026-11-01T00:00+08:00)",
    )
    report.add_argument("--scope", default="national", help="national (default) | hub:ID | site:ID")
    report.add_argument(
        "--format", default="html,pdf,csv", help="comma-separated html,pdf,csv (default: all)"
    )
    report.add_argument("--out", type=Path, help="archive directory (default: DATA_DIR/reports)")
    common_args(report)
    add_server_args(report)
    report.add_argument("--grades", type=Path, help="PUE grade table CSV (grade,pue_max)")
    report.add_argument(
        "--min-coverage",
        type=_fraction,
        default=DEFAULT_MIN_COVERAGE,
        help="coverage a site needs to count in group figures (default 0.95)",
    )
    report.add_argument(
        "--min-share",
        type=_fraction,
        default=DEFAULT_MIN_SHARE,
        help="share of the scope's IT capacity a group figure must rest on to get a verdict "
        "(default 0.9)",
    )
    report.add_argument(
        "--keep", type=_positive, help="keep only the newest N reports per scope and kind"
    )
    report.add_argument(
        "--keep-days", type=_positive, help="delete reports whose period ended > D days ago"
    )
    mail = report.add_argument_group("e-mail (PDF attached, summary inline)")
    mail.add_argument("--email", action="append", metavar="TO", help="recipient(s), repeatable")
    mail.add_argument("--smtp", metavar="HOST:PORT", help="SMTP server")
    mail.add_argument("--smtp-starttls", action="store_true", help="upgrade with STARTTLS")
    mail.add_argument("--smtp-user", help="SMTP user (password from --smtp-password-env)")
    mail.add_argument(
        "--smtp-password-env", metavar="VAR", help="environment variable holding the password"
    )
    mail.add_argument("--smtp-from", default="greenwatch@localhost", help="sender address")
    report.set_defaults(handler=_start_pdf_then_report)

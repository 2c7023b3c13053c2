"""``greenwatch report``: an efficiency report for a calendar period as HTML, PDF and CSV."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pandas as pd

from greenwatch.cli._common import open_store, say
from greenwatch.cli._remote import ask, find_server
from greenwatch.inventory import load_inventory
from greenwatch.reports import (
    TIMEZONE,
    GradeTable,
    PdfWorker,
    ReportConfig,
    ReportError,
    Retention,
    SmtpSettings,
    make_report,
    parse_formats,
    parse_period,
    parse_scope,
)
from greenwatch.service import LocalServer, stored_source


def _smtp(args: argparse.Namespace) -> SmtpSettings | None:
    if not args.smtp:
        if args.email:
            raise ReportError("--email needs --smtp HOST:PORT")
        return None
    host, sep, port = args.smtp.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ReportError(f"bad --smtp {args.smtp!r}: use HOST:PORT, e.g. 127.0.0.1:25")
    return SmtpSettings(
        host=host,
        port=int(port),
        starttls=args.smtp_starttls,
        username=args.smtp_user,
        password_env=args.smtp_password_env,
        sender=args.smtp_from,
    )


def _cmd_report(args: argparse.Namespace) -> int:
    period = parse_period(args.period)
    formats = parse_formats(args.format)
    smtp = _smtp(args)
    email = [a.strip() for text in args.email or [] for a in text.split(",") if a.strip()]
    inventory = load_inventory(args.inventory)
    scope = parse_scope(args.scope, inventory)
    server = find_server(args)
    if server is not None:
        return _remote_report(server, args)
    config = ReportConfig(
        grades=GradeTable.load(args.grades),
        min_coverage=args.min_coverage,
        min_share=args.min_share,
    )
    store = open_store(args.data_dir)
    out = args.out or args.data_dir / "reports"
    try:
        with stored_source(args.data_dir, inventory) as source:
            archived = make_report(
                store,
                inventory,
                period,
                scope,
                formats=formats,
                archive_dir=out,
                generated_at=pd.Timestamp.now(tz="UTC"),
                config=config,
                email=email,
                smtp=smtp,
                retention=Retention(keep=args.keep, days=args.keep_days),
                compute=source,
                pdf_renderer=_pdf_renderer(args),
            )
    finally:
        store.close()
    say(f"{archived.title}: {period.interval()} ({TIMEZONE})")
    for f in archived.files:
        say(f"  {archived.path / f.name}  ({f.bytes:,} bytes)")
    if email:
        say(f"mailed to {', '.join(email)} via {args.smtp}")
    return 0


def _pdf_renderer(args: argparse.Namespace) -> Callable[[str], bytes] | None:
    """The render of the PDF worker the command started (see ``_args/report.py``), if any."""
    worker: PdfWorker | None = getattr(args, "pdf_worker", None)
    return worker.render if worker is not None else None


def _remote_report(server: LocalServer, args: argparse.Namespace) -> int:
    """The report built by the server running on the data directory, into its archive."""
    local_only = {"--out": args.out, "--email": args.email, "--grades": args.grades,
                  "--keep": args.keep, "--keep-days": args.keep_days}  # fmt: skip
    given = [flag for flag, value in local_only.items() if value]
    if given:
        raise ReportError(
            f"{', '.join(given)}: not with a running server ({server.url}); it archives ad-hoc "
            "reports in its data directory — leave these out, or stop it"
        )
    body = {"period": args.period, "scope": args.scope, "format": args.format,
            "min_coverage": args.min_coverage}  # fmt: skip
    listing = ask(server, "POST", "/api/v1/reports", json=body).json()
    say(f"{listing['title']}: archived by {server.url}")
    for f in listing["files"]:
        say(f"  {server.url}{f['url']}  ({f['bytes']:,} bytes)")
    return 0

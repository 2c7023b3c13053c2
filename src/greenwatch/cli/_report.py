"""``greenwatch report``: an efficiency report for a calendar period as HTML, PDF and CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from greenwatch.cli._common import Subparsers, open_store, say
from greenwatch.cli._core import common_args
from greenwatch.cli._remote import add_server_args, ask, find_server
from greenwatch.inventory import load_inventory
from greenwatch.metrics import DEFAULT_MIN_COVERAGE, DEFAULT_MIN_SHARE
from greenwatch.reports import (
    PERIOD_KINDS,
    TIMEZONE,
    GradeTable,
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
            )
    finally:
        store.close()
    say(f"{archived.title}: {period.interval()} ({TIMEZONE})")
    for f in archived.files:
        say(f"  {archived.path / f.name}  ({f.bytes:,} bytes)")
    if email:
        say(f"mailed to {', '.join(email)} via {args.smtp}")
    return 0


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
    report.set_defaults(handler=_cmd_report)

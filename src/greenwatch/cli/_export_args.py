"""The export options of ``greenwatch serve`` and ``greenwatch export-kpis``.

:func:`add_export_args` adds them to a command; :func:`export_settings` turns them into the
:class:`~greenwatch.export.ExportSettings` a :class:`~greenwatch.service.Service` takes. Tokens
come from files or the environment, never from the command line (``ps`` would show them).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

from greenwatch.export import WINDOWS, ExportSettings, InfluxSettings, OtlpSettings
from greenwatch.model import GreenwatchError, parse_duration

OTLP_TOKEN_ENV = "GREENWATCH_OTLP_TOKEN"
INFLUX_TOKEN_ENV = "GREENWATCH_INFLUX_TOKEN"


def _secret(path: Path | None, env: str) -> str:
    """A token from a file (first line) or the environment; '' when neither is given."""
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise GreenwatchError(f"{path}: cannot read token: {exc.strerror}") from None
    return os.environ.get(env, "")


def _windows(texts: list[str] | None) -> dict[str, pd.Timedelta]:
    if not texts:
        return dict(WINDOWS)
    out = {}
    for text in texts:
        try:
            span = pd.Timedelta(parse_duration(text))  # Prometheus spelling: 1h, 24h, 7d
        except ValueError as exc:
            raise GreenwatchError(f"--window {text!r}: {exc}") from None
        if span <= pd.Timedelta(0):
            raise GreenwatchError(f"--window {text!r}: must be positive")
        out[text] = span
    return out


def add_export_args(parser: argparse.ArgumentParser, *, service: bool = True) -> None:
    """Options for the KPI windows and the OTLP and Influx pushes (``service``: also the
    snapshot interval and the token on ``/metrics``)."""
    group = parser.add_argument_group("KPI export")
    group.add_argument(
        "--window",
        action="append",
        metavar="SPAN",
        help="trailing KPI window, repeatable (default: 1h and 24h)",
    )
    if service:
        group.add_argument(
            "--kpi-refresh",
            type=float,
            default=60.0,
            metavar="S",
            help="recompute the KPI snapshot every S seconds (default 60)",
        )
        group.add_argument(
            "--metrics-token",
            action="store_true",
            help="GET /metrics needs a token with the read scope (default: open)",
        )
    group.add_argument("--otlp-endpoint", help="push KPIs over OTLP/HTTP to this …/v1/metrics URL")
    group.add_argument(
        "--otlp-token-file",
        type=Path,
        help=f"bearer token for --otlp-endpoint (default: ${OTLP_TOKEN_ENV}, else none)",
    )
    group.add_argument(
        "--influx-url", help="write KPIs to this InfluxDB v2 API (or VictoriaMetrics)"
    )
    group.add_argument(
        "--influx-token-file",
        type=Path,
        help=f"token for --influx-url (default: ${INFLUX_TOKEN_ENV}, else none)",
    )
    group.add_argument(
        "--influx-org", default="greenwatch", help="organisation (default greenwatch)"
    )
    group.add_argument("--influx-bucket", default="greenwatch", help="bucket (default greenwatch)")
    if service:
        group.add_argument(
            "--push-interval",
            type=float,
            default=60.0,
            metavar="S",
            help="push to OTLP and Influx every S seconds (default 60)",
        )


def export_settings(args: argparse.Namespace) -> ExportSettings:
    """:class:`ExportSettings` from the options of :func:`add_export_args`."""
    interval = float(getattr(args, "push_interval", 60.0))
    otlp = None
    if args.otlp_endpoint:
        token = _secret(args.otlp_token_file, OTLP_TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        otlp = OtlpSettings(args.otlp_endpoint, headers, interval_s=interval)
    influx = None
    if args.influx_url:
        token = _secret(args.influx_token_file, INFLUX_TOKEN_ENV)
        influx = InfluxSettings(
            args.influx_url, token, args.influx_org, args.influx_bucket, interval_s=interval
        )
    return ExportSettings(
        refresh_s=getattr(args, "kpi_refresh", 60.0),
        windows=_windows(args.window),
        metrics_token=getattr(args, "metrics_token", False),
        otlp=otlp,
        influx=influx,
    )

"""The export options of ``greenwatch serve`` and ``greenwatch export-kpis``.

``greenwatch.cli._args.shared.add_export_args`` adds them to a command (light, for ``--help``);
:func:`export_settings` turns them into the :class:`~greenwatch.export.ExportSettings` a
:class:`~greenwatch.service.Service` takes. Tokens come from files or the environment, never
from the command line (``ps`` would show them).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

from greenwatch.cli._args.shared import INFLUX_TOKEN_ENV, OTLP_TOKEN_ENV
from greenwatch.export import WINDOWS, ExportSettings, InfluxSettings, OtlpSettings
from greenwatch.model import GreenwatchError, parse_duration


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


def export_settings(args: argparse.Namespace) -> ExportSettings:
    """:class:`ExportSettings` from the options ``add_export_args`` added."""
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

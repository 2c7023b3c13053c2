"""The arguments of shared; handlers load when the command runs."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

from greenwatch.cli._common import TOKEN_ENV, data_dir_help, default_data_dir
from greenwatch.inventory import BUILTIN

Handler = Callable[[argparse.Namespace], int]


class lazy:  # noqa: N801 - used like a function: handler=lazy("_kpi", "_cmd_kpi")
    """A command's handler, named by its module in ``greenwatch.cli`` and imported when the
    command runs (never for ``--help``)."""

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.__name__ = name

    def __call__(self, args: argparse.Namespace) -> int:
        handler: Handler = getattr(
            importlib.import_module(f"greenwatch.cli.{self.module}"), self.__name__
        )
        return handler(args)


def period_args(parser: argparse.ArgumentParser) -> None:
    """``--start`` and ``--end``: ISO times or relative to now (``-1d``, ``now-7d``, ``now``)."""
    parser.add_argument(
        "--start",
        help="ISO time (UTC unless an offset is given) or relative: -1d, now-7d, now-90m "
        "(default: end - 1 day)",
    )
    parser.add_argument(
        "--end", help="ISO time or relative (now, now-1h), exclusive (default: now)"
    )


def add_server_args(parser: argparse.ArgumentParser) -> None:
    """``--url`` and ``--token`` for commands that can ask a running server."""
    parser.add_argument(
        "--url",
        help="ask this running greenwatch server (default: the one serving --data-dir, if any)",
    )
    parser.add_argument(
        "--token",
        help=f"API token for --url (default: ${TOKEN_ENV}, else the server's local admin "
        "token in the data directory)",
    )


def common_args(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` and ``--inventory``, shared by every command that reads a store."""
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help())
    parser.add_argument(
        "--inventory",
        default=BUILTIN,
        help=f"inventory YAML (default: {BUILTIN!r}, the built-in national network)",
    )


OTLP_TOKEN_ENV = "GREENWATCH_OTLP_TOKEN"


INFLUX_TOKEN_ENV = "GREENWATCH_INFLUX_TOKEN"


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

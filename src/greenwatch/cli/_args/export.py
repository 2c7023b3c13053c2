"""The arguments of export; handlers load when the command runs."""

from __future__ import annotations

from pathlib import Path

from greenwatch.cli._args.shared import add_server_args, lazy, period_args
from greenwatch.cli._common import Subparsers, data_dir_help, default_data_dir


def add_commands(sub: Subparsers) -> None:
    """Register ``export``."""
    export = sub.add_parser(
        "export",
        help="export raw samples as line protocol or CSV",
        description="Export raw samples in [start, end) from the data directory's store, or "
        "from a running greenwatch: the one serving --data-dir (found through the data "
        "directory, with its local admin token) or --url (with a read token). Line protocol "
        "is what POST /api/v2/write takes back (and InfluxDB/VictoriaMetrics import); CSV has "
        "columns ts, metric, value, site and the labels.",
    )
    export.add_argument("--format", choices=["lp", "csv"], default="lp")
    export.add_argument("--metric", action="append", help="repeat for several (default: all)")
    export.add_argument("--label", action="append", default=[], help="NAME=VALUE filter")
    period_args(export)
    export.add_argument("--out", help="file to write (default: standard output)")
    export.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help())
    add_server_args(export)
    export.set_defaults(handler=lazy("_export", "_cmd_export"))

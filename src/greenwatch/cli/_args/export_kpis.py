"""The arguments of export_kpis; handlers load when the command runs."""

from __future__ import annotations

from greenwatch.cli._args.shared import add_export_args, common_args, lazy
from greenwatch.cli._common import Subparsers


def add_commands(sub: Subparsers) -> None:
    """Register ``export-kpis``."""
    cmd = sub.add_parser(
        "export-kpis",
        help="compute the exported KPIs once; print them and/or push them to OTLP, Influx",
        description="Take one KPI snapshot (what GET /metrics exposes: site, hub, region and "
        "national PUE, pPUE, WUE, CUE, carbon, green share, occupancy, link utilisation, "
        "each with its coverage) over trailing windows ending at --at, print it and push it "
        "to an OTLP/HTTP endpoint and/or an InfluxDB v2 write API. Needs a data directory no "
        "running server holds open; greenwatch serve exports continuously by itself. "
        "Exit 1 when a push failed.",
    )
    cmd.add_argument("--at", help="end of the windows, ISO time (default: now, to the minute)")
    cmd.add_argument(
        "--format",
        choices=["prometheus", "openmetrics", "json", "lp", "none"],
        default="prometheus",
        help="what to print (default: Prometheus text; lp: Influx line protocol)",
    )
    cmd.add_argument("--out", help="write the printout to this file instead of standard output")
    add_export_args(cmd, service=False)
    common_args(cmd)
    cmd.set_defaults(handler=lazy("_export_kpis", "_cmd_export_kpis"))

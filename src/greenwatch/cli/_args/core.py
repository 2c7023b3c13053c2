"""The arguments of core; handlers load when the command runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from greenwatch.cli._args.shared import add_export_args, common_args, lazy
from greenwatch.cli._common import Subparsers
from greenwatch.store import (
    RAW_RETENTION_DAYS,
    ROLLUP_RETENTION_DAYS,
    STORE_MEMORY_LIMIT,
    parse_size,
)


def _memory_size(text: str) -> str:
    try:
        parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _store_args(parser: argparse.ArgumentParser, *, choice: bool = True) -> None:
    group = parser.add_argument_group("store (where samples live)")
    if choice:
        group.add_argument(
            "--store",
            choices=("duckdb", "victoriametrics"),
            default="duckdb",
            help="the embedded DuckDB file in --data-dir (default), or VictoriaMetrics, single "
            "node or cluster, at --store-write-url and --store-read-url (alert state, tokens, "
            "the registry and reports stay in --data-dir)",
        )
    group.add_argument(
        "--store-write-url",
        metavar="URL",
        help="where samples are written: a VictoriaMetrics single node (http://HOST:8428), "
        "vminsert's tenant path (http://HOST:8480/insert/0/prometheus) or vmauth in front",
    )
    group.add_argument(
        "--store-read-url",
        metavar="URL",
        help="where samples are read (default: --store-write-url): vmselect's tenant path "
        "(http://HOST:8481/select/0/prometheus) or vmauth in front",
    )
    group.add_argument(
        "--store-token-file",
        type=Path,
        metavar="FILE",
        help="a file holding the bearer token sent to both URLs (vmauth)",
    )


ROLES = ("ingest", "ui", "jobs")


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a YAML file of this command's options as keys (store: victoriametrics, "
        "store-write-url: http://…, role: ingest, …; a list for a repeatable option); the "
        "command line wins over it",
    )
    parser.set_defaults(takes_config=True)


def _roles(text: str) -> frozenset[str]:
    """``all`` or a comma-separated list of roles."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return frozenset(ROLES)
    unknown = [n for n in names if n not in ROLES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give 'all' or some of {', '.join(ROLES)}, comma-separated"
        )
    return frozenset(names)


def _server_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="listen address (loopback by default)")
    parser.add_argument("--port", type=int, default=8050, help="HTTP port (default 8050)")
    parser.add_argument(
        "--external-url",
        help="the dashboard's address as people reach it, for links in alert notifications "
        "(generatorURL; default: http://HOST:PORT)",
    )
    parser.add_argument(
        "--alert-rules", type=Path, help="alert rule file (default: the shipped national pack)"
    )
    parser.add_argument(
        "--alert-config",
        type=Path,
        help="receivers, routes, inhibitions, maintenance windows (default: alerts sent nowhere)",
    )
    parser.add_argument("--reports", type=Path, help="scheduled reports YAML (default: none)")
    parser.add_argument(
        "--dashboards", type=Path, help="dashboard pages directory (default: the shipped pages)"
    )
    parser.add_argument(
        "--store-memory-limit",
        type=_memory_size,
        default=STORE_MEMORY_LIMIT,
        metavar="SIZE",
        help=f"bound on the store's memory, its block cache and working memory, e.g. 512MiB "
        f"or 4GB (default {STORE_MEMORY_LIMIT}); larger operations spill to disk",
    )
    _store_args(parser)
    boundary = parser.add_argument_group("ingest boundary (what pushed data must satisfy)")
    boundary.add_argument(
        "--unknown-sites",
        choices=("refuse", "quarantine"),
        default="refuse",
        help="samples of sites not in the inventory: 400 (refuse, default) or held out of every "
        "figure, counted and listed on the Network page (quarantine)",
    )
    boundary.add_argument(
        "--max-age", default="400d", help="oldest accepted timestamp, before now (default 400d)"
    )
    boundary.add_argument(
        "--max-future", default="10min", help="latest accepted timestamp, after now (default 10min)"
    )
    boundary.add_argument(
        "--power-margin",
        type=float,
        default=3.0,
        help="power_watts may reach this many times a site's it_capacity_kw (default 3)",
    )
    add_export_args(parser)


def _rollup_command(sub: Subparsers) -> None:
    rollup = sub.add_parser(
        "rollup",
        help="keep hourly summaries of every series in VictoriaMetrics (the scale-out store)",
        description="Summarise each settled hour of every series in VictoriaMetrics into "
        "summary series (count, sum, min, max, first, last, reset-aware increase, power "
        "integral, covered seconds, resets), so reads take whole hours from them and read raw "
        "samples only at the edges; hours that late writes touched are redone. The jobs role of "
        "greenwatch serve does the same over the last month; run this instead to shard the work "
        "(--shard i/n, one process per shard) or to summarise older history (--since).",
    )
    _store_args(rollup, choice=False)
    rollup.add_argument(
        "--shard", default="0/1", help="i/n: summarise this share of the series (default 0/1, all)"
    )
    rollup.add_argument(
        "--since",
        default="-31d",
        help="summarise hours from then on (ISO time or relative; default -31d)",
    )
    rollup.add_argument(
        "--every",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds between passes, at least 60 (default 60)",
    )
    rollup.add_argument(
        "--chunk-hours",
        type=int,
        default=24,
        metavar="H",
        help="hours of one metric of 50 sites read per request (default 24; fewer for centres "
        "with very many series, more for a fast replay of small ones)",
    )
    rollup.add_argument("--once", action="store_true", help="one pass, then exit")
    _config_arg(rollup)
    rollup.set_defaults(handler=lazy("_core", "_cmd_rollup"))


def add_commands(sub: Subparsers) -> None:
    """Register ``demo``, ``serve`` and ``inventory``."""
    demo = sub.add_parser(
        "demo",
        help="backfill a simulated national network and serve the live dashboard",
        description="Backfill N days of the simulated national network at 1-minute resolution "
        "(idempotent: re-running adds no duplicates), then serve the dashboard with live data "
        "every 15 s: the simulated centres are served on loopback over Prometheus, Redfish, "
        "Modbus TCP and SNMP, and real collectors poll them (--live inprocess reads the "
        "simulator directly instead).",
    )
    demo.add_argument("--days", type=int, default=30, help="days to backfill (default 30)")
    demo.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    demo.add_argument("--no-serve", action="store_true", help="backfill only, then exit")
    demo.add_argument(
        "--live",
        choices=["protocols", "inprocess"],
        default="protocols",
        help="where live data comes from: collectors polling the simulated centres over "
        "Prometheus, Redfish, Modbus and SNMP on loopback (default), or the simulator read "
        "in-process",
    )
    common_args(demo)
    _server_args(demo)
    demo.set_defaults(handler=lazy("_core", "_cmd_demo"))

    serve = sub.add_parser("serve", help="serve the HTTP API and dashboard over a data directory")
    common_args(serve)
    _server_args(serve)
    serve.add_argument(
        "--keep-raw-days",
        type=int,
        default=RAW_RETENTION_DAYS,
        help=f"keep raw samples this many days (default {RAW_RETENTION_DAYS}); older KPIs are "
        "answered from the hourly and daily roll-ups",
    )
    serve.add_argument(
        "--keep-rollup-days",
        type=int,
        default=ROLLUP_RETENTION_DAYS,
        help=f"keep hourly and daily roll-ups this many days (default {ROLLUP_RETENTION_DAYS}, "
        "ten years)",
    )
    serve.add_argument(
        "--role",
        type=_roles,
        default=frozenset(ROLES),
        metavar="ROLES",
        help="what this process does, 'all' (default) or a comma-separated list of: ingest "
        "(the push APIs only; stateless, run several behind one URL), ui (dashboard, read, "
        "KPI, report, resource and operations APIs), jobs (alert evaluation and its API, the "
        "KPI snapshot behind /metrics, reports, retention, collection; run exactly one)",
    )
    _config_arg(serve)
    serve.set_defaults(handler=lazy("_core", "_cmd_serve"))

    _rollup_command(sub)

    inventory = sub.add_parser("inventory", help="work with inventory files")
    inv_sub = inventory.add_subparsers(dest="action", required=True, metavar="ACTION")
    validate = inv_sub.add_parser(
        "validate", help="check an inventory YAML; exit 2 naming file, line and key on errors"
    )
    validate.add_argument("file", help="inventory YAML file")
    validate.set_defaults(handler=lazy("_core", "_cmd_inventory_validate"))

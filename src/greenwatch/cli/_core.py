"""Core commands: ``demo``, ``serve``, ``inventory validate``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd

from greenwatch.cli._common import (
    Progress,
    Subparsers,
    data_dir_help,
    default_data_dir,
    open_store,
    say,
)
from greenwatch.cli._export_args import add_export_args, export_settings
from greenwatch.cli._simulate import serve_demo_over_protocols
from greenwatch.ingest import BoundaryPolicy, parse_duration
from greenwatch.inventory import BUILTIN, load_inventory
from greenwatch.model import ConfigError
from greenwatch.reports import load_report_settings
from greenwatch.service import (
    DemoState,
    Service,
    TokenStore,
    backfill,
    demo_scenarios,
    registered_inventory,
    run_until_stopped,
    seed_registry,
)
from greenwatch.simulate import Simulator
from greenwatch.store import RAW_RETENTION, ROLLUP_RETENTION, Retention


def _cmd_inventory_validate(args: argparse.Namespace) -> int:
    inv = load_inventory(args.file)
    pools = sum(len(site.compute) for site in inv.sites)
    say(f"{args.file}: ok — {len(inv.sites)} sites, {len(inv.links)} links, {pools} compute pools")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    now = pd.Timestamp.now(tz="UTC")
    state = DemoState.load_or_create(args.data_dir, args.days, now, args.seed)
    end = now.floor("min")
    pools, records = seed_registry(args.data_dir, inventory, state, now)
    sim = Simulator(
        registered_inventory(args.data_dir, inventory),
        seed=state.seed,
        start=state.start,
        scenarios=demo_scenarios(inventory, state.start, end),
    )
    store = open_store(args.data_dir, create=True)
    expected = sim.series_count() * int((end - state.start) / pd.Timedelta(minutes=1))
    say(
        f"greenwatch demo: {len(inventory.sites)} sites, {len(inventory.links)} links, "
        f"{sim.series_count()} series, backfilling {state.start:%Y-%m-%d %H:%M} → "
        f"{end:%Y-%m-%d %H:%M} UTC at 1-minute resolution into {args.data_dir}/"
    )
    started = time.perf_counter()
    with Progress(expected, "backfill", "samples") as bar:

        def advance(samples: int, _stored: int) -> None:
            bar.update(samples)

        generated, stored = backfill(sim, store.write, end, progress=advance)
    took = time.perf_counter() - started
    say(
        f"backfill: {generated:,} samples generated, {stored:,} newly stored in {took:.1f} s "
        f"({generated / max(took, 1e-9):,.0f} samples/s)"
    )
    if pools or records:
        say(f"registry: {pools} pool(s) registered, {records} verification record(s) added")
    if args.no_serve:
        store.close()
        return 0
    options = _service_options(args)
    tokens = TokenStore.for_data_dir(args.data_dir)
    if not tokens.tokens():
        token = tokens.create(["read", "write"], "demo", any_site=True)
        say(f"demo API token (read, write, any site), shown once: {token}")
    if args.live == "protocols":
        return serve_demo_over_protocols(sim, inventory, store, **options)
    run_until_stopped(Service(store, inventory, live=sim, **options), say)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    options = _service_options(args)  # bad configuration stops here, before the store opens
    store = open_store(args.data_dir, create=True, retention=_retention(args))
    run_until_stopped(Service(store, inventory, **options), say)
    return 0


def _retention(args: argparse.Namespace) -> Retention:
    return Retention(
        pd.Timedelta(days=args.keep_raw_days), pd.Timedelta(days=args.keep_rollup_days)
    )


def _service_options(args: argparse.Namespace) -> dict[str, Any]:
    """Service settings shared by ``serve`` and ``demo``."""
    return {
        "host": args.host,
        "port": args.port,
        "external_url": args.external_url,
        "data_dir": args.data_dir,
        "reports": load_report_settings(args.reports) if args.reports else None,
        "alert_rules": args.alert_rules,
        "alert_config": args.alert_config,
        "dashboards": args.dashboards,
        "export": export_settings(args),
        "boundary_policy": _boundary_policy(args),
        "inventory_path": None if args.inventory == BUILTIN else Path(args.inventory),
    }


def _boundary_policy(args: argparse.Namespace) -> BoundaryPolicy:
    durations = {}
    for flag in ("max_age", "max_future"):
        try:
            durations[flag] = parse_duration(getattr(args, flag))
        except ValueError as exc:
            option = "--" + flag.replace("_", "-")
            raise ConfigError("command line", [(None, option, str(exc))]) from None
    max_age, max_future = durations["max_age"], durations["max_future"]
    return BoundaryPolicy(max_age, max_future, args.unknown_sites, args.power_margin)


def common_args(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` and ``--inventory``, shared by every command that reads a store."""
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help())
    parser.add_argument(
        "--inventory",
        default=BUILTIN,
        help=f"inventory YAML (default: {BUILTIN!r}, the built-in national network)",
    )


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
    demo.set_defaults(handler=_cmd_demo)

    serve = sub.add_parser("serve", help="serve the HTTP API and dashboard over a data directory")
    common_args(serve)
    _server_args(serve)
    serve.add_argument(
        "--keep-raw-days",
        type=int,
        default=RAW_RETENTION.days,
        help=f"keep raw samples this many days (default {RAW_RETENTION.days}); older KPIs are "
        "answered from the hourly and daily roll-ups",
    )
    serve.add_argument(
        "--keep-rollup-days",
        type=int,
        default=ROLLUP_RETENTION.days,
        help=f"keep hourly and daily roll-ups this many days (default {ROLLUP_RETENTION.days}, "
        "ten years)",
    )
    serve.set_defaults(handler=_cmd_serve)

    inventory = sub.add_parser("inventory", help="work with inventory files")
    inv_sub = inventory.add_subparsers(dest="action", required=True, metavar="ACTION")
    validate = inv_sub.add_parser(
        "validate", help="check an inventory YAML; exit 2 naming file, line and key on errors"
    )
    validate.add_argument("file", help="inventory YAML file")
    validate.set_defaults(handler=_cmd_inventory_validate)

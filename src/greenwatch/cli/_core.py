"""Core commands: ``demo``, ``serve``, ``inventory validate``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd

from greenwatch.cli._common import (
    Progress,
    open_service_store,
    say,
)
from greenwatch.cli._export_args import export_settings
from greenwatch.cli._simulate import serve_demo_over_protocols
from greenwatch.ingest import BoundaryPolicy, parse_duration
from greenwatch.inventory import BUILTIN, load_inventory
from greenwatch.model import ConfigError
from greenwatch.query import keep_hourly_pue
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
from greenwatch.store import Retention


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
    store = open_service_store(args)
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
    stored_as = "newly stored" if getattr(store, "counts_new", True) else "sent"
    say(
        f"backfill: {generated:,} samples generated, {stored:,} {stored_as} in {took:.1f} s "
        f"({generated / max(took, 1e-9):,.0f} samples/s)"
    )
    if pools or records:
        say(f"registry: {pools} pool(s) registered, {records} verification record(s) added")
    if callable(getattr(store, "keep", None)):
        keep_hourly_pue(store, [s.id for s in inventory.sites], state.start, end)
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
    store = open_service_store(args, retention=_retention(args))
    run_until_stopped(Service(store, inventory, roles=args.role, **options), say)
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


def _cmd_rollup(args: argparse.Namespace) -> int:
    from greenwatch.model import GreenwatchError, parse_time_range  # noqa: PLC0415
    from greenwatch.store import VictoriaMetricsStore  # noqa: PLC0415

    problems: list[tuple[int | None, str, str]] = []
    try:
        parse_time_range(args.since, "now", pd.Timestamp.now(tz="UTC"))
    except GreenwatchError as exc:
        problems.append((None, "--since", str(exc)))
    if args.every < 60:
        problems.append((None, "--every", "at least 60 s (a summary's revision is its minute)"))
    if problems:
        raise ConfigError("command line", problems)
    store = open_service_store(argparse.Namespace(**vars(args), store="victoriametrics"))
    assert isinstance(store, VictoriaMetricsStore)
    try:
        roller = store.roller(args.shard, max(1, args.chunk_hours))
    except ValueError as exc:
        store.close()
        raise ConfigError("command line", [(None, "--shard", str(exc))]) from None
    try:
        while True:
            now = pd.Timestamp.now(tz="UTC")
            since = parse_time_range(args.since, "now", now)[0]
            started = time.perf_counter()
            hours, rows = roller.run(int(now.value), int(since.value))
            say(
                f"rollup {roller.shard.label}: {hours} hour(s) summarised, {rows:,} summary row(s) "
                f"in {time.perf_counter() - started:.1f} s"
            )
            if args.once:
                return 0
            time.sleep(args.every)
    except KeyboardInterrupt:
        return 0
    finally:
        store.close()

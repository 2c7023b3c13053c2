"""``greenwatch kpi`` (one KPI for a scope) and ``greenwatch compute`` (computing power)."""

from __future__ import annotations

import argparse
import json

import pandas as pd

from greenwatch.cli._common import Subparsers, say
from greenwatch.cli._core import common_args
from greenwatch.inventory import load_inventory
from greenwatch.query import KPIS, Scope, compute_figures, kpi_answer
from greenwatch.service import parse_period, stored_source
from greenwatch.store import DuckDBStore


def _scope(args: argparse.Namespace) -> str:
    for level in ("site", "hub", "region", "kind"):
        value = getattr(args, level)
        if value:
            return f"{level}:{value}"
    return "national"


def _cmd_kpi(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    start, end = parse_period(args.start, args.end, pd.Timestamp.now(tz="UTC"))
    scope = Scope.parse(_scope(args), inventory)
    store = DuckDBStore(args.data_dir / "greenwatch.duckdb")
    try:
        answers = [a.to_dict() for a in kpi_answer(store, inventory, args.kpi, scope, start, end)]
    finally:
        store.close()
    if args.format == "json":
        say(json.dumps(answers, indent=2))
        return 0
    frame = pd.DataFrame(answers).drop(columns=["excluded", "start", "end", "definition"])
    frame["inputs"] = [", ".join(f"{k}={v:.6g}" for k, v in i.items()) for i in frame["inputs"]]
    if args.format == "csv":
        say(frame.to_csv(index=False).rstrip())
        return 0
    say(f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC (half-open)")
    say(frame.to_string(index=False))
    for answer in answers:
        say(f"definition: {answer['definition']}")
        for dropped in answer["excluded"]:
            say(f"excluded: {dropped['site']}: {dropped['reason']}")
    return 0


def _cmd_compute(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    start, end = parse_period(args.start, args.end, pd.Timestamp.now(tz="UTC"))
    store = DuckDBStore(args.data_dir / "greenwatch.duckdb")
    try:
        with stored_source(args.data_dir, inventory) as source:
            figures = compute_figures(store, inventory, start, end, source=source)
    finally:
        store.close()
    if args.format == "json":
        say(json.dumps(figures.to_dict(args.level), indent=2))
        return 0
    table = figures.table(args.level)
    if args.format == "csv":
        say(table.to_csv(index=False).rstrip())
        return 0
    say(f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC (half-open); ai in FP16, general "
        "and supercomputing in FP64; delivered = rated x utilisation")  # fmt: skip
    say(table.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    for row in figures.share("west").itertuples(index=False):
        say(f"west share of {row[0]}: rated {row[1]:.1%}, available {row[2]:.1%}")
    for message in figures.findings["message"]:
        say(f"identify: {message}")
    unverified = figures.unverified()
    for site, pool, state, age_s in zip(
        unverified["site"],
        unverified["pool"],
        unverified["verification"],
        unverified["verified_age_s"].astype(float),
        strict=True,
    ):
        age = "" if pd.isna(age_s) else f", {age_s / 86400:.0f} d old"
        say(f"verification {state}: {site}/{pool}{age}")
    return 0


def _period_and_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start", help="ISO time, UTC unless an offset is given (default: end - 1 day)"
    )
    parser.add_argument("--end", help="ISO time, exclusive (default: now)")
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table")
    common_args(parser)


def add_commands(sub: Subparsers) -> None:
    """Register ``kpi`` and ``compute``."""
    kpi = sub.add_parser(
        "kpi",
        help="compute a KPI (PUE, WUE, CUE, carbon …) over a period",
        description="Compute one KPI over [start, end) for a site, hub, region, site kind or the "
        "national network. Group figures are ratios of summed energies; every figure carries "
        "its coverage and the sites it left out. KPIs: " + ", ".join(KPIS),
    )
    kpi.add_argument("kpi", choices=sorted(KPIS), help="which KPI")
    where = kpi.add_mutually_exclusive_group()
    where.add_argument("--site", help="one site id")
    where.add_argument("--hub", help="one national hub (e.g. guizhou)")
    where.add_argument("--region", choices=["east", "west"], help="hub target group")
    where.add_argument("--kind", choices=["hub_cluster", "supercomputing", "ai"])
    where.add_argument("--national", action="store_true", help="the whole network (default)")
    _period_and_format(kpi)
    kpi.set_defaults(handler=_cmd_kpi)

    compute = sub.add_parser(
        "compute",
        help="computing power: rated, available and delivered FLOPS and their energy cost",
        description="Computing power over [start, end) per site, hub, region or the nation and "
        "class (ai counted in FP16, general and supercomputing in FP64): rated and available "
        "PFLOPS, delivered (rated x utilisation), GFLOPS per watt of facility power, kWh and "
        "kgCO2 per delivered PFLOP-hour, each with its coverage; then the west share, devices "
        "collectors see against the registry (identify findings) and pools whose verification "
        "is stale, failed or missing.",
    )
    compute.add_argument(
        "--level", choices=["nation", "region", "hub", "site"], default="nation", help="grouping"
    )
    _period_and_format(compute)
    compute.set_defaults(handler=_cmd_compute)

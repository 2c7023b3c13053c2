"""``greenwatch kpi`` (one KPI for a scope), ``greenwatch energy`` (one meter or device) and
``greenwatch compute`` (computing power)."""

from __future__ import annotations

import argparse
import io
import json

import pandas as pd

from greenwatch.cli._common import Subparsers, open_store, period_args, say
from greenwatch.cli._core import common_args
from greenwatch.cli._remote import add_server_args, ask, find_server
from greenwatch.inventory import Level, Scope, load_inventory
from greenwatch.metrics import DEFAULT_MIN_COVERAGE, DEFAULT_MIN_SHARE
from greenwatch.model import GreenwatchError, parse_time_range
from greenwatch.query import KPIS, compute_figures, energy_read, kpi_answer
from greenwatch.service import LocalServer, stored_source


def _scope(args: argparse.Namespace) -> str:
    for level in ("site", "hub", "region", "kind"):
        value = getattr(args, level)
        if value:
            return f"{level}:{value}"
    return "national"


def _cmd_kpi(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    start, end = parse_time_range(args.start, args.end, pd.Timestamp.now(tz="UTC"))
    scope = Scope.parse(_scope(args), inventory)
    server = find_server(args)
    if server is not None:
        params = {"kpi": args.kpi, "scope": str(scope), "start": start.isoformat(),
                  "end": end.isoformat(), "min_coverage": args.min_coverage,
                  "min_share": args.min_share}  # fmt: skip
        answers = ask(server, "GET", "/api/v1/kpi", params=params).json()["data"]
    else:
        store = open_store(args.data_dir)
        try:
            answers = [
                a.to_dict()
                for a in kpi_answer(
                    store,
                    inventory,
                    args.kpi,
                    scope,
                    start,
                    end,
                    min_coverage=args.min_coverage,
                    min_share=args.min_share,
                )
            ]
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


def _cmd_energy(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    if args.site not in {s.id for s in inventory.sites}:
        raise GreenwatchError(f"unknown site {args.site!r}")
    start, end = parse_time_range(args.start, args.end, pd.Timestamp.now(tz="UTC"))
    store = open_store(args.data_dir)
    try:
        read = energy_read(store, args.site, start, end, meter=args.meter, device=args.device)
    finally:
        store.close()
    record = read.to_dict()
    if args.format == "json":
        say(json.dumps(record, indent=2))
    elif args.format == "csv":
        say(pd.DataFrame([record]).to_csv(index=False).rstrip())
    else:
        say(f"{start:%Y-%m-%d %H:%M:%S} → {end:%Y-%m-%d %H:%M:%S} UTC (half-open)")
        kwh = "—" if read.kwh is None else f"{read.kwh:,.6g} kWh ({read.joules:,.6g} J)"
        say(f"{args.site} {args.meter or args.device}: {kwh}")
        say(
            f"coverage {read.coverage:.1%}; provenance {read.provenance or 'none'}; "
            f"resets {read.resets}, {read.filled_from_power_s:g} s filled from power"
        )
    return 0


def _cmd_compute(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    start, end = parse_time_range(args.start, args.end, pd.Timestamp.now(tz="UTC"))
    server = find_server(args)
    if server is not None:
        return _remote_compute(server, args, start, end)
    store = open_store(args.data_dir)
    try:
        with stored_source(args.data_dir, inventory) as source:
            figures = compute_figures(store, inventory, start, end, source=source)
    finally:
        store.close()
    if args.format == "json":
        say(json.dumps(figures.to_dict(Level.parse(args.level)), indent=2))
        return 0
    table = figures.table(Level.parse(args.level))
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


def _remote_compute(
    server: LocalServer, args: argparse.Namespace, start: pd.Timestamp, end: pd.Timestamp
) -> int:
    """``compute`` answered by a running server: its JSON, or its table (also as CSV)."""
    params = {"level": args.level, "start": start.isoformat(), "end": end.isoformat()}
    if args.format == "json":
        say(json.dumps(ask(server, "GET", "/api/v1/compute", params=params).json(), indent=2))
        return 0
    text = ask(server, "GET", "/api/v1/compute", params={**params, "format": "csv"}).text
    if args.format == "csv":
        say(text.rstrip())
        return 0
    say(f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC (half-open), from {server.url}")
    table = pd.read_csv(io.StringIO(text))
    say(table.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    return 0


def _period_and_format(parser: argparse.ArgumentParser) -> None:
    period_args(parser)
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table")
    common_args(parser)
    add_server_args(parser)


def add_commands(sub: Subparsers) -> None:
    """Register ``kpi``, ``energy`` and ``compute``."""
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
    kpi.add_argument(
        "--min-coverage",
        type=float,
        default=DEFAULT_MIN_COVERAGE,
        help="a group figure leaves out sites below this coverage (default %(default)s)",
    )
    kpi.add_argument(
        "--min-share",
        type=float,
        default=DEFAULT_MIN_SHARE,
        help="a group figure resting on less of its scope's IT capacity is shown but not "
        "published as a verdict (default %(default)s)",
    )
    _period_and_format(kpi)
    kpi.set_defaults(handler=_cmd_kpi)

    energy = sub.add_parser(
        "energy",
        help="energy of one meter or device over a period (J, kWh, coverage, provenance)",
        description="Energy over [start, end) of one metering point or device: the energy "
        "counter's increase where it reports (resets filled from the same meter's power), "
        "else power integrated over time (gaps bounded). Provenance says which: counter, "
        "power or mixed; a period with nothing measured prints — (JSON: null), never 0.",
    )
    energy.add_argument("--site", required=True, help="site id")
    which = energy.add_mutually_exclusive_group(required=True)
    which.add_argument("--meter", help="metering point (facility, it_input, cooling …)")
    which.add_argument("--device", help="device id (a server, GPU, PDU outlet)")
    _period_and_format(energy)
    energy.set_defaults(handler=_cmd_energy)

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
        "--level",
        choices=["national", "region", "hub", "site", "nation"],
        default="national",
        help="grouping (nation: the old spelling of national)",
    )
    _period_and_format(compute)
    compute.set_defaults(handler=_cmd_compute)

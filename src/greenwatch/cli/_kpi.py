"""``greenwatch kpi`` (one KPI for a scope), ``greenwatch energy`` (one meter or device) and
``greenwatch compute`` (computing power)."""

from __future__ import annotations

import argparse
import io
import json

import pandas as pd

from greenwatch.cli._common import open_store, say
from greenwatch.cli._remote import ask, find_server
from greenwatch.inventory import Level, Scope, load_inventory
from greenwatch.model import GreenwatchError, parse_time_range
from greenwatch.query import compute_figures, energy_read, kpi_answer
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
    server = find_server(args)
    if server is not None:
        which = {"meter": args.meter} if args.meter else {"device": args.device}
        params = {"site": args.site, "start": start.isoformat(), "end": end.isoformat(), **which}
        record = ask(server, "GET", "/api/v1/energy", params=params).json()["data"]
    else:
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
        kwh = (
            "—"
            if record["kwh"] is None
            else f"{record['kwh']:,.6g} kWh ({record['joules']:,.6g} J)"
        )
        say(f"{args.site} {args.meter or args.device}: {kwh}")
        say(
            f"coverage {record['coverage']:.1%}; provenance {record['provenance'] or 'none'}; "
            f"resets {record['resets']}, {record['filled_from_power_s']:g} s filled from power"
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

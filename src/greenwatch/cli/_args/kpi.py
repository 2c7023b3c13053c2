"""The arguments of kpi; handlers load when the command runs."""

from __future__ import annotations

import argparse

from greenwatch.cli._args.shared import add_server_args, common_args, lazy, period_args
from greenwatch.cli._common import Subparsers
from greenwatch.metrics import DEFAULT_MIN_COVERAGE, DEFAULT_MIN_SHARE
from greenwatch.query import KPIS


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
    kpi.set_defaults(handler=lazy("_kpi", "_cmd_kpi"))

    energy = sub.add_parser(
        "energy",
        help="energy of one meter or device over a period (J, kWh, coverage, provenance)",
        description="Energy over [start, end) of one metering point or device: the energy "
        "counter's increase where it reports (resets filled from the same meter's power), "
        "else power integrated over time (gaps bounded). Provenance says which: counter, "
        "power or mixed; a period with nothing measured prints — (JSON: null), never 0. "
        "While greenwatch serve runs on --data-dir (or with --url) that server answers.",
    )
    energy.add_argument("--site", required=True, help="site id")
    which = energy.add_mutually_exclusive_group(required=True)
    which.add_argument("--meter", help="metering point (facility, it_input, cooling …)")
    which.add_argument("--device", help="device id (a server, GPU, PDU outlet)")
    _period_and_format(energy)
    energy.set_defaults(handler=lazy("_kpi", "_cmd_energy"))

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
    compute.set_defaults(handler=lazy("_kpi", "_cmd_compute"))

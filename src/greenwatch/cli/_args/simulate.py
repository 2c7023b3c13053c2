"""The arguments of simulate; handlers load when the command runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from greenwatch.cli._args.shared import lazy
from greenwatch.cli._common import Subparsers
from greenwatch.inventory import BUILTIN

DEFAULT_BASE_PORT = 9700


def _sites(text: str) -> int | None:
    if text == "all":
        return None
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a number of sites or 'all', not {text!r}")
    return count


def add_commands(sub: Subparsers) -> None:
    """Register ``simulate``."""
    simulate = sub.add_parser("simulate", help="run the simulated network")
    actions = simulate.add_subparsers(dest="action", required=True, metavar="ACTION")
    serve = actions.add_parser(
        "serve",
        help="serve simulated centres over Prometheus, Redfish, Modbus TCP and SNMP on loopback",
        description="Run a live simulated network (values advance every 15 s) and expose it on "
        "127.0.0.1 the way centres' devices are: Prometheus exposition (/metrics, and "
        "/sites/<site>/metrics per site), one Redfish service per site (a Chassis per metering "
        "point), a Modbus TCP gateway with each site's facility meter (Eastron SDM630 registers, "
        "unit id per site) and an SNMPv2c agent per link (IF-MIB, community public). Ports: "
        "Prometheus on --base-port, Modbus on the next port(s), then Redfish, one per site; "
        "SNMP on UDP ports from --base-port on, one per link.",
    )
    serve.add_argument(
        "--sites", type=_sites, default=None, metavar="N|all", help="first N sites (default all)"
    )
    serve.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    serve.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_BASE_PORT,
        help=f"first port (default {DEFAULT_BASE_PORT}; 0 picks free ports)",
    )
    serve.add_argument("--no-snmp", action="store_true", help="no SNMP agents")
    serve.add_argument(
        "--targets-out", type=Path, help="write collector targets for every endpoint (YAML)"
    )
    serve.add_argument(
        "--inventory",
        default=BUILTIN,
        help=f"inventory YAML (default: {BUILTIN!r}, the built-in national network)",
    )
    serve.set_defaults(handler=lazy("_simulate", "_cmd_serve"))

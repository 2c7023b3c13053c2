"""The arguments of resources; handlers load when the command runs."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from greenwatch.cli._args.shared import lazy
from greenwatch.cli._common import TOKEN_ENV, Subparsers, data_dir_help, default_data_dir
from greenwatch.inventory import BUILTIN, ComputeClass, Precision
from greenwatch.resources import BENCHMARKS, REGISTRY_FILE


def _login() -> str:
    try:
        return getpass.getuser()  # $LOGNAME, $USER, …, else the password database
    except (OSError, KeyError):
        return ""


def _target_args(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group(
        "where",
        "a running greenwatch (--url) or a data directory (default); list and show ask the "
        "server serving the data directory while one runs",
    )
    where.add_argument("--url", help="a running greenwatch, e.g. http://127.0.0.1:8050")
    where.add_argument(
        "--token",
        help=f"API token for --url (default: ${TOKEN_ENV}); admin to change pools, write to "
        "record verifications, read to list",
    )
    where.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help=data_dir_help(f"without --url: the registry is DATA_DIR/{REGISTRY_FILE}"),
    )
    where.add_argument(
        "--inventory",
        default=BUILTIN,
        help=f"without --url: inventory YAML (default: {BUILTIN!r}, the built-in network)",
    )
    where.add_argument(
        "--by",
        default=_login(),
        help="without --url: who makes the change (default: $USER, else the login name); with "
        "--url the token's name is recorded",
    )


def add_commands(sub: Subparsers) -> None:
    """Register ``resources register|list|show|remove|verify``."""
    resources = sub.add_parser(
        "resources",
        help="the computing-resource registry: compute pools per site and their verifications",
        description="Compute pools (devices of one model at a site, counted as general, ai or "
        "supercomputing power) with their version history, and verification records "
        "(benchmark results). Pools declared in the inventory are version 0; each change "
        "makes the next version.",
    )
    act = resources.add_subparsers(dest="action", required=True, metavar="ACTION")

    register = act.add_parser(
        "register",
        help="register pools from a YAML file; exit 2 naming file, line and key",
        description="Register the pools of a YAML file: one 'site:' and 'pool:' (id, class, "
        "model, count, optional nodes, memory_bytes, storage_bytes, in_service, retired, "
        "source; optional 'expected_version:') or a list of them under 'pools:'. Each is "
        "checked like an inventory pool (known site and device model, devices within the "
        "site's IT capacity); a pool identical to its current version is left unchanged, so "
        "re-running a file is safe. Exit 2 with FILE:LINE: KEY: MESSAGE on a problem.",
    )
    register.add_argument("file", type=Path, help="pool registration YAML")
    _target_args(register)
    register.set_defaults(handler=lazy("_resources", "_cmd_register"))

    listing = act.add_parser(
        "list",
        help="list current pools with their rated FLOPS",
        description="List the current pools (inventory ones overlaid by registrations) with "
        "count, rated peak in PFLOPS at the class's precision, version and who registered it. "
        "Without a registry in the data directory, the inventory's pools; nothing is created.",
    )
    listing.add_argument("--site", help="only this site")
    listing.add_argument("--hub", help="only sites of this national hub")
    listing.add_argument("--region", choices=["east", "west"], help="only this region")
    listing.add_argument(
        "--class", dest="cls", choices=[c.value for c in ComputeClass], help="only this class"
    )
    listing.add_argument("--format", choices=["table", "json"], default="table")
    _target_args(listing)
    listing.set_defaults(handler=lazy("_resources", "_cmd_list"))

    show = act.add_parser("show", help="show one pool and its version history")
    show.add_argument("site", help="site id")
    show.add_argument("pool", help="pool id")
    show.add_argument("--format", choices=["table", "json"], default="table")
    _target_args(show)
    show.set_defaults(handler=lazy("_resources", "_cmd_show"))

    remove = act.add_parser(
        "remove", help="remove a pool (a new version marks it removed; its history is kept)"
    )
    remove.add_argument("site", help="site id")
    remove.add_argument("pool", help="pool id")
    _target_args(remove)
    remove.set_defaults(handler=lazy("_resources", "_cmd_remove"))

    verify = act.add_parser(
        "verify",
        help="record a verification: a benchmark run on some of a pool's devices",
        description="Record that DEVICES devices of a pool ran a benchmark at a precision and "
        "passed or failed, with the FLOPS measured (leave out for a probe).",
    )
    verify.add_argument("--site", required=True, help="site id")
    verify.add_argument("--pool", required=True, help="pool id")
    verify.add_argument(
        "--benchmark", required=True, help=f"{', '.join(BENCHMARKS)} or another [a-z0-9-] name"
    )
    verify.add_argument("--precision", required=True, choices=[p.value for p in Precision])
    verify.add_argument("--measured-flops", type=float, help="measured FLOPS (all devices)")
    verify.add_argument("--devices", type=int, required=True, help="devices the run used")
    outcome = verify.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--passed", dest="passed", action="store_true", help="the run passed")
    outcome.add_argument("--failed", dest="passed", action="store_false", help="the run failed")
    verify.add_argument("--at", help="when it ran, RFC 3339 with offset (default: now)")
    verify.add_argument("--detail", default="", help="free text: job id, settings, log link")
    _target_args(verify)
    verify.set_defaults(handler=lazy("_resources", "_cmd_verify"))

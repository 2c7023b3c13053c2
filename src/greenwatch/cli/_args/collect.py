"""The arguments of collect; handlers load when the command runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from greenwatch.cli._args.shared import lazy
from greenwatch.cli._common import Subparsers


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    return key, value


def add_commands(sub: Subparsers) -> None:
    """Register ``collect``."""
    collect = sub.add_parser(
        "collect",
        help="poll a device once with a profile, check a profile, list profiles",
        description="Try a collector profile against a device before deploying it (--once\n"
        "prints the canonical batch it yields), validate a profile file (--check), or list\n"
        "the shipped profiles. Exit 1 when the poll fails (with the health reason), 2 on a\n"
        "bad profile or target (file, line and key named).",
        epilog="examples:\n"
        "  greenwatch collect --list-profiles\n"
        "  greenwatch collect --check --profile my-pdu.yaml\n"
        "  greenwatch collect --once --profile node-exporter --target http://10.0.0.5:9100 "
        "--site guian-1\n"
        "  greenwatch collect --once --profile eastron-sdm630 --target 10.0.0.9:502 "
        "--site guian-1 --device-id 3 --label meter=it_input\n"
        "  greenwatch collect --once --targets targets.yaml --target bmc-r5-12 --format json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = collect.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="poll the target once, print the batch")
    mode.add_argument("--check", action="store_true", help="validate --profile without polling")
    mode.add_argument("--list-profiles", action="store_true", help="list the shipped profiles")
    collect.add_argument(
        "--profile", help="profile file, or a shipped profile name (default: the target's profile)"
    )
    collect.add_argument(
        "--target",
        help="a target name in --targets FILE, else a URL (HTTP families) or HOST[:PORT]",
    )
    collect.add_argument("--targets", type=Path, help="targets YAML file (targets: [...])")
    collect.add_argument("--format", choices=["table", "json"], default="table")
    inline = collect.add_argument_group("inline target (without --targets)")
    inline.add_argument("--site", help="site id the samples belong to (required)")
    inline.add_argument("--name", help="target name (default: host[:port])")
    inline.add_argument(
        "--label",
        action="append",
        type=_key_value,
        metavar="KEY=VALUE",
        help="label added to every sample, e.g. meter=it_input (repeatable)",
    )
    inline.add_argument("--device-id", type=int, help="Modbus unit id (default 1)")
    inline.add_argument(
        "--peer",
        action="append",
        type=_key_value,
        metavar="LINK=HOST:PORT",
        help="link-probe peer (repeatable)",
    )
    inline.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    inline.add_argument("--username", help="user for HTTP basic/session auth or SNMPv3")
    secret = inline.add_mutually_exclusive_group()
    secret.add_argument("--password-env", metavar="VAR", help="password (or token) from $VAR")
    secret.add_argument("--password-file", type=Path, help="password from a file's first line")
    inline.add_argument(
        "--auth", choices=["basic", "session", "bearer"], default="basic", help="HTTP auth"
    )
    inline.add_argument("--community-env", metavar="VAR", help="SNMPv2c community from $VAR")
    inline.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    collect.set_defaults(handler=lazy("_collect", "_cmd_collect"))

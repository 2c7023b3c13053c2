"""The arguments of token; handlers load when the command runs."""

from __future__ import annotations

from pathlib import Path

from greenwatch.cli._args.shared import lazy
from greenwatch.cli._common import Subparsers, data_dir_help, default_data_dir
from greenwatch.service import SCOPES


def add_commands(sub: Subparsers) -> None:
    """Register ``token create`` and ``token list``."""
    token = sub.add_parser("token", help="create and list API tokens")
    token_sub = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = token_sub.add_parser(
        "create",
        help="create an API token (printed once, stored hashed)",
        description="Create an API token with one or more scopes: write (push APIs), read "
        "(read and KPI APIs), admin (everything). A token that writes is bound to the sites "
        "it may write (--site, repeatable): a pushed sample for any other site is refused "
        "with 403 and nothing of that request is stored. A write token for every site needs "
        "an explicit --any-site (an admin token without --site writes any site). The token "
        "is printed once; the data directory's tokens.json keeps only its SHA-256. Clients "
        "send it as 'Authorization: Token <token>' or 'Bearer <token>'.",
    )
    create.add_argument(
        "--scope", action="append", choices=SCOPES, required=True, help="repeat for several"
    )
    create.add_argument("--name", help="a name to recognise the token by")
    create.add_argument(
        "--site",
        action="append",
        default=[],
        help="a site this token may write (repeat for several); with one site, also the site "
        "of pushed samples that carry no site tag",
    )
    create.add_argument(
        "--any-site",
        action="store_true",
        help="let a write token write every site (a central collector, a relay)",
    )
    create.add_argument(
        "--data-dir", type=Path, default=default_data_dir(), help=data_dir_help("token file")
    )
    create.set_defaults(handler=lazy("_token", "_cmd_token_create"))
    listing = token_sub.add_parser(
        "list",
        help="list tokens: id, name, scopes, the sites each may write (no secrets)",
        description="List the data directory's tokens: id, name, scopes, what each may write "
        "('sites=a,b', 'any site', 'no site', '-' for a token without write) and when it was "
        "created. Tokens made before site bindings existed are migrated when first read: one "
        "with a default site is bound to it, one without writes any site.",
    )
    listing.add_argument(
        "--data-dir", type=Path, default=default_data_dir(), help=data_dir_help("token file")
    )
    listing.set_defaults(handler=lazy("_token", "_cmd_token_list"))

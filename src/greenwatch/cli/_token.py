"""``greenwatch token create|list``: API tokens bound to scopes and sites."""

from __future__ import annotations

import argparse
import sys

from greenwatch.cli._common import (
    say,
    text_table,
)
from greenwatch.service import TokenStore


def _cmd_token_create(args: argparse.Namespace) -> int:
    tokens = TokenStore.for_data_dir(args.data_dir)
    token = tokens.create(args.scope, args.name or "", args.site, args.any_site)
    say(token)
    info = tokens.check(token)
    assert info is not None  # just stored
    print(
        f"token for {', '.join(info.scopes)} ({info.binding}) stored hashed in {tokens.path}; "
        "it is shown only now",
        file=sys.stderr,
    )
    return 0


def _cmd_token_list(args: argparse.Namespace) -> int:
    rows = [("id", "name", "scopes", "writes", "created")]
    rows += [
        (i.id, i.name, ",".join(i.scopes), i.binding, i.created)
        for i in TokenStore.for_data_dir(args.data_dir).tokens()
    ]
    say(text_table(rows))
    return 0

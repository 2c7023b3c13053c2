"""The ``greenwatch`` command line. Exit 0 on success, 2 on bad input (file, line and key named).

Each command module has ``add_commands(sub)``; a handler returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from greenwatch import __version__
from greenwatch.cli import (
    _alerts,
    _collect,
    _core,
    _export_cmd,
    _ingest,
    _kpi,
    _report,
    _resources,
    _simulate,
)
from greenwatch.cli._common import EXIT_BAD_INPUT
from greenwatch.model import GreenwatchError

COMMAND_MODULES = (
    _core,
    _kpi,
    _report,
    _collect,
    _simulate,
    _alerts,
    _ingest,
    _export_cmd,
    _resources,
)
Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greenwatch",
        description="Observability and green-efficiency monitoring for a national network of "
        "computing centres: PUE, WUE, CUE, carbon, utilisation and link health.",
    )
    parser.add_argument("--version", action="version", version=f"greenwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``greenwatch`` command."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except GreenwatchError as exc:
        render = getattr(exc, "render", None)
        detail = render() if callable(render) else str(exc)
        print(f"greenwatch: {detail}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())

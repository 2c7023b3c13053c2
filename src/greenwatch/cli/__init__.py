"""The ``greenwatch`` command line. Exit 0 on success, 2 on bad input (file, line and key
named), 1 on a failure of the system (store damaged or locked, port in use): one sentence on
standard error, the traceback only with ``--debug``.

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
    _ops,
    _report,
    _resources,
    _simulate,
)
from greenwatch.cli._common import EXIT_BAD_INPUT, EXIT_SYSTEM
from greenwatch.model import GreenwatchError
from greenwatch.store import StoreError

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
    _ops,
)
Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greenwatch",
        description="Observability and green-efficiency monitoring for a national network of "
        "computing centres: PUE, WUE, CUE, carbon, utilisation and link health.",
    )
    parser.add_argument("--version", action="version", version=f"greenwatch {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="on failure, show the Python traceback as well"
    )
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
    except Exception as exc:
        if args.debug:
            raise
        detail, code = _one_sentence(exc)
        print(f"greenwatch: {detail}", file=sys.stderr)
        return code


def _one_sentence(exc: Exception) -> tuple[str, int]:
    """What to tell the user about a failure, and the exit status."""
    if isinstance(exc, GreenwatchError | StoreError):
        render = getattr(exc, "render", None)
        detail = render() if callable(render) else str(exc)
        default = EXIT_BAD_INPUT if isinstance(exc, GreenwatchError) else EXIT_SYSTEM
        return detail, int(getattr(exc, "exit_code", default))
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}", EXIT_SYSTEM
    return (
        f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback)",
        EXIT_SYSTEM,
    )


if __name__ == "__main__":
    sys.exit(main())

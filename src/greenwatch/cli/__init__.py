"""The ``greenwatch`` command line. Exit 0 on success, 2 on bad input (file, line and key
named), 1 on a failure of the system (store damaged or locked, port in use): one sentence on
standard error, the traceback only with ``--debug``.

Each command module has ``add_commands(sub)``; a handler returns the exit code.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from greenwatch import __version__
from greenwatch.cli._args import (
    agent,
    alerts,
    collect,
    core,
    export,
    export_kpis,
    kpi,
    ops,
    report,
    resources,
    simulate,
    token,
)
from greenwatch.cli._common import EXIT_SYSTEM
from greenwatch.model import GreenwatchError

COMMAND_MODULES = (
    core,
    kpi,
    report,
    collect,
    simulate,
    alerts,
    token,
    export,
    agent,
    export_kpis,
    resources,
    ops,
)
Handler = Callable[[argparse.Namespace], int]


class GreenwatchParser(argparse.ArgumentParser):
    """argparse that takes relative times as option values and suggests close names.

    Every sub-command's parser is one of these (argparse makes sub-parsers of the parent's
    class) and records itself as ``usage_parser``, so an unknown flag is reported with the
    usage of the sub-command it was given to.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # argparse takes a value starting with "-" for an option unless it looks like a
        # negative number; relative times (--start -1d) are values, and no greenwatch option
        # starts with a digit.
        self._negative_number_matcher = re.compile(r"^-\d+(\.\d+)?[a-z]*$")
        self.set_defaults(usage_parser=self)

    def error(self, message: str) -> NoReturn:
        found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if found:
            choices = re.findall(r"'([^']*)'", found.group(2))
            message += _suggestion(found.group(1), choices)
        super().error(message)

    def options(self) -> list[str]:
        return [o for action in self._actions for o in action.option_strings]


def _suggestion(given: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(given, names, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def build_parser() -> argparse.ArgumentParser:
    parser = GreenwatchParser(
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


def _bad_value(action: argparse.Action, text: str) -> str | None:
    """Why ``text`` is not a value of the option (its type and choices), or None."""
    if action.choices is not None and text not in action.choices:
        return f"expected one of {', '.join(map(str, action.choices))}, not {text!r}"
    if callable(action.type):
        try:
            action.type(text)
        except (ValueError, TypeError, argparse.ArgumentTypeError) as exc:
            return str(exc) or f"not a valid value: {text!r}"
    return None


def _with_config(argv: list[str], args: argparse.Namespace) -> list[str]:
    """``argv`` with the options of ``--config FILE`` (a YAML mapping of option: value) put
    before the command's own, so the command line wins; ConfigError naming file, line and key
    for a key that is not an option of the command."""
    from greenwatch.model import ConfigError, load_yaml  # noqa: PLC0415 - only with --config

    doc = load_yaml(args.config)
    owner: GreenwatchParser = args.usage_parser
    actions = {o[2:]: a for a in owner._actions for o in a.option_strings if o.startswith("--")}
    if not isinstance(doc.data, dict):
        raise ConfigError(str(args.config), [(1, "", "expected a mapping of option: value")])
    extra: list[str] = []
    problems: list[tuple[int | None, str, str]] = []
    for key, value in doc.data.items():
        name = str(key).replace("_", "-")
        action = actions.get(name)
        line = doc.line_of((key,))
        if action is None or name in ("config", "help"):
            hint = _suggestion(f"--{name}", owner.options())
            problems.append((line, str(key), f"not an option of this command{hint}"))
        elif action.nargs == 0:  # a flag: true or false
            if value not in (True, False):
                problems.append((line, str(key), "expected true or false"))
            elif value:
                extra.append(f"--{name}")
        else:
            for item in value if isinstance(value, list) else [value]:
                problem = _bad_value(action, str(item))
                if problem:
                    problems.append((line, str(key), problem))
                extra += [f"--{name}", str(item)]
    if problems:
        raise ConfigError(str(args.config), problems)
    at = argv.index(args.command) + 1
    return [*argv[:at], *extra, *argv[at:]]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``greenwatch`` command (``argv`` None: the process's own command line,
    and the process ends when this returns)."""
    whole_process = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extra = build_parser().parse_known_args(argv)
    if getattr(args, "takes_config", False) and args.config is not None:
        try:
            argv = _with_config(argv, args)
        except GreenwatchError as exc:
            print(f"greenwatch: {_one_sentence(exc)[0]}", file=sys.stderr)
            return exc.exit_code
        args, extra = build_parser().parse_known_args(argv)
    if extra:
        owner: GreenwatchParser = args.usage_parser
        flag = next((e.split("=", 1)[0] for e in extra if e.startswith("-")), extra[0])
        owner.error(
            f"unrecognized arguments: {' '.join(extra)}{_suggestion(flag, owner.options())}"
        )
    handler: Handler = args.handler
    args.whole_process = whole_process
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
    if isinstance(exc, GreenwatchError):
        render = getattr(exc, "render", None)
        detail = render() if callable(render) else str(exc)
        return detail, exc.exit_code
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}", EXIT_SYSTEM
    return (
        f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback)",
        EXIT_SYSTEM,
    )


if __name__ == "__main__":
    sys.exit(main())

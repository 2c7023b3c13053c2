"""Operating a data directory: ``store check``, ``backup``, ``restore``."""

from __future__ import annotations

import argparse
from pathlib import Path

from greenwatch.cli._common import EXIT_SYSTEM, STORE_FILE, Subparsers, open_store, say
from greenwatch.cli._core import common_args
from greenwatch.cli._remote import add_server_args, ask, find_server
from greenwatch.model import GreenwatchError
from greenwatch.service import restore_backup, running_server, write_backup


def _cmd_store_check(args: argparse.Namespace) -> int:
    server = running_server(args.data_dir)
    if server is not None:
        raise GreenwatchError(
            f"greenwatch serve (PID {server.pid}) holds {args.data_dir / STORE_FILE}: it reads "
            f"its store every 15 s itself (see {server.url}healthz); stop it for a full check"
        )
    store = open_store(args.data_dir)
    try:
        problems = store.check()
        version = store.schema_version
    finally:
        store.close()
    path = args.data_dir / STORE_FILE
    if problems:
        for problem in problems:
            say(f"{path}: {problem}")
        say(f"{path}: {len(problems)} problem(s): restore it from a backup (greenwatch restore)")
        return EXIT_SYSTEM
    say(f"{path}: ok (schema version {version}; every table read in full)")
    return 0


def _cmd_backup(args: argparse.Namespace) -> int:
    out: Path = args.out
    server = find_server(args)
    if server is not None:
        body = ask(server, "POST", "/api/v1/backup").content
        partial = out.with_name(out.name + ".partial")
        partial.write_bytes(body)
        partial.replace(out)
        say(f"{out}: backup of the data directory served at {server.url} ({len(body):,} bytes)")
        return 0
    store = open_store(args.data_dir)
    try:
        manifest = write_backup(store, args.data_dir, out)
    finally:
        store.close()
    say(f"{out}: backup of {args.data_dir} taken at {manifest['taken_at']} "
        f"({out.stat().st_size:,} bytes)")  # fmt: skip
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    manifest = restore_backup(args.file, args.data_dir)
    say(f"{args.data_dir}: restored from {args.file} (taken at {manifest['taken_at']}); "
        f"start it with greenwatch serve --data-dir {args.data_dir}")  # fmt: skip
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register ``store``, ``backup`` and ``restore``."""
    store = sub.add_parser("store", help="check the embedded store")
    store_sub = store.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = store_sub.add_parser(
        "check",
        help="read every table in full and cross-check them; exit 1 on a problem",
        description="Open the store (migrating an older schema forward), read every column of "
        "every table and cross-check them: samples and roll-ups of unknown series, repeated "
        "samples, roll-ups off their grid. Needs the store free (no server running on it).",
    )
    common_args(check)
    check.set_defaults(handler=_cmd_store_check)

    backup = sub.add_parser(
        "backup",
        help="write a consistent backup of a data directory, also while greenwatch serve runs",
        description="Write one .tar.gz holding a consistent snapshot of the store, the "
        "computing-resources registry, the alert state, the API tokens and the demo state. "
        "While a server serves the data directory the backup is taken by that server (writes "
        "pause for the copy); every sample acknowledged before the backup began is in it.",
    )
    backup.add_argument("--out", type=Path, required=True, help="the backup file to write")
    common_args(backup)
    add_server_args(backup)
    backup.set_defaults(handler=_cmd_backup)

    restore = sub.add_parser(
        "restore",
        help="restore a backup into an empty data directory",
        description="Unpack a backup written by greenwatch backup into a data directory that "
        "holds no store yet, then open the store once (a damaged backup is refused).",
    )
    restore.add_argument("file", type=Path, help="backup file (.tar.gz)")
    common_args(restore)
    restore.set_defaults(handler=_cmd_restore)

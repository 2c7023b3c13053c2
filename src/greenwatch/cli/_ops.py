"""Operating a data directory: ``store check``, ``backup``, ``restore``."""

from __future__ import annotations

import argparse
from pathlib import Path

from greenwatch.cli._common import EXIT_SYSTEM, STORE_FILE, open_store, say
from greenwatch.cli._remote import ask, find_server
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

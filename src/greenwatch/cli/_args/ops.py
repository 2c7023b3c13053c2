"""The arguments of ops; handlers load when the command runs."""

from __future__ import annotations

from pathlib import Path

from greenwatch.cli._args.shared import add_server_args, common_args, lazy
from greenwatch.cli._common import Subparsers


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
    check.set_defaults(handler=lazy("_ops", "_cmd_store_check"))

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
    backup.set_defaults(handler=lazy("_ops", "_cmd_backup"))

    restore = sub.add_parser(
        "restore",
        help="restore a backup into an empty data directory",
        description="Unpack a backup written by greenwatch backup into a data directory that "
        "holds no store yet, then open the store once (a damaged backup is refused).",
    )
    restore.add_argument("file", type=Path, help="backup file (.tar.gz)")
    common_args(restore)
    restore.set_defaults(handler=lazy("_ops", "_cmd_restore"))

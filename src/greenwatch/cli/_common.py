"""What every command module shares."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from greenwatch.store import DuckDBStore, Retention

DEFAULT_DATA_DIR = Path("greenwatch-data")
STORE_FILE = "greenwatch.duckdb"
EXIT_BAD_INPUT = 2
EXIT_SYSTEM = 1
Subparsers = Any  # argparse's sub-parser action type is private


def text_table(rows: Sequence[Sequence[str]], right: Collection[int] = ()) -> str:
    """Rows (the header first) in columns two spaces apart; columns in ``right`` (numbers)
    aligned right, the others left."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


def say(text: str) -> None:
    """Print a line for the user, flushed at once (progress of long commands)."""
    print(text, flush=True)


def open_store(
    data_dir: Path, *, create: bool = False, retention: Retention | None = None
) -> DuckDBStore:
    """The store in ``data_dir``; a read (``create`` False) never creates a directory or a
    store: "no store at DATA_DIR" instead."""
    return DuckDBStore(data_dir / STORE_FILE, create=create, retention=retention)

"""What every command module shares."""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import argparse

    from greenwatch.store import DuckDBStore, Retention, Store

DATA_DIR_ENV = "GREENWATCH_DATA_DIR"
STORE_FILE = "greenwatch.duckdb"
EXIT_SYSTEM = 1
TOKEN_ENV = "GREENWATCH_TOKEN"  # the token commands send to a running greenwatch (--url)
Subparsers = Any  # argparse's sub-parser action type is private


def default_data_dir() -> Path:
    """``$GREENWATCH_DATA_DIR``, else ``greenwatch-data`` in the working directory."""
    return Path(os.environ.get(DATA_DIR_ENV) or "greenwatch-data")


def data_dir_help(what: str = "where the embedded store lives") -> str:
    """The ``--data-dir`` help, with the default it resolves to now."""
    return f"{what} (default: ${DATA_DIR_ENV}, else ./greenwatch-data; now %(default)s)"


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


class Progress:
    """A progress bar on a terminal; elsewhere (a log, a pipe) a plain line at each tenth of
    the work, so logs hold no carriage-return frames."""

    def __init__(self, total: int, desc: str, unit: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.desc = desc
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._next_tenth = 1
        from tqdm import tqdm  # noqa: PLC0415 - the command line imports it only to show a bar

        self._bar = (
            tqdm(total=total, unit=unit, unit_scale=True, desc=desc, file=self.stream)
            if self.stream.isatty()
            else None
        )

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        while self._next_tenth <= 10 and self.done * 10 >= self._next_tenth * self.total:
            print(
                f"{self.desc}: {self._next_tenth * 10}% ({self.done:,} of {self.total:,} "
                f"{self.unit})",
                file=self.stream,
                flush=True,
            )
            self._next_tenth += 1

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()


def say(text: str) -> None:
    """Print a line for the user, flushed at once (progress of long commands)."""
    print(text, flush=True)


def open_store(
    data_dir: Path,
    *,
    create: bool = False,
    retention: Retention | None = None,
    memory_limit: str | None = None,
) -> DuckDBStore:
    """The store in ``data_dir``; a read (``create`` False) never creates a directory or a
    store: "no store at DATA_DIR" instead. ``memory_limit``: see :class:`DuckDBStore`."""
    from greenwatch.store import DuckDBStore  # noqa: PLC0415 - kept out of --help

    return DuckDBStore(
        data_dir / STORE_FILE, create=create, retention=retention, memory_limit=memory_limit
    )


def open_service_store(args: argparse.Namespace, *, retention: Retention | None = None) -> Store:
    """The store ``serve`` and ``demo`` write to: the embedded file in ``--data-dir``, or
    VictoriaMetrics at ``--store-write-url``/``--store-read-url`` (probed once: an engine
    that cannot answer stops the command with one sentence)."""
    if args.store == "duckdb":
        return open_store(
            args.data_dir, create=True, retention=retention, memory_limit=args.store_memory_limit
        )
    from greenwatch.model import ConfigError  # noqa: PLC0415 - kept out of --help
    from greenwatch.store import VictoriaMetricsStore  # noqa: PLC0415

    if not args.store_write_url:
        problem = "--store victoriametrics needs the engine's write URL"
        raise ConfigError("command line", [(None, "--store-write-url", problem)])
    token = None
    if args.store_token_file is not None:
        try:
            token = args.store_token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"cannot read the token: {exc}"
            raise ConfigError(
                str(args.store_token_file), [(None, "--store-token-file", problem)]
            ) from None
        if not token:
            problem = "the token file is empty"
            raise ConfigError(
                str(args.store_token_file), [(None, "--store-token-file", problem)]
            ) from None
    store = VictoriaMetricsStore(args.store_write_url, read_url=args.store_read_url, token=token)
    try:
        store.probe()
    except BaseException:
        store.close()
        raise
    return store

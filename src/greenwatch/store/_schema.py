"""The embedded store's file: opening it safely, its schema version, forward migrations, checks.

A store records its schema version in ``meta`` (``schema_version``); a store written before
versions existed has none and counts as version 0. Opening a store applies, in order and each
in its own transaction, every step of :data:`MIGRATIONS` above its version. To change the
schema: change :data:`SCHEMA` (what a new store gets) and append one step that brings a store
of the previous version to the same tables — a small function of the connection.

Every way the file can fail to open becomes a :class:`StoreUnavailableError` (or
:class:`StoreMissingError`) whose message names the file and what to do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from greenwatch.store._base import StoreError

Connection = duckdb.DuckDBPyConnection

ROLLUP_TABLES = ("rollup_1h", "rollup_1d")
SCHEMA = "".join(
    [
        """CREATE TABLE series (
    id INTEGER PRIMARY KEY, key VARCHAR UNIQUE NOT NULL, metric VARCHAR NOT NULL,
    labels VARCHAR NOT NULL);
CREATE TABLE samples (series_id INTEGER NOT NULL, t BIGINT NOT NULL, value DOUBLE NOT NULL);
CREATE TABLE meta (name VARCHAR PRIMARY KEY, value VARCHAR);
""",
        *(
            f"""CREATE TABLE {table} (series_id INTEGER NOT NULL, bucket BIGINT NOT NULL,
    n BIGINT, sum DOUBLE, min DOUBLE, max DOUBLE, first_t BIGINT, first_v DOUBLE,
    last_t BIGINT, last_v DOUBLE, increase DOUBLE, integral DOUBLE, covered_s DOUBLE,
    resets BIGINT, reset_start BIGINT, reset_end BIGINT);
"""
            for table in ROLLUP_TABLES
        ),
    ]
)
# Each table and the column the open-time check reads in full (the time column).
TABLES: dict[str, str] = {
    "series": "id",
    "samples": "t",
    "meta": "name",
    "rollup_1h": "bucket",
    "rollup_1d": "bucket",
}


@contextmanager
def transaction_with(con: Connection, name: str, frame: pd.DataFrame) -> Iterator[None]:
    """One transaction with ``frame`` registered as ``name``: committed when the block ends,
    rolled back when it raises; the frame unregistered either way."""
    con.register(name, frame)
    con.execute("BEGIN")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister(name)


class StoreUnavailableError(StoreError):
    """The store file cannot be opened or read (locked, damaged, unreadable): exit status 1."""

    exit_code = 1


class StoreMissingError(StoreUnavailableError):
    """There is no store where one was asked for (a wrong --data-dir): exit status 2."""

    exit_code = 2


@dataclass(frozen=True)
class Migration:
    """One step: brings a store of version ``version - 1`` to ``version``."""

    version: int
    summary: str
    apply: Callable[[Connection], None]


def _record_version(_con: Connection) -> None:
    """Version 1 has the tables of the first release; only the version is new."""


def _rollup_resets(con: Connection) -> None:
    """Roll-ups count counter resets and bound the time they span."""
    for table in ROLLUP_TABLES:
        for column in ("resets", "reset_start", "reset_end"):
            con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} BIGINT")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "record the schema version (tables as in the first release)", _record_version),
    Migration(2, "roll-ups count counter resets (resets, reset_start, reset_end)", _rollup_resets),
)
SCHEMA_VERSION = MIGRATIONS[-1].version

_LOCK_PID = re.compile(r"Conflicting lock is held in .*\(PID (\d+)\)")


def _what_to_do(path: Path) -> str:
    return (
        f"restore it from a backup (greenwatch restore FILE --data-dir {path.parent}) "
        "or move it aside to start empty"
    )


def connect(path: Path, *, create: bool, read_only: bool = False) -> Connection:
    """A connection to the store file at ``path``, created (with its data directory) only when
    ``create``; every failure is a :class:`StoreUnavailableError` naming the file."""
    if not path.exists():
        if not create:
            raise StoreMissingError(
                f"no store at {path.parent}: pass the --data-dir of a greenwatch server, "
                "or create one with greenwatch serve or greenwatch demo"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"cannot create the data directory {path.parent}: {exc.strerror}"
            ) from None
    if not read_only and not os.access(path.parent, os.W_OK):
        raise StoreUnavailableError(
            f"data directory {path.parent} is read-only: greenwatch needs to write there "
            "(its write-ahead log); fix its permissions or pass another --data-dir"
        )
    if path.exists() and not os.access(path, os.R_OK):
        raise StoreUnavailableError(f"cannot read the store {path}: permission denied")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise _open_error(path, exc) from None


def _open_error(path: Path, exc: duckdb.Error) -> StoreUnavailableError:
    text = str(exc)
    locked = _LOCK_PID.search(text)
    if locked:
        return StoreUnavailableError(
            f"the store {path} is in use by another process (PID {locked.group(1)}): ask that "
            "greenwatch server (read commands find it by themselves, or pass --url), or stop it"
        )
    if "Permission denied" in text or "Read-only file system" in text:
        return StoreUnavailableError(f"cannot open the store {path}: {_first_line(text)}")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return StoreUnavailableError(
            f"opening the store {path} needs more memory than its bound: raise --store-memory-limit"
        )
    return StoreUnavailableError(
        f"the store {path} is damaged ({_first_line(text)}): {_what_to_do(path)}"
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


def schema_version(con: Connection) -> int:
    """The version a store records (0: written before versions existed)."""
    row = con.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def _tables(con: Connection) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return {str(r[0]) for r in rows}


def prepare(
    con: Connection,
    path: Path,
    *,
    read_only: bool = False,
    migrations: tuple[Migration, ...] = MIGRATIONS,
) -> int:
    """Create the tables of a new store, or migrate an older one forward; then read every
    table once. Returns the version found before migrating (-1 for a new store)."""
    latest = migrations[-1].version
    try:
        if not _tables(con) and not read_only:
            con.execute(SCHEMA)
            _set_version(con, latest)
            return -1
        found = schema_version(con)
        if found > latest:
            raise StoreUnavailableError(
                f"the store {path} has schema version {found}, newer than this greenwatch "
                f"knows ({latest}): upgrade greenwatch"
            )
        if found < latest and read_only:
            raise StoreUnavailableError(
                f"the store {path} has schema version {found} and needs migrating to "
                f"{latest}: make it writable and run greenwatch store check --data-dir "
                f"{path.parent} (or greenwatch serve) once"
            )
        for step in migrations:
            if step.version > found:
                con.execute("BEGIN")
                step.apply(con)
                _set_version(con, step.version)
                con.execute("COMMIT")
        quick_check(con)
    except duckdb.Error as exc:
        raise _open_error(path, exc) from None
    return found


def _set_version(con: Connection, version: int) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])


def quick_check(con: Connection) -> None:
    """Read every table's time (or key) column in full: a truncated or damaged file fails here
    (duckdb.Error), not at the first query a user asks."""
    missing = [t for t in TABLES if t not in _tables(con)]
    if missing:
        raise duckdb.CatalogException(f"missing table(s) {', '.join(missing)}")
    for table, column in TABLES.items():
        con.execute(f"SELECT count(*), bit_xor(hash({column})) FROM {table}").fetchone()


def full_check(con: Connection) -> list[str]:
    """Problems found reading every column of every table and cross-checking them (empty: the
    store is sound): samples and roll-ups of unknown series, roll-ups off their grid."""
    problems: list[str] = []
    for table in TABLES:
        try:
            con.execute(f"SELECT count(*), bit_xor(hash(COLUMNS(*))) FROM {table}").fetchone()
        except duckdb.Error as exc:
            problems.append(f"{table}: cannot be read ({_first_line(str(exc))})")
    if problems:
        return problems
    checks = {
        "samples of unknown series": "SELECT count(*) FROM samples WHERE series_id NOT IN "
        "(SELECT id FROM series)",
        "repeated samples (same series and time)": "SELECT count(*) FROM (SELECT series_id, t "
        "FROM samples GROUP BY ALL HAVING count(*) > 1)",
        **{
            f"{table} rows of unknown series": f"SELECT count(*) FROM {table} WHERE series_id "
            "NOT IN (SELECT id FROM series)"
            for table in ROLLUP_TABLES
        },
        "rollup_1h rows off the hour": "SELECT count(*) FROM rollup_1h "
        "WHERE bucket % 3600000000000 <> 0",
        "rollup_1d rows off the day": "SELECT count(*) FROM rollup_1d "
        "WHERE bucket % 86400000000000 <> 0",
    }
    for what, sql in checks.items():
        row = con.execute(sql).fetchone()
        count = int(row[0]) if row else 0
        if count:
            problems.append(f"{count:,} {what}")
    return problems

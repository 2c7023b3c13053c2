"""Answers kept in the store file: rows a layer above derived per site and hour.

A layer above the store (:mod:`greenwatch.query`) may keep what it derived from the samples of
each site and hour, e.g. the hourly energy of the meters a site's PUE rests on, so that a
freshly opened store answers a month from a few thousand rows instead of recomputing it. The
store does not know what the rows mean. It keeps them in a table ``kept_<name>`` (columns
``site``, ``bucket`` in ns and the caller's) under a signature the caller chooses (its
columns, its definition's parameters), recorded in ``meta``: rows kept under another signature
are never read and are dropped at the next keep.

A write drops the rows it can change: every row of a site it writes to whose hour lies within
``lookback + max_gap`` of a sample it stores (:class:`greenwatch.store.Gaps`: a counter pair
spreads its increase over up to the look-back, and a power pair up to ``max_gap`` away fills a
counter reset). Retention drops rows older than the roll-ups it keeps. Kept rows are a cache:
losing them loses nothing, the layer above recomputes them.
"""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from greenwatch.store._retention import HOUR_NS
from greenwatch.store._schema import transaction_with

PREFIX = "kept_"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")


def table_of(name: str) -> str:
    """The table that keeps rows under ``name``; ValueError for a name that is not one."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"a kept table's name is lowercase letters, digits and _: {name!r}")
    return PREFIX + name


def kept_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables of kept rows in the store."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)", [PREFIX]
    ).fetchall()
    return {str(r[0]) for r in rows}


def _signature(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE name = ?", [f"{table}:signature"]).fetchone()
    return str(row[0]) if row else None


def read_kept(
    con: duckdb.DuckDBPyConnection,
    tables: set[str],
    name: str,
    signature: str,
    sites: list[str],
    lo: int,
    hi: int,
) -> pd.DataFrame | None:
    """Rows kept under ``name`` for ``sites`` with ``lo <= bucket < hi``, in no particular
    order; None when nothing is kept under that name and signature (``tables``: the kept
    tables the store knows of)."""
    table = table_of(name)
    if table not in tables or _signature(con, table) != signature:
        return None
    # Sites come back as positions in ``sites``: integers convert faster than strings.
    found = con.execute(
        f"SELECT list_position($sites, site)::INTEGER - 1 AS _site, * EXCLUDE (site) "
        f"FROM {table} WHERE bucket >= $lo AND bucket < $hi AND list_contains($sites, site)",
        {"lo": lo, "hi": hi, "sites": sites},
    ).df()
    codes = found.pop("_site").to_numpy()
    found.insert(0, "site", pd.Index(sites, dtype="str").take(codes).array)
    return found


def keep_rows(
    con: duckdb.DuckDBPyConnection, name: str, signature: str, frame: pd.DataFrame
) -> None:
    """Keep ``frame`` (columns ``site``, ``bucket`` and the caller's) under ``name``, replacing
    rows of the same site and bucket (the caller holds the write lock)."""
    table = table_of(name)
    columns = list(frame.columns)
    if columns[:2] != ["site", "bucket"]:
        raise ValueError("kept rows start with the columns site and bucket")
    with transaction_with(con, "_keep", frame):
        present = table in kept_tables(con)
        if present and (
            _signature(con, table) != signature
            or [c[0] for c in con.execute(f"SELECT * FROM {table} LIMIT 0").description] != columns
        ):
            con.execute(f"DROP TABLE {table}")
            present = False
        if not present:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM _keep LIMIT 0")
            con.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [f"{table}:signature", signature]
            )
        con.execute(
            f"DELETE FROM {table} USING _keep k WHERE {table}.site = k.site "
            f"AND {table}.bucket = k.bucket"
        )
        con.execute(f"INSERT INTO {table} SELECT * FROM _keep ORDER BY bucket, site")


def forget_written(
    cur: duckdb.DuckDBPyConnection,
    tables: set[str],
    sites: list[str],
    t_lo: int,
    t_hi: int,
    reach: int,
) -> None:
    """Inside a write's transaction: drop the kept rows of ``sites`` that samples from
    ``t_lo`` to ``t_hi`` (ns) can change, those within ``reach`` ns of them."""
    lo, hi = (t_lo - reach) // HOUR_NS * HOUR_NS, t_hi + reach
    for table in sorted(tables):
        cur.execute(
            f"DELETE FROM {table} WHERE bucket >= $lo AND bucket <= $hi "
            "AND site IN (SELECT unnest($sites))",
            {"lo": lo, "hi": hi, "sites": sites},
        )


def forget_before(con: duckdb.DuckDBPyConnection, tables: set[str], cut: int) -> None:
    """Drop kept rows of hours before ``cut`` (ns): retention, with the roll-ups."""
    for table in sorted(tables):
        con.execute(f"DELETE FROM {table} WHERE bucket < ?", [cut])

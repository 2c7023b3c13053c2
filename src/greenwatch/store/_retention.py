"""How long the embedded store keeps what: raw samples for ``raw`` (default 400 days), hourly
and daily roll-ups for ``rollups`` (default 10 years).

A retention pass (daily in ``greenwatch serve``) deletes what is older and checkpoints.
Samples are appended in time order, so the deleted ones fill whole row groups, whose blocks
the checkpoint releases and later writes reuse: the file stops growing with the raw samples
once they reach the retention period (the roll-ups, about a sixtieth of the raw samples at
1-minute resolution, still grow). KPIs over periods older than ``raw`` are answered from the
roll-ups (queries on an hour or day grid read only roll-ups). The time raw samples are kept
from is recorded in the store, and a write of samples before it is refused: recomputing a
roll-up from raw samples that are gone would lose what it summed.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from greenwatch.store._base import StoreError
from greenwatch.store._names import RAW_RETENTION_DAYS, ROLLUP_RETENTION_DAYS

HOUR_NS = 3_600_000_000_000
RAW_RETENTION = pd.Timedelta(days=RAW_RETENTION_DAYS)
ROLLUP_RETENTION = pd.Timedelta(days=ROLLUP_RETENTION_DAYS)
RAW_KEPT_FROM = "raw_kept_from"  # meta: ns since epoch of the oldest raw sample kept


class RetentionError(StoreError):
    """Retention periods that cannot be (bad input: exit status 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Retention:
    """How long raw samples and roll-ups are kept."""

    raw: pd.Timedelta = RAW_RETENTION
    rollups: pd.Timedelta = ROLLUP_RETENTION

    def __post_init__(self) -> None:
        if self.raw <= pd.Timedelta(0) or self.rollups < self.raw:
            raise RetentionError(
                f"retention: raw ({self.raw}) must be positive and roll-ups ({self.rollups}) "
                "kept at least as long"
            )


@dataclass(frozen=True)
class RetentionOutcome:
    """Rows deleted by one pass, per table."""

    samples: int
    rollup_1h: int
    rollup_1d: int


def _deleted(con: duckdb.DuckDBPyConnection, sql: str, cut: int) -> int:
    row = con.execute(sql, [cut]).fetchone()
    return int(row[0]) if row else 0


def apply_retention(
    con: duckdb.DuckDBPyConnection, retention: Retention, now: pd.Timestamp
) -> RetentionOutcome:
    """One retention pass at ``now`` (the caller holds the store's write lock)."""
    raw_cut = (int((now - retention.raw).value) // HOUR_NS) * HOUR_NS
    rollup_cut = int((now - retention.rollups).value)
    con.execute("BEGIN")
    try:
        outcome = RetentionOutcome(
            _deleted(con, "DELETE FROM samples WHERE t < ?", raw_cut),
            _deleted(con, "DELETE FROM rollup_1h WHERE bucket < ?", rollup_cut),
            _deleted(con, "DELETE FROM rollup_1d WHERE bucket < ?", rollup_cut),
        )
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [RAW_KEPT_FROM, str(raw_cut)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("CHECKPOINT")
    return outcome


def raw_kept_from(con: duckdb.DuckDBPyConnection) -> int | None:
    """The time (ns) raw samples are kept from, once a retention pass ran; else None."""
    row = con.execute("SELECT value FROM meta WHERE name = ?", [RAW_KEPT_FROM]).fetchone()
    return int(row[0]) if row else None

"""The agent's disk buffer: batches waiting for the central ingest API, in one SQLite file.

Each entry is one request's body (gzipped line protocol), its batch id and sample count.
Entries leave oldest first, and only when the central server acknowledged them, so a crash or
restart of the agent loses nothing that was buffered (SQLite WAL, synchronous=FULL). The buffer
is bounded by samples: when a new batch would exceed ``max_samples``, the oldest entries are
evicted and counted (``evicted_samples``), so a long outage costs the oldest data, never the
newest, and never the disk.
"""

from __future__ import annotations

import gzip
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from greenwatch.ingest import encode_lines

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, batch_id TEXT NOT NULL UNIQUE,
    samples INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Entry:
    """One buffered request body."""

    seq: int
    batch_id: str
    samples: int
    body: bytes


class DiskBuffer:
    """A bounded, persistent FIFO of gzipped line-protocol bodies."""

    def __init__(self, path: str | Path, max_samples: int = 10_000_000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_samples = max_samples
        self._lock = threading.Lock()
        self._con = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.executescript(_SCHEMA)
        self.added = threading.Event()

    def put(self, batch: pd.DataFrame, chunk: int = 50_000) -> list[str]:
        """Buffer a canonical batch (in chunks of ``chunk`` samples); returns the batch ids."""
        ids = []
        for start in range(0, len(batch), chunk):
            part = batch.iloc[start : start + chunk]
            body = gzip.compress("\n".join(encode_lines(part)).encode("utf-8"), compresslevel=5)
            ids.append(self._put(body, len(part)))
        if ids:
            self.added.set()
        return ids

    def _put(self, body: bytes, samples: int) -> str:
        batch_id = uuid.uuid4().hex
        with self._lock:
            cur = self._con.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute(
                    "INSERT INTO entries (batch_id, samples, body) VALUES (?, ?, ?)",
                    (batch_id, samples, body),
                )
                self._evict(cur)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return batch_id

    def _evict(self, cur: sqlite3.Cursor) -> None:
        total = cur.execute("SELECT coalesce(sum(samples), 0) FROM entries").fetchone()[0]
        evicted = 0
        while total > self.max_samples:
            row = cur.execute("SELECT seq, samples FROM entries ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                break
            cur.execute("DELETE FROM entries WHERE seq = ?", (row[0],))
            total -= row[1]
            evicted += row[1]
        if evicted:
            cur.execute(
                "INSERT INTO counters VALUES ('evicted_samples', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                (evicted,),
            )

    def oldest(self) -> Entry | None:
        """The oldest entry, left in place until :meth:`ack`."""
        with self._lock:
            row = self._con.execute(
                "SELECT seq, batch_id, samples, body FROM entries ORDER BY seq LIMIT 1"
            ).fetchone()
        return Entry(*row) if row else None

    def oldest_group(self, max_samples: int) -> list[Entry]:
        """The oldest entries (at least one) holding at most ``max_samples`` together."""
        with self._lock:
            rows = self._con.execute(
                "SELECT seq, batch_id, samples, body FROM entries ORDER BY seq LIMIT 1000"
            ).fetchall()
        group: list[Entry] = []
        total = 0
        for row in rows:
            if group and total + row[2] > max_samples:
                break
            group.append(Entry(*row))
            total += row[2]
        return group

    def ack(self, entry: Entry) -> None:
        """Forget an entry the central server acknowledged (or refused for good)."""
        with self._lock:
            self._con.execute("DELETE FROM entries WHERE seq = ?", (entry.seq,))

    def pending(self) -> tuple[int, int]:
        """(entries, samples) waiting."""
        with self._lock:
            row = self._con.execute(
                "SELECT count(*), coalesce(sum(samples), 0) FROM entries"
            ).fetchone()
        return int(row[0]), int(row[1])

    @property
    def evicted_samples(self) -> int:
        """Samples dropped (oldest first) because the buffer was full, ever."""
        with self._lock:
            row = self._con.execute(
                "SELECT value FROM counters WHERE name = 'evicted_samples'"
            ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._con.close()

"""Where alert state survives restarts: one SQLite file in the data directory.

Tables hold JSON bodies by key (alerts by fingerprint, notification groups, silences,
integration statistics). Each :meth:`StateStore.save` writes only what changed since it was
last saved, in one transaction, so the file always holds a consistent state.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TABLES = ("alerts", "groups", "silences", "integrations")


class StateStore:
    """JSON bodies by key in SQLite; ``path`` None keeps them in memory (tests, ``alerts test``)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(
            ":memory:" if self.path is None else str(self.path),
            check_same_thread=False,
            isolation_level=None,
        )
        if self.path is not None:
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")
        for table in TABLES:
            self._con.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, body TEXT NOT NULL)"
            )
        self._lock = threading.Lock()
        self._saved: dict[str, dict[str, str]] = {t: {} for t in TABLES}

    def load(self, table: str) -> dict[str, dict[str, Any]]:
        """Every body of a table, by key."""
        with self._lock:
            rows = self._con.execute(f"SELECT key, body FROM {table}").fetchall()
        self._saved[table] = dict(rows)
        return {k: json.loads(b) for k, b in rows}

    def save(self, bodies: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> int:
        """Make the given tables hold exactly these bodies; returns rows written or deleted."""
        texts = {
            table: {k: json.dumps(v, sort_keys=True, default=str) for k, v in items.items()}
            for table, items in bodies.items()
        }
        with self._lock:
            changed = 0
            cur = self._con.cursor()
            cur.execute("BEGIN")
            try:
                for table, text in texts.items():
                    saved = self._saved[table]
                    upserts = [(k, b) for k, b in text.items() if saved.get(k) != b]
                    deletes = [(k,) for k in saved if k not in text]
                    cur.executemany(
                        f"INSERT INTO {table} (key, body) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET body = excluded.body",
                        upserts,
                    )
                    cur.executemany(f"DELETE FROM {table} WHERE key = ?", deletes)
                    changed += len(upserts) + len(deletes)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                for table in bodies:
                    self._saved[table] = dict(
                        self._con.execute(f"SELECT key, body FROM {table}").fetchall()
                    )
                raise
            self._saved.update(texts)
            return changed

    def close(self) -> None:
        with self._lock:
            self._con.close()

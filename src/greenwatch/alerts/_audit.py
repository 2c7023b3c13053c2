"""The audit log: who did what, when, and from where.

Every acknowledgement, silence and expiry — from the dashboard or the HTTP API — and every
pool registration or removal through the API is appended as one JSON line to ``audit.jsonl``
in the data directory (in memory without one), so an operator action can always be traced to
a person (or token) and a client address. The log is append-only; :meth:`AuditLog.entries`
reads the newest first.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from greenwatch.model import Clock, utc_now

AUDIT_FILE = "audit.jsonl"


@dataclass(frozen=True)
class AuditEntry:
    """One operator action: ``at`` (ISO 8601 UTC), ``who`` (user or token name), ``action``
    (``ack``, ``silence``, ``expire``, ``register``, ``remove``), ``target`` (alert, silence
    or ``site/pool``), ``client`` (address),
    ``via`` (``dashboard`` or ``api``) and a free ``detail`` (the comment, the matchers)."""

    at: str
    who: str
    action: str
    target: str
    client: str
    via: str
    detail: str = ""


class AuditLog:
    """Append-only JSON lines; ``path`` None keeps the entries in memory."""

    def __init__(self, path: Path | None, clock: Clock = utc_now) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._memory: list[AuditEntry] = []

    def record(
        self, who: str, action: str, target: str, client: str, via: str, detail: str = ""
    ) -> AuditEntry:
        """Append one entry, stamped now."""
        entry = AuditEntry(self._clock().isoformat(), who, action, target, client, via, detail)
        with self._lock:
            if self.path is None:
                self._memory.append(entry)
                return entry
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
        return entry

    def entries(self, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest first."""
        with self._lock:
            if self.path is None:
                kept = self._memory[-limit:]
            elif not self.path.exists():
                kept = []
            else:
                lines = self.path.read_text(encoding="utf-8").splitlines()[-limit:]
                kept = [AuditEntry(**json.loads(line)) for line in lines if line.strip()]
        return kept[::-1]

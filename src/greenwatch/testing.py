"""Fakes for testing rules, receivers and profiles: a settable clock, a notifier that records,
and a store in memory.

``FakeClock`` is a callable returning the current (fake) UTC time; ``RecordingNotifier`` keeps
every notification it was given and can be told to fail; ``memory_store`` is the embedded store
with nothing on disk. Tests (and users testing their own rules) need no real mail server,
webhook, data directory or wall clock.
"""

from __future__ import annotations

import pandas as pd

from greenwatch.alerts import Notification, NotifyError
from greenwatch.store import DuckDBStore

__all__ = ["FakeClock", "RecordingNotifier", "memory_store"]


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: pd.Timestamp | str) -> None:
        now = pd.Timestamp(start)
        self.now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")

    def __call__(self) -> pd.Timestamp:
        return self.now

    def advance(self, step: pd.Timedelta | str) -> pd.Timestamp:
        self.now = self.now + pd.Timedelta(step)
        return self.now

    def set(self, when: pd.Timestamp | str) -> pd.Timestamp:
        self.now = pd.Timestamp(when).tz_convert("UTC")
        return self.now


class RecordingNotifier:
    """Records notifications; ``fail(n)`` makes the next ``n`` deliveries fail."""

    def __init__(self, name: str = "recording") -> None:
        self.name = name
        self.notifications: list[Notification] = []
        self.attempts = 0
        self._failures = 0
        self._error = "refused"

    def fail(self, times: int = 1, error: str = "refused") -> None:
        self._failures, self._error = times, error

    def notify(self, notification: Notification) -> None:
        self.attempts += 1
        if self._failures > 0:
            self._failures -= 1
            raise NotifyError(self.name, self._error)
        self.notifications.append(notification)

    def firing(self) -> list[tuple[str, str]]:
        """(alertname, site) of every alert notified as firing, in order."""
        return [
            (a.labels.get("alertname", ""), a.labels.get("site", ""))
            for n in self.notifications
            for a in n.firing
        ]

    def resolved(self) -> list[tuple[str, str]]:
        """(alertname, site) of every alert notified as resolved, in order."""
        return [
            (a.labels.get("alertname", ""), a.labels.get("site", ""))
            for n in self.notifications
            for a in n.resolved
        ]

    def clear(self) -> None:
        self.notifications.clear()


def memory_store(*batches: pd.DataFrame) -> DuckDBStore:
    """The embedded store in memory (nothing on disk), holding ``batches``; close it when done."""
    store = DuckDBStore()
    for batch in batches:
        store.write(batch)
    return store

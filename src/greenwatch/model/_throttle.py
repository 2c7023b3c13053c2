"""Failure throttling: after ``limit`` failures within ``window_s`` a key is refused for a while.

Used for API tokens (per client address) and dashboard logins (per user and per client). The
table is bounded: at most ``max_keys`` keys are remembered, the least recently failed forgotten
first, so a flood of addresses costs bounded memory (and at worst forgets an old offender).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

Seconds = Callable[[], float]  # a monotonic clock in seconds (time.monotonic)


class FailureThrottle:
    """Counts failures per key (client address, user name) over a sliding window."""

    def __init__(
        self,
        limit: int = 10,
        window_s: float = 60.0,
        max_keys: int = 10_000,
        clock: Seconds = time.monotonic,
    ) -> None:
        if limit < 1 or window_s <= 0 or max_keys < 1:
            raise ValueError("limit, window_s and max_keys must be positive")
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def retry_after(self, key: str) -> int | None:
        """Whole seconds until ``key`` may try again, or None when it is not refused."""
        with self._lock:
            times = self._failures.get(key)
            if times is None or len(times) < self.limit:
                return None
            wait = times[0] + self.window_s - self._clock()
            return max(1, math.ceil(wait)) if wait > 0 else None

    def failed(self, key: str) -> None:
        """Count one failure of ``key`` now."""
        with self._lock:
            times = self._failures.pop(key, None) or deque(maxlen=self.limit)
            times.append(self._clock())
            self._failures[key] = times  # most recent last
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        """Forget ``key``'s failures (a correct token or password)."""
        with self._lock:
            self._failures.pop(key, None)

"""Forwarding buffered batches to the central ingest API, with backoff, exactly once.

The forwarder sends the oldest buffered bodies to ``POST /api/v2/write`` (gzip, nanosecond
precision, ``Authorization: Token …``) with an ``X-Greenwatch-Batch-Id``; after an outage the
backlog goes out in requests of up to ``batch_samples`` samples. A 2xx removes them from the
buffer. A connection error, a timeout, 408, 429 or 5xx keeps it and waits, doubling
the wait from ``backoff_initial_s`` up to ``backoff_max_s`` (with ±20 % jitter) — the link or
the centre is down, and the buffer keeps filling; so does 401/403/404 (a token or URL being
fixed must not cost data). 400, 413, 415 and 422 mean the batch itself is bad and will never
be taken: it is dropped and counted (``rejected_samples``) rather than blocking everything
behind it. A retry after a lost response stores nothing twice: the server
remembers recent batch ids and its store is idempotent on (metric, labels, ts).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable

import httpx

from greenwatch.agent._buffer import DiskBuffer, Entry

log = logging.getLogger("greenwatch.agent")
# The batch itself is bad: it will never be taken. Anything else (401/403 while a token is
# being fixed, 404 while a URL is, 408, 429, 5xx) is worth waiting for.
REFUSED_STATUS = {400, 413, 415, 422}


def _joined(group: list[Entry]) -> Entry:
    """Several buffered entries as one request body (one gzip member) and one batch id."""
    text = b"\n".join(gzip.decompress(e.body) for e in group)
    batch_id = hashlib.sha256(",".join(e.batch_id for e in group).encode()).hexdigest()[:32]
    samples = sum(e.samples for e in group)
    return Entry(group[0].seq, batch_id, samples, gzip.compress(text, compresslevel=5))


class Forwarder:
    """Drains a :class:`DiskBuffer` into the central API on a background thread."""

    def __init__(
        self,
        buffer: DiskBuffer,
        url: str,
        token: str,
        *,
        client: httpx.Client | None = None,
        timeout_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 60.0,
        batch_samples: int = 50_000,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.buffer = buffer
        self.endpoint = url.rstrip("/") + "/api/v2/write"
        self._headers = {
            "Authorization": f"Token {token}",
            "Content-Encoding": "gzip",
            "Content-Type": "text/plain; charset=utf-8",
        }
        self._timeout_s = timeout_s
        self._client = client or httpx.Client(timeout=timeout_s)
        self._own_client = client is None
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.batch_samples = batch_samples
        self._singles = 0  # after a refused group: entries to try alone to find the bad one
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._thread: threading.Thread | None = None
        self.sent_batches = 0
        self.sent_samples = 0
        self.rejected_samples = 0
        self.failures = 0
        self.last_error: str | None = None

    def send(self, entry: Entry) -> bool | None:
        """Send one entry: True sent, False refused for good, None try again later."""
        try:
            answer = self._client.post(
                self.endpoint,
                params={"precision": "ns"},
                content=entry.body,
                headers={**self._headers, "X-Greenwatch-Batch-Id": entry.batch_id},
            )
        except httpx.HTTPError as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._reconnect()
            return None
        if answer.is_success:
            return True
        self.last_error = f"HTTP {answer.status_code}: {answer.text[:300]}"
        if answer.status_code in REFUSED_STATUS:
            return False
        self._reconnect()
        return None

    def _reconnect(self) -> None:
        """Drop pooled connections after a failure: the next try may reach a new server."""
        if self._own_client:
            self._client.close()
            self._client = httpx.Client(timeout=self._timeout_s)

    def drain_once(self) -> bool:
        """Try the oldest entries once; True if the buffer moved (sent or dropped).

        A backlog goes out as few requests as possible: the oldest entries up to
        ``batch_samples`` samples are joined into one body whose batch id is derived from
        theirs. If such a group is refused for good, its entries are then tried one at a
        time, so only the bad one is dropped.
        """
        group = self.buffer.oldest_group(1 if self._singles else self.batch_samples)
        if not group:
            return False
        entry = group[0] if len(group) == 1 else _joined(group)
        outcome = self.send(entry)
        if outcome is None:
            self.failures += 1
            return False
        if not outcome and len(group) > 1:
            self._singles = len(group)
            return True
        self._singles = 0 if not outcome else max(self._singles - 1, 0)
        if outcome:
            self.sent_batches += 1
            self.sent_samples += entry.samples
        else:
            self.rejected_samples += entry.samples
            log.error("central refused batch %s for good: %s", entry.batch_id, self.last_error)
        for item in group:
            self.buffer.ack(item)
        return True

    def _run(self) -> None:
        delay = self.backoff_initial_s
        while not self._stop.is_set():
            if self.buffer.oldest() is None:
                self.buffer.added.wait(0.5)
                self.buffer.added.clear()
                continue
            if self.drain_once():
                delay = self.backoff_initial_s
                continue
            log.warning("forwarding failed (%s); retrying in %.1f s", self.last_error, delay)
            self._sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.backoff_max_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="greenwatch-forward", daemon=True)
        self._thread.start()

    def stop(self, flush_s: float = 5.0) -> None:
        """Stop; then try for up to ``flush_s`` to send what is buffered (the rest stays)."""
        self._stop.set()
        self.buffer.added.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        deadline = time.monotonic() + flush_s
        while time.monotonic() < deadline and self.buffer.oldest() is not None:
            if not self.drain_once():
                break
        if self._own_client:
            self._client.close()

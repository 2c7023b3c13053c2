"""A small TTL cache in front of a store, so a page's panels share their queries.

Every panel of a page asks for the same period at once (and again on each refresh); the
dashboard floors the period's end to the refresh quantum, so identical questions have identical
keys. Concurrent callers of one key wait for the first one's answer instead of asking the store
again (single flight). A store that counts its writes (``generation``) has every key taken
under its current count, so a write makes what was read before it unreachable at once, and
what it answered is kept until then; other entries expire after ``ttl_s`` (late data may still
change a closed period in a store that does not count its writes). The cache never holds more
than ``max_entries``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import pandas as pd

from greenwatch.store import LabelFilter, Store

T = TypeVar("T")
# What greenwatch.query looks for on a store beyond the contract, where the store has it.
PASSED = frozenset(
    {
        "gaps",
        "generation",
        "keeping_since",
        "kept",
        "keep",
        "query_spans",
        "reset_hours",
        "settled_before",
    }
)
Monotonic = Callable[[], float]
# How long values computed inside :func:`kept_for` are fresh (None: the cache's TTL).
_kept_for: ContextVar[float | None] = ContextVar("kept_for", default=None)
# What the computation in progress (a TtlCache value) read from a store that does not count
# its writes: [an empty answer, an answer with samples] (see TtlCache.get).
_reads: ContextVar[list[bool] | None] = ContextVar("reads", default=None)
EMPTY, SAMPLES = 0, 1


def _note(kind: int) -> None:
    note = _reads.get()
    if note is not None:
        note[kind] = True


@contextmanager
def kept_for(seconds: float) -> Iterator[None]:
    """Values computed (or found) inside this block stay fresh ``seconds`` from when they were
    computed, instead of the cache's TTL: the first page drawn ahead on a store that does not
    count its writes is kept until the next drawing."""
    token = _kept_for.set(seconds)
    try:
        yield
    finally:
        _kept_for.reset(token)


class TtlCache:
    """Values by key for ``ttl_s`` seconds; one computation per key at a time.

    A value whose reads from a store that does not count its writes all came back empty
    (VictoriaMetrics with no data yet, or none for that question) is not kept, nor is a value
    computed from nothing else: the next caller computes it again. An empty read costs the
    engine little, and a page drawn before the first samples arrived (a new deployment, whose
    first page is drawn as the server starts) would otherwise show them missing for as long as
    the drawing is kept, ten minutes. A value that also read samples (a site's totals without
    green-energy meters) is kept as any other.
    """

    def __init__(
        self, ttl_s: float = 60.0, max_entries: int = 512, monotonic: Monotonic = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._monotonic = monotonic
        # key -> (computed at, fresh for seconds, value, whether it read samples from a store
        # that does not count its writes)
        self._entries: OrderedDict[Hashable, tuple[float, float, Any, bool]] = OrderedDict()
        self._inflight: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _fresh(self, key: Hashable, expires: bool) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None or (expires and self._monotonic() - entry[0] > entry[1]):
            return False, None
        kept = _kept_for.get()
        if kept is not None and kept > entry[1]:  # found by a drawing ahead: kept as long
            self._entries[key] = (entry[0], kept, entry[2], entry[3])
        self._entries.move_to_end(key)
        if entry[3]:
            _note(SAMPLES)  # what asks for it read samples too
        return True, entry[2]

    def peek(self, key: Hashable, *, expires: bool = True) -> tuple[bool, Any]:
        """Whether ``key`` has a fresh value, and the value (None when not), computing nothing."""
        with self._lock:
            return self._fresh(key, expires)

    def get(self, key: Hashable, compute: Callable[[], T], *, expires: bool = True) -> T:
        """The cached value of ``key``, computing it (once, whoever asks) when absent or stale;
        ``expires=False``: kept until evicted (a key that names the store's write count)."""
        with self._lock:
            found, value = self._fresh(key, expires)
            if found:
                self.hits += 1
                return value  # type: ignore[no-any-return]
            gate = self._inflight.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                found, value = self._fresh(key, expires)
                if found:
                    self.hits += 1
                    return value  # type: ignore[no-any-return]
                self.misses += 1
            note = [False, False]
            token = _reads.set(note)
            try:
                value = compute()
            finally:
                _reads.reset(token)
                with self._lock:
                    self._inflight.pop(key, None)
            if note[SAMPLES]:
                _note(SAMPLES)
            elif note[EMPTY]:  # read only empty answers: not kept, nor what it is part of
                _note(EMPTY)
                return value
            with self._lock:
                fresh_for = _kept_for.get() or self.ttl_s
                self._entries[key] = (self._monotonic(), fresh_for, value, note[SAMPLES])
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            return value


def generation_of(store: Store) -> int | None:
    """The store's write count (:attr:`greenwatch.store.DuckDBStore.generation`), None when it
    keeps none."""
    found = getattr(store, "generation", None)
    return found if isinstance(found, int) else None


def _freeze(labels: LabelFilter | None) -> Hashable:
    if not labels:
        return ()
    return tuple(sorted((k, v if isinstance(v, str) else tuple(v)) for k, v in labels.items()))


class CachingStore:
    """A read-only :class:`~greenwatch.store.Store` view that caches aggregated queries.

    Raw queries (no ``agg``) pass through: the dashboard never caches raw samples. Callers get
    a copy of the cached frame, so nothing they do changes what the next caller sees. What the
    query layer asks of a store beyond the contract (:data:`PASSED`) is the store's own, so the
    dashboard reads as the API does: the same gap rules, one raw read for every counter reset,
    the kept hourly PUE inputs, and answers kept until the store's next write.
    """

    def __init__(self, store: Store, cache: TtlCache) -> None:
        self._store = store
        self._cache = cache

    def write(self, batch: pd.DataFrame) -> int:
        return self._store.write(batch)

    def query(
        self,
        metric: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
        labels: LabelFilter | None = None,
        step: pd.Timedelta | None = None,
        agg: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        if agg is None:
            return self._store.query(metric, start, end, labels=labels, step=step)
        aggs = agg if isinstance(agg, str) else tuple(agg)

        def read() -> pd.DataFrame:
            frame = self._store.query(metric, start, end, labels=labels, step=step, agg=agg)
            if generation_of(self._store) is None:  # an engine others write to
                _note(EMPTY if frame.empty else SAMPLES)
            return frame

        return self._cached(("query", metric, start, end, _freeze(labels), step, aggs), read)

    def _cached(self, key: tuple[object, ...], read: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """A copy of what ``read`` answered for ``key``: kept until the store's next write
        where it counts its writes, else for the cache's TTL."""
        generation = generation_of(self._store)
        frame = self._cache.get((generation, *key), read, expires=generation is None)
        return frame.copy()

    def series(self, metric: str | None = None, labels: LabelFilter | None = None) -> pd.DataFrame:
        key = ("series", generation_of(self._store), metric, _freeze(labels))
        return self._cache.get(key, lambda: self._store.series(metric, labels)).copy()

    def _reset_hours(
        self,
        metric: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
        labels: LabelFilter | None = None,
    ) -> pd.DataFrame:
        """The store's ``reset_hours``, kept as aggregated queries are (each energy figure of
        a page asks it for the same period)."""
        return self._cached(
            ("reset_hours", metric, start, end, _freeze(labels)),
            lambda: self._store.reset_hours(metric, start, end, labels),  # type: ignore[attr-defined]
        )

    def __getattr__(self, name: str) -> Any:
        if name == "reset_hours" and hasattr(self._store, name):
            return self._reset_hours
        if name in PASSED:
            return getattr(self._store, name)
        raise AttributeError(name)

    def close(self) -> None:
        """Closing belongs to the owner of the underlying store, not to the dashboard."""

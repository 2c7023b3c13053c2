"""Answers kept per store until its next write.

A store that counts its writes (``generation``, bumped after every commit that stored samples,
as :class:`greenwatch.store.DuckDBStore` does) lets a read be answered again without reading:
the answer is kept under the generation it was read at, so any later write makes it unreachable.
A store without a generation is read every time, and so is every read inside
:func:`fresh_reads` (a scheduled recompute, whose windows end now and are not asked again).
Answers are DataFrames; each caller gets its own copy. Callers asking for one answer at once
(a dashboard page's panels) wait for the first one's read instead of reading it again.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pandas as pd

from greenwatch.store import LabelFilter, Store

# Answers kept per store: a dashboard page, a report and the alert evaluator each ask a few.
_SIZE = 64
_kept: weakref.WeakKeyDictionary[Any, OrderedDict[tuple[int, Hashable], pd.DataFrame]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()
# One gate per answer being read: its other callers wait for it rather than read it too.
_reading: dict[tuple[int, int, Hashable], threading.Lock] = {}
_fresh: ContextVar[bool] = ContextVar("fresh_reads", default=False)


@contextmanager
def fresh_reads() -> Iterator[None]:
    """Reads inside this block read the store and keep nothing."""
    token = _fresh.set(True)
    try:
        yield
    finally:
        _fresh.reset(token)


def label_key(labels: LabelFilter | None) -> Hashable:
    """A label filter as a hashable key."""
    if labels is None:
        return None
    return tuple(sorted((k, v if isinstance(v, str) else tuple(v)) for k, v in labels.items()))


def cached(store: Store, key: Hashable, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``compute()``, or a copy of its answer for ``key`` kept since the store's last write."""
    generation = getattr(store, "generation", None)
    if not isinstance(generation, int) or _fresh.get():
        return compute()
    full = (generation, key)
    found = _found(store, full)
    if found is not None:
        return found.copy()
    with _lock:
        gate = _reading.setdefault((id(store), *full), threading.Lock())
    with gate:
        found = _found(store, full)  # read by the caller this one waited for
        if found is not None:
            return found.copy()
        try:
            answer = compute()
        finally:
            with _lock:
                _reading.pop((id(store), *full), None)
        if getattr(store, "generation", None) != generation:
            return answer  # written to meanwhile: the answer may predate that write
        with _lock:
            answers = _kept.setdefault(store, OrderedDict())
            for old in [k for k in answers if k[0] != generation]:
                del answers[old]
            answers[full] = answer.copy()
            while len(answers) > _SIZE:
                answers.popitem(last=False)
        return answer


def _found(store: Store, full: tuple[int, Hashable]) -> pd.DataFrame | None:
    with _lock:
        answers = _kept.get(store)
        found = answers.get(full) if answers is not None else None
        if found is not None and answers is not None:
            answers.move_to_end(full)
    return found

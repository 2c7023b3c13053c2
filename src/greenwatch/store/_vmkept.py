"""Rows derived per site and hour, kept in the memory of a process that reads VictoriaMetrics.

The embedded store keeps such rows in its file (:mod:`greenwatch.store._kept`) and drops those a
write can change. A process reading VictoriaMetrics does not see the writes of the ingest
replicas; what it sees are the late-data markers they write with every sample older than
``LATE`` (:mod:`greenwatch.store._vmrollup`), stamped with the time of the write and naming the
oldest sample's time. So each row kept here carries ``read_at``, the time the read it was
derived from began, and a row of hour ``H`` is taken only while no marker written at
``read_at − skew`` or later reaches ``H`` (the first hour the marked sample may change, or any
later one). Samples that arrive on time change only hours that the layer above does not keep
yet (it keeps an hour once it ended longer ago than a sample's reach). Markers are read over the
last ``STATE_LOOKBACK``, so a row read longer ago than that, less the skew, is dropped and
derived again.

A marker names the metric, not the site: any marker reaching an hour drops that hour's rows of
every site. Rows are a cache: losing them (a restart) loses nothing; the layer above derives them
again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pandas as pd

from greenwatch.store._vmrollup import STATE_LOOKBACK

READ_AT = "read_at"


class KeptInMemory:
    """Rows by name, under the signature they were kept with (another signature replaces
    them), each with the time its read began."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[str, pd.DataFrame]] = {}
        self._lock = threading.Lock()

    def keep(self, name: str, signature: str, frame: pd.DataFrame, read_at: int) -> None:
        """Keep ``frame`` (columns ``site``, ``bucket`` in ns and the caller's), read from
        ``read_at`` (ns) on, replacing rows of the same site and bucket."""
        if list(frame.columns[:2]) != ["site", "bucket"]:
            raise ValueError("kept rows start with the columns site and bucket")
        new = frame.assign(site=frame["site"].astype(str), **{READ_AT: read_at})
        with self._lock:
            held = self._rows.get(name)
            if (
                held is not None
                and held[0] == signature
                and list(held[1].columns) == list(new.columns)
            ):
                new = pd.concat([held[1], new], ignore_index=True)
                new = new.drop_duplicates(["site", "bucket"], keep="last", ignore_index=True)
            self._rows[name] = (signature, new)

    def kept(
        self,
        name: str,
        signature: str,
        sites: Sequence[str],
        lo: int,
        hi: int,
        late: Sequence[tuple[int, int]],
        now: int,
        skew: int,
    ) -> pd.DataFrame | None:
        """Rows of ``sites`` with ``lo <= bucket < hi`` (ns) that no late write has touched
        since they were read; None when nothing is kept under ``name`` and ``signature``.
        ``late``: (written at, first hour touched) of the markers of the last
        ``STATE_LOOKBACK`` before ``now`` (all ns). Rows found stale are dropped."""
        with self._lock:
            held = self._rows.get(name)
            if held is None or held[0] != signature:
                return None
            rows = held[1]
            fresh = _untouched(rows, late, now, skew)
            if not fresh.all():
                rows = rows[fresh].reset_index(drop=True)
                self._rows[name] = (signature, rows)
        bucket = rows["bucket"].to_numpy(dtype="int64")
        chosen = (bucket >= lo) & (bucket < hi) & rows["site"].isin(list(sites)).to_numpy()
        return rows[chosen].drop(columns=READ_AT).reset_index(drop=True)


def _untouched(
    rows: pd.DataFrame, late: Sequence[tuple[int, int]], now: int, skew: int
) -> np.ndarray:
    """Which rows no marker reaches: none written since the row's read began (less the skew)
    names a first hour at or before the row's; rows read before the markers seen are dropped."""
    read_at = rows[READ_AT].to_numpy(dtype="int64")
    bucket = rows["bucket"].to_numpy(dtype="int64")
    stamps, which = np.unique(read_at, return_inverse=True)  # a few: one per keep
    written = np.array([w for w, _ in late], dtype="int64")
    first = np.array([f for _, f in late], dtype="int64")
    reached = np.array(
        [first[written >= s - skew].min(initial=np.iinfo("int64").max) for s in stamps],
        dtype="int64",
    )
    ok = (read_at - skew >= now - STATE_LOOKBACK) & (bucket < reached[which])
    return np.asarray(ok)

"""Writing simulated blocks straight into the arrays of one batch.

A 30-day national backfill is about 50 million samples; the cost there is memory traffic, not
arithmetic. The batch's columns are allocated once and every block is written into its slice
(time-major: all series of a timestamp, then the next), label columns as int8/int16
Categorical codes, ``ts`` as int64 wrapped without a copy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from greenwatch.simulate._catalogue import Catalogue
from greenwatch.simulate._random import F64, I64

TS_DTYPE = pd.DatetimeTZDtype(tz="UTC")


class BatchWriter:
    """Preallocated columns of a batch of ``total`` samples, filled block by block."""

    def __init__(self, cat: Catalogue, total: int) -> None:
        self._cat = cat
        self._ts = np.empty(total, dtype=np.int64)
        self._value = np.empty(total, dtype=np.float64)
        self._codes = {name: np.empty(total, dtype=c.dtype) for name, c in cat.codes.items()}
        self._offset = 0

    def write(self, ts: I64, values: F64, emit: NDArray[np.bool_]) -> None:
        """Append a block: ``values`` and ``emit`` are (series, times), ``emit`` False where a
        sample is missing."""
        n_series, n_times = values.shape
        start = self._offset
        if emit.all():
            stop = start + n_series * n_times
            self._ts[start:stop].reshape(n_times, n_series)[:] = ts.reshape(-1, 1)
            self._value[start:stop].reshape(n_times, n_series)[:] = values.T
            for name, codes in self._cat.codes.items():
                self._codes[name][start:stop].reshape(n_times, n_series)[:] = codes
        else:
            keep = np.flatnonzero(emit.T.ravel())
            stop = start + len(keep)
            series, times = keep % n_series, keep // n_series
            self._ts[start:stop] = ts[times]
            self._value[start:stop] = values.T.ravel()[keep]
            for name, codes in self._cat.codes.items():
                np.take(codes, series, out=self._codes[name][start:stop])
        self._offset = stop

    def frame(self) -> pd.DataFrame:
        """The batch: ts, metric, value, site, then the other labels (sorted)."""
        size = self._offset
        columns: dict[str, object] = {
            # An int64 array with a tz-aware dtype is taken as UTC epoch ns, without a copy.
            "ts": pd.DatetimeIndex(self._ts[:size], dtype=TS_DTYPE, copy=False),
        }
        for name, codes in self._codes.items():
            columns[name] = pd.Categorical.from_codes(
                codes[:size], categories=pd.Index(self._cat.categories[name]), validate=False
            )
            if name == "metric":
                columns["value"] = self._value[:size]
        return pd.DataFrame(columns, copy=False)

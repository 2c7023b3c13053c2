"""Counters integrated from rates, carried across calls, with resets.

A counter at sample k is its value at k-1 plus the trapezoid of the rate over (t[k-1], t[k]].
The state between calls is the last time, the last rate and the last value of every counter,
and accumulation is a strict left fold (``np.add.accumulate`` never regroups additions), so a
period cut into any number of calls gives bitwise the same values as one call.

A reset at time r in (t[k-1], t[k]] makes the counter at k the energy since r (rate x elapsed)
and the fold goes on from there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from greenwatch.simulate._climate import DAY_NS
from greenwatch.simulate._random import F64, I64, U64, hash_index, mix64, uniform

_RESETS_PER_DAY = 1.0 / 30.0  # a flaky meter resets about once a month


@dataclass
class CounterState:
    """Where the counters stand after the last emitted sample."""

    value: F64
    rate: F64
    last_ns: int | None = None


@dataclass(frozen=True)
class Reset:
    """Counter ``counter`` (index among counters) restarts from zero at ``at_ns``."""

    counter: int
    at_ns: int


def scheduled_resets(keys: U64, flaky: NDArray[np.intp], prev_ns: int, last_ns: int) -> list[Reset]:
    """Random meter resets of the flaky counters in (prev_ns, last_ns], drawn per day."""
    if len(flaky) == 0:
        return []
    days = np.arange(prev_ns // DAY_NS, last_ns // DAY_NS + 1, dtype=np.int64)
    h = hash_index(keys[flaky].reshape(-1, 1), days.reshape(1, -1))
    hit = uniform(h) < _RESETS_PER_DAY
    at = days.reshape(1, -1) * DAY_NS + (uniform(mix64(h)) * 86_400).astype(np.int64) * 10**9
    out = []
    for row, col in zip(*np.nonzero(hit & (at > prev_ns) & (at <= last_ns)), strict=True):
        out.append(Reset(int(flaky[row]), int(at[row, col])))
    return out


def integrate(state: CounterState, ts_ns: I64, rates: F64, resets: list[Reset]) -> F64:
    """Counter values (n_counters, T) at ``ts_ns`` from ``rates`` (per second); advances
    ``state``. ``resets`` must lie in (state.last_ns, ts_ns[-1]]."""
    n, t = rates.shape
    if state.last_ns is None:
        prev_rate, first_dt = rates[:, 0], 0.0
    else:
        prev_rate, first_dt = state.rate, (int(ts_ns[0]) - state.last_ns) / 1e9
    dt = np.empty(t, dtype=np.float64)
    dt[0] = first_dt
    dt[1:] = np.diff(ts_ns) / 1e9
    acc = np.empty((n, t + 1), dtype=np.float64)
    acc[:, 0] = state.value
    acc[:, 1] = (prev_rate + rates[:, 0]) * 0.5 * dt[0]
    acc[:, 2:] = (rates[:, :-1] + rates[:, 1:]) * 0.5 * dt[1:]
    increments = acc[:, 1:].copy() if resets else acc[:, 1:]
    np.add.accumulate(acc, axis=1, out=acc)
    values = acc[:, 1:]
    for reset in sorted(resets, key=lambda r: r.at_ns):
        k = int(np.searchsorted(ts_ns, reset.at_ns, side="left"))
        c = reset.counter
        tail = increments[c, k:].copy()
        tail[0] = rates[c, k] * ((int(ts_ns[k]) - reset.at_ns) / 1e9)
        values[c, k:] = np.add.accumulate(tail)
    state.value = values[:, -1].copy()
    state.rate = rates[:, -1].copy()
    state.last_ns = int(ts_ns[-1])
    return values

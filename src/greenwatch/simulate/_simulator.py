"""The simulator: advances the national network through time, one canonical batch per call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from greenwatch.inventory import Inventory
from greenwatch.simulate._catalogue import Catalogue, build_catalogue
from greenwatch.simulate._counters import CounterState, Reset, integrate, scheduled_resets
from greenwatch.simulate._links import LinkParams, link_params, link_quantities
from greenwatch.simulate._output import BatchWriter
from greenwatch.simulate._random import F64, I64, hash_index, normal
from greenwatch.simulate._scenario import Scenario, check_scenarios
from greenwatch.simulate._sites import SiteParams, site_params, site_quantities

# Samples generated per internal block: bounds working memory, keeps matrices cache-friendly.
_BLOCK_SAMPLES = 1 << 21
_MINUTE = pd.Timedelta(minutes=1)


def _utc(value: pd.Timestamp, what: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(f"{what} must be a tz-aware timestamp, got {value!r}")
    return ts.tz_convert("UTC")


@dataclass(frozen=True)
class _Effects:
    """What the scenarios do to one block: chiller-failure cells (sites, times) and seconds
    since each failure began, link-down cells (links, times), emitted samples (series, times)."""

    failure: NDArray[np.bool_]
    failure_s: F64
    down: NDArray[np.bool_]
    emit: NDArray[np.bool_]
    loss: NDArray[np.bool_]  # device-loss cells (sites, times)


class Simulator:
    """Deterministic simulator of a network of computing centres and their links.

    Every random number is a function of ``seed``, the series and the sample time, and counters
    carry their state between calls, so :meth:`advance` over a period gives bitwise the same
    batch whether called once or in any number of pieces (with the same step).
    """

    def __init__(
        self,
        inventory: Inventory,
        *,
        seed: int = 0,
        start: pd.Timestamp,
        scenarios: Sequence[Scenario] = (),
    ) -> None:
        self._scenarios = tuple(scenarios)
        check_scenarios(inventory, self._scenarios)
        self._cursor_ns = int(_utc(start, "start").value)
        self._sites: SiteParams = site_params(inventory, seed)
        self._links: LinkParams = link_params(inventory, self._sites, seed)
        self._cat: Catalogue = build_catalogue(self._sites, self._links, seed)
        self._site_index = {sid: i for i, sid in enumerate(self._sites.ids)}
        self._link_index = {lid: j for j, lid in enumerate(self._links.ids)}
        self._state = CounterState(
            value=self._cat.offsets.copy(), rate=np.zeros(len(self._cat.counters))
        )

    @property
    def cursor(self) -> pd.Timestamp:
        """Time up to which the simulation has advanced (the next sample is at this time)."""
        return pd.Timestamp(self._cursor_ns, unit="ns", tz="UTC")

    def series_count(self) -> int:
        """Number of series the simulator emits (before gaps from scenarios)."""
        return self._cat.n

    def series_names(self) -> tuple[str, ...]:
        """Each series as ``metric{label="value",...}`` (labels sorted), in emission order."""
        return self._cat.names

    def advance(self, until: pd.Timestamp, step: pd.Timedelta = _MINUTE) -> pd.DataFrame:
        """Samples at ``cursor, cursor + step, ...`` before ``until`` (half-open), as one batch
        ordered by time, then series; the cursor moves to the first time not emitted.

        Label columns are pandas Categoricals (a missing label is NaN); ``ts`` is
        ``datetime64[ns, UTC]``; ``value`` float64 in base units.
        """
        end = int(_utc(until, "until").value)
        step_ns = int(pd.Timedelta(step).value)
        if step_ns <= 0:
            raise ValueError(f"step must be positive, got {step!r}")
        n = max(0, -(-(end - self._cursor_ns) // step_ns))
        ts_all = self._cursor_ns + step_ns * np.arange(n, dtype=np.int64)
        per_block = max(1, _BLOCK_SAMPLES // max(1, self._cat.n))
        blocks = [ts_all[i : i + per_block] for i in range(0, n, per_block)]
        effects = [self._effects(ts) for ts in blocks]
        out = BatchWriter(self._cat, sum(int(e.emit.sum()) for e in effects))
        for ts, eff in zip(blocks, effects, strict=True):
            values = self._values(ts, eff)
            counters = self._cat.counters
            values[counters] = integrate(self._state, ts, values[counters], self._resets(ts))
            out.write(ts, values, eff.emit)
        self._cursor_ns += n * step_ns
        return out.frame()

    def _resets(self, ts: I64) -> list[Reset]:
        prev = self._state.last_ns if self._state.last_ns is not None else int(ts[0]) - 1
        last = int(ts[-1])
        resets = scheduled_resets(self._cat.keys[self._cat.counters], self._cat.flaky, prev, last)
        site_of_counter = self._cat.site[self._cat.counters]
        for sc in self._scenarios:
            at = int(sc.start.value)
            if sc.kind != "counter_reset" or not prev < at <= last:
                continue
            mine = (site_of_counter == self._site_index[sc.target]) & self._cat.joule_counter
            resets.extend(Reset(int(c), at) for c in np.flatnonzero(mine))
        return resets

    def _effects(self, ts: I64) -> _Effects:
        failure = np.zeros((self._sites.n, len(ts)), dtype=bool)
        age = np.zeros(failure.shape)
        down = np.zeros((self._links.n, len(ts)), dtype=bool)
        emit = np.ones((self._cat.n, len(ts)), dtype=bool)
        loss = np.zeros_like(failure)
        for sc in self._scenarios:
            win = sc.window(ts)
            if not win.any():
                continue
            if sc.kind == "chiller_failure":
                i = self._site_index[sc.target]
                failure[i] |= win
                age[i] = np.where(win, (ts - sc.start.value) / 1e9, age[i])
            elif sc.kind == "device_loss":
                loss[self._site_index[sc.target]] |= win
            elif sc.kind == "meter_dropout":
                rows = self._cat.facility_meter & (self._cat.site == self._site_index[sc.target])
                emit[np.ix_(rows, win)] = False
            elif sc.kind == "collector_down":
                rows = self._cat.site == self._site_index[sc.target]
                emit[np.ix_(rows, win)] = False
            elif sc.kind in ("link_down", "link_flap"):
                j = self._link_index[sc.target]
                if sc.kind == "link_flap":
                    # Down first, then up, alternating every period (2-5 min) of this link.
                    period = int(self._links.flap_period_ns[j])
                    win &= (ts - sc.start.value) // period % 2 == 0
                down[j] |= win
                # A probe that gets no answer measures no round trip.
                emit[np.ix_((self._cat.link == j) & self._cat.latency, win)] = False
        return _Effects(failure, age, down, emit, loss)

    def _values(self, ts: I64, effects: _Effects) -> F64:
        """Gauge values and counter rates (series, times), gauges with meter noise."""
        cat = self._cat
        quantities = {
            "site": site_quantities(
                self._sites, ts, effects.failure, effects.failure_s, effects.loss
            ),
            "link": link_quantities(self._links, ts, effects.down),
        }
        values = np.empty((cat.n, len(ts)), dtype=np.float64)
        for g in cat.groups:
            values[g.positions] = quantities[g.domain][g.quantity][g.entities]
        for pos, spans in cat.devices.items():
            count = sum(n * ((ts >= lo) & (ts < hi)) for n, lo, hi in spans)
            values[pos] = np.floor(values[pos] * count)
        if len(cat.noisy):
            noise = normal(hash_index(cat.keys[cat.noisy].reshape(-1, 1), ts))
            rows = values[cat.noisy]
            rows = rows * (1.0 + cat.rel_noise.reshape(-1, 1) * noise)
            values[cat.noisy] = rows + cat.abs_noise.reshape(-1, 1) * noise
        np.clip(values, cat.lo.reshape(-1, 1), cat.hi.reshape(-1, 1), out=values)
        return values

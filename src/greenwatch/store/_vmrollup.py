"""Hourly summaries of every series kept *in* VictoriaMetrics, so whole hours are never read raw.

**What is kept.** For each raw series ``m{labels}`` and settled hour ``H``, the hourly summary the
embedded store keeps in its ``rollup_1h`` table — the same SQL (``store/_sql.py``): count, sum,
min, max, first and last (time and value), greenwatch's reset-aware counter increase, the power
integral, the covered seconds and the counter resets — as one sample per column of the series
``m:1h_<column>{labels}`` (times as milliseconds; an empty column is not written). The sample's
timestamp is ``H`` plus the *revision*: the minutes since ``H`` when it was computed, so a
recomputed hour supersedes the older one (readers take the latest revision in the hour) and no
two revisions of an hour share a timestamp (the roller runs at most once a minute).

**Which hours.** The roller (:class:`Roller`: ``greenwatch rollup``, or the jobs role of
``serve``) keeps ``greenwatch_rollup_from`` and ``greenwatch_rollup_until`` per shard: every
hour in ``[from, until)`` is summarised for the shard's series. An hour is summarised once it
has *settled*: it ended more than the counter look-back, the longest gap and a quarter of an
hour before now, so no sample still to come at live latency changes it.

An hour settles sooner when the series have *reported past it*: the roller asks the engine for
the earliest last sample, over every series that has one in the look-back before its horizon
(``now − LATE − skew``); the hours before it settle. A sample still to come pairs with its
series' last stored one, which is then after the hour (it reported past it) or more than the
look-back before the new sample (the pair bridges nothing); an older sample is late data (below).
So on a live network an hour settles about ``LATE + skew`` after it ends, and a series that fell
silent holds the hours back from its last sample on, for at most the look-back.

**Late data.** A write with samples older than ``LATE`` (a replayed agent buffer, a backfill)
adds, in the same import request, a marker ``greenwatch_rollup_dirty{metric=…,writer=…}`` whose
value is the oldest such sample's time (seconds). The roller recomputes the metric's hours from
there (less the look-back) up to ``until``; until it has, readers treat those hours as not
summarised and read them raw. So a reader never takes a summary that a stored sample
contradicts.

Readers (:func:`rolled_hours`) take summaries for the hours in ``[max from, min until)`` of the
shards, less the hours pending after late data, and compute the rest from raw samples.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from greenwatch.model import metric_spec
from greenwatch.store._duckdb import HOUR
from greenwatch.store._sql import ROLLUP_COLUMNS

log = logging.getLogger("greenwatch.rollup")
MINUTE = 60_000_000_000
MS = 1_000_000
FROM, UNTIL, DIRTY = "greenwatch_rollup_from", "greenwatch_rollup_until", "greenwatch_rollup_dirty"
LATE = 10 * MINUTE  # samples older than this at write time may change a summarised hour
SKEW = 5 * MINUTE  # clocks of writers and roller may differ this much; markers re-read this long
TIME_COLUMNS = ("first_t", "last_t", "reset_start", "reset_end")  # kept as milliseconds
SITES_PER_READ = 50  # raw series read per request: one metric of this many sites
STATE_LOOKBACK = 2 * 24 * HOUR  # how far back readers look for the roller's state and markers


def summary_name(metric: str, column: str) -> str:
    """The series name of one summary column of ``metric``."""
    return f"{metric}:1h_{column}"


def summary_match(metric: str, columns: Sequence[str] = ROLLUP_COLUMNS) -> str:
    """A name regex matching the summary ``columns`` of ``metric``."""
    return f"{metric}:1h_({'|'.join(columns)})"


def reach(lookback: int, max_gap: int) -> int:
    """How far a sample's effect on summaries reaches (ns): the look-back and the longest gap."""
    return lookback + max_gap


def first_touched(oldest: int, lookback: int, max_gap: int) -> int:
    """The first hour (ns) whose summary a sample at ``oldest`` may change."""
    return (oldest - reach(lookback, max_gap)) // HOUR * HOUR


def settled_until(now: int, lookback: int, max_gap: int) -> int:
    """The end of the last hour that has settled at ``now`` whatever the series did (all ns)."""
    return (now - reach(lookback, max_gap) - 15 * MINUTE) // HOUR * HOUR


def reported_until(horizon: int, oldest_last: int | None) -> int:
    """The end of the last hour every series has reported past (all ns): ``oldest_last`` is the
    earliest, over the series with a sample in the look-back before ``horizon``, of their last
    sample up to ``horizon`` (None: no such series)."""
    last = horizon if oldest_last is None else min(horizon, oldest_last)
    return last // HOUR * HOUR


@dataclass(frozen=True)
class Shard:
    """The series ``index`` of ``count`` one roller summarises (by a stable hash of labels)."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``i/n`` with ``0 <= i < n``."""
        index, _, count = text.partition("/")
        try:
            shard = cls(int(index), int(count))
        except ValueError:
            raise ValueError(f"{text!r} is not i/n (e.g. 0/2)") from None
        if not 0 <= shard.index < shard.count:
            raise ValueError(f"{text!r}: i must be at least 0 and less than n")
        return shard

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    def mine(self, keys: pd.Series) -> np.ndarray:
        """Which series keys (labels as JSON) belong to this shard."""
        if self.count == 1:
            return np.ones(len(keys), dtype=bool)
        hashes = np.fromiter((zlib.crc32(k.encode()) for k in keys), dtype="int64", count=len(keys))
        return np.asarray(hashes % self.count == self.index)


@dataclass(frozen=True)
class RolledHours:
    """What readers may take from summaries: hours in ``[start, until)`` (ns), except, per
    metric, those from ``dirty[metric]`` on (hours a late write may have changed)."""

    start: int
    until: int
    dirty: dict[str, int]

    def span(self, metric: str) -> tuple[int, int]:
        """The summarised hours of ``metric``: ``[start, end)``, empty when ``end <= start``."""
        end = min(self.until, self.dirty.get(metric, self.until))
        return self.start, end


NOTHING_ROLLED = RolledHours(0, 0, {})


def state_from_export(
    lines: Sequence[dict[str, object]], lookback: int, max_gap: int, skew: int = SKEW
) -> RolledHours:
    """:class:`RolledHours` from exported state and marker series (``/api/v1/export`` items);
    markers written from ``skew`` before the roller's last run on may not be handled yet."""
    starts: list[int] = []
    untils: list[int] = []
    ran: list[int] = []
    markers: list[dict[str, object]] = []
    for item in lines:
        labels = item["metric"]
        assert isinstance(labels, dict)
        values, stamps = item["values"], item["timestamps"]
        assert isinstance(values, list)
        assert isinstance(stamps, list)
        if not values:
            continue
        name = labels.get("__name__")
        if name == FROM:
            starts.append(_ns(values[-1]))
        elif name == UNTIL:
            untils.append(_ns(values[-1]))
            ran.append(int(stamps[-1]) * MS)
        elif name == DIRTY:
            markers.append(item)
    if not untils or len(starts) != len(untils):
        return NOTHING_ROLLED
    pending = _marked_since(markers, min(ran) - skew)
    dirty = {m: first_touched(t, lookback, max_gap) for m, t in oldest_marked(pending).items()}
    return RolledHours(max(starts), min(untils), dirty)


def _marked_since(markers: Sequence[dict[str, object]], since: int) -> list[dict[str, object]]:
    """The marker series' samples written at ``since`` (ns) or later; series left empty are
    dropped."""
    out = []
    for item in markers:
        stamps, values = item["timestamps"], item["values"]
        assert isinstance(stamps, list)
        assert isinstance(values, list)
        kept = [v for t, v in zip(stamps, values, strict=True) if int(t) * MS >= since]
        if kept:
            out.append({**item, "values": kept})
    return out


def _ns(seconds: object) -> int:
    """Whole seconds (as the state and marker series hold them) in ns."""
    return round(float(seconds)) * 1_000_000_000  # type: ignore[arg-type]


def oldest_marked(items: Sequence[dict[str, object]]) -> dict[str, int]:
    """The oldest sample time (ns) each exported dirty marker series names, per metric."""
    oldest: dict[str, int] = {}
    for item in items:
        labels, values = item["metric"], item["values"]
        assert isinstance(labels, dict)
        assert isinstance(values, list)
        metric = str(labels.get("metric"))
        first = min(_ns(v) for v in values)
        oldest[metric] = min(oldest.get(metric, first), first)
    return oldest


def late_writes(
    items: Sequence[dict[str, object]], lookback: int, max_gap: int
) -> list[tuple[int, int]]:
    """Each sample of exported dirty marker series as (written at, first hour the marked
    sample may change), ns."""
    out = []
    for item in items:
        stamps, values = item["timestamps"], item["values"]
        assert isinstance(stamps, list)
        assert isinstance(values, list)
        for t, v in zip(stamps, values, strict=True):
            out.append((int(t) * MS, first_touched(_ns(v), lookback, max_gap)))
    return out


def dirty_markers(batch: pd.DataFrame, now: int, writer: str) -> list[str]:
    """Import lines marking the metrics of ``batch`` with samples older than ``LATE``."""
    ts = batch["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    late = ts < now - LATE
    if not late.any():
        return []
    oldest = pd.Series(ts[late]).groupby(batch["metric"].to_numpy()[late]).min()
    return [
        json.dumps(
            {
                "metric": {"__name__": DIRTY, "metric": str(metric), "writer": writer},
                "values": [int(t) // 1_000_000_000],
                "timestamps": [now // MS],
            },
            separators=(",", ":"),
        )
        for metric, t in oldest.items()
    ]


def summary_lines(rows: pd.DataFrame, keys: np.ndarray, metric: str, now: int) -> Iterator[str]:
    """Import lines of hourly summary rows (``series_id``, ``bucket`` and the roll-up
    columns), one per series and column; ``keys[series_id]`` is the series' labels as JSON."""
    stamps_ns = rows["bucket"].to_numpy(dtype="int64")
    revision = np.minimum((now - stamps_ns) // MINUTE, HOUR // MS - 1)
    stamps = (stamps_ns // MS + revision).astype("int64")
    ids = rows["series_id"].to_numpy()
    order = np.argsort(ids, kind="stable")
    bounds = np.flatnonzero(np.diff(ids[order])) + 1
    for part in np.split(order, bounds):
        if not len(part):
            continue
        labels = json.loads(keys[ids[part[0]]])
        for column in ROLLUP_COLUMNS:
            values = rows[column].to_numpy(dtype="float64")[part]
            if column in TIME_COLUMNS:
                values = np.floor(values / MS)
            present = np.isfinite(values)
            if not present.any():
                continue
            item = {
                "metric": {"__name__": summary_name(metric, column), **labels},
                "values": values[present].tolist(),
                "timestamps": stamps[part][present].tolist(),
            }
            yield json.dumps(item, separators=(",", ":"))


def summary_rows(lines: Sequence[dict[str, object]], metric: str) -> pd.DataFrame:
    """Exported summary series back into rows: ``key``, ``bucket`` (ns) and the roll-up
    columns (NaN where not written or not exported), the latest revision of each hour."""
    prefix = len(summary_name(metric, ""))
    position = {c: i for i, c in enumerate(ROLLUP_COLUMNS)}
    names: dict[str, int] = {}
    seen: dict[tuple[tuple[str, str], ...], int] = {}  # one JSON text per series, not per column
    key_ids, column_ids, stamp_parts, value_parts = [], [], [], []
    for item in lines:
        labels = dict(item["metric"])  # type: ignore[call-overload]
        column = position[str(labels.pop("__name__"))[prefix:]]
        shape = tuple(sorted(labels.items()))
        key = seen.get(shape)
        if key is None:
            key = seen[shape] = names.setdefault(json.dumps(labels, sort_keys=True), len(names))
        stamps = np.asarray(item["timestamps"], dtype="int64") * MS
        values = np.asarray(item["values"], dtype="float64")
        if ROLLUP_COLUMNS[column] in TIME_COLUMNS:
            values = values * MS
        key_ids.append(np.full(len(stamps), key, dtype="int64"))
        column_ids.append(np.full(len(stamps), column, dtype="int64"))
        stamp_parts.append(stamps)
        value_parts.append(values)
    if not names:
        return pd.DataFrame(columns=["key", "bucket", *ROLLUP_COLUMNS])
    keys, columns = np.concatenate(key_ids), np.concatenate(column_ids)
    stamps, values = np.concatenate(stamp_parts), np.concatenate(value_parts)
    hours = stamps // HOUR
    first = int(hours.min())
    span = int(hours.max()) - first + 1
    codes, uniques = pd.factorize(keys * span + (hours - first))  # one int per (key, hour)
    latest = pd.Series(stamps).groupby(codes).transform("max").to_numpy()
    keep = stamps == latest
    table = np.full((len(uniques), len(ROLLUP_COLUMNS)), np.nan)
    table[codes[keep], columns[keep]] = values[keep]
    key_names = np.asarray(list(names), dtype=object)
    frame = pd.DataFrame(table, columns=list(ROLLUP_COLUMNS))
    frame.insert(0, "bucket", (uniques % span + first) * HOUR)
    frame.insert(0, "key", key_names[uniques // span])
    return frame


def canonical(names: Sequence[str]) -> list[str]:
    """The raw metrics among series names (no summaries, no roller state)."""
    return sorted(n for n in names if ":" not in n and metric_spec(n) is not None)


@dataclass
class Roller:
    """Summarises settled hours of one shard's series; see the module.

    ``read_state`` gives the shard's ``(from, until, last run)`` (ns; None before the first
    run); ``summarise(metric, sites, lo, hi)`` the hourly summary rows and keys of the shard's
    series; ``send`` stores import lines; ``names`` and ``sites`` list what is stored;
    ``markers(since)`` the dirty markers written since then (metric → oldest ns);
    ``last_seen(horizon)`` the earliest last sample up to ``horizon`` of the series with one in
    the look-back before it (ns; None when there is none).
    """

    shard: Shard
    read_state: Callable[[], tuple[int, int, int] | None]
    summarise: Callable[[str, list[str], int, int], tuple[pd.DataFrame, np.ndarray]]
    send: Callable[[list[str]], None]
    names: Callable[[], list[str]]
    sites: Callable[[], list[str]]
    markers: Callable[[int], dict[str, int]]
    last_seen: Callable[[int], int | None]
    lookback: int
    max_gap: int
    chunk_hours: int = 24
    skew: int = SKEW

    def run(self, now: int, since: int) -> tuple[int, int]:
        """One pass at ``now``: redo hours late writes touched, then summarise the hours that
        settled (from ``since`` on a first run, or an earlier ``since`` than before).
        Returns (hours summarised, summary samples written)."""
        state = self.read_state()
        since = since // HOUR * HOUR
        start, done, last_run = state if state is not None else (since, since, now)
        until = settled_until(now, self.lookback, self.max_gap)
        horizon = now - LATE - self.skew
        if horizon // HOUR * HOUR > max(done, until):  # an hour to gain: ask the engine
            until = max(until, reported_until(horizon, self.last_seen(horizon)))
        todo: list[tuple[str | None, int, int]] = []
        if since < start:
            todo.append((None, since, start))
            start = since
        for metric, oldest in self.markers(last_run - self.skew).items():
            first = max(start, first_touched(oldest, self.lookback, self.max_gap))
            if first < done:
                todo.append((metric, first, done))
        if until > done:
            todo.append((None, done, until))
        hours = written = 0
        sites = self.sites() if todo else []
        for only, lo, hi in todo:
            hours += (hi - lo) // HOUR
            written += self._summarise(only, sites, lo, hi, now)
        self._save(start, max(done, until), now)
        return hours, written

    def _summarise(self, only: str | None, sites: list[str], lo: int, hi: int, now: int) -> int:
        metrics = [only] if only else canonical(self.names())
        written = 0
        step = self.chunk_hours * HOUR
        for metric in metrics:
            for a in range(lo, hi, step):
                b = min(hi, a + step)
                for i in range(0, len(sites), SITES_PER_READ):
                    rows, keys = self.summarise(metric, sites[i : i + SITES_PER_READ], a, b)
                    lines = [] if rows.empty else list(summary_lines(rows, keys, metric, now))
                    if lines:
                        self.send(lines)
                        written += len(rows)
        log.info(
            "rollup %s: %s hours from %s",
            self.shard.label,
            (hi - lo) // HOUR,
            pd.Timestamp(lo, tz="UTC"),
        )
        return written

    def _save(self, start: int, until: int, now: int) -> None:
        labels = {"shard": self.shard.label}
        self.send(
            [
                json.dumps(
                    {
                        "metric": {"__name__": name, **labels},
                        "values": [value // 1_000_000_000],
                        "timestamps": [now // MS],
                    },
                    separators=(",", ":"),
                )
                for name, value in ((FROM, start), (UNTIL, until))
            ]
        )

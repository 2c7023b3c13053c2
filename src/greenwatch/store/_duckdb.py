"""The embedded store: one DuckDB file, raw samples plus hourly and daily roll-ups.

Raw samples live in ``samples(series_id, t, value)`` (t = ns since epoch, UTC); series labels in
``series``. Writes are idempotent on (series, t): a batch is de-duplicated in itself and
anti-joined against what is stored. After each write the roll-ups are brought up to date: a
series whose new samples all follow its last stored one (live data) has what they add merged
into the hourly and daily rows they touch; for any other the touched hours are recomputed from
raw samples (one hour of margin each side, for pairs that cross an hour), then the touched
days from the hourly rows. Queries whose grid aligns with hours or days read the roll-ups;
others aggregate raw samples in SQL. One writer at a time (a lock); readers use their own
cursors and may run concurrently.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from greenwatch.model import label_columns, validate_batch
from greenwatch.store._base import (
    Gaps,
    LabelFilter,
    StoreError,
    check_range,
    match_labels,
    normalise_aggs,
)
from greenwatch.store._kept import forget_before, forget_written, keep_rows, kept_tables, read_kept
from greenwatch.store._names import parse_size
from greenwatch.store._retention import (
    Retention,
    RetentionOutcome,
    apply_retention,
    raw_kept_from,
)
from greenwatch.store._schema import (
    StoreUnavailableError,
    connect,
    full_check,
    prepare,
    schema_version,
    transaction_with,
)
from greenwatch.store._sql import (
    ROLLUP_COLUMNS,
    SUMMARY_COLUMNS,
    appended_summary_sql,
    regroup_sql,
    rollup_sql,
    summary_sql,
)

HOUR = 3_600_000_000_000
DAY = 24 * HOUR
HOUR_STEP = pd.Timedelta(hours=1)


def _ns(ts: pd.Timestamp) -> int:
    return int(ts.tz_convert("UTC").value)


_DEDUPED = "SELECT series_id, t, first(value) AS value FROM _batch GROUP BY series_id, t"
# Raw samples of the series in _q_ids, and the last one of each (ties in time by series).
_RAW_SQL = """SELECT series_id, t, value FROM samples
WHERE series_id IN (SELECT id FROM _q_ids) AND t >= $lo AND t < $hi ORDER BY series_id, t"""
_LATEST_SQL = """SELECT series_id, max(t) AS t, arg_max(value, t) AS value FROM samples
WHERE series_id IN (SELECT id FROM _q_ids) AND t >= $lo AND t < $hi
GROUP BY series_id ORDER BY t, series_id"""


def _key(metric: str, pairs: Sequence[tuple[str, str]]) -> str:
    """A series key: JSON ``[metric, [[label, value], …]]``. JSON escapes every control
    character and quote, so no label value can end its pair and forge another label."""
    return json.dumps([metric, pairs], ensure_ascii=False, separators=(",", ":"))


def _series_key(record: tuple[object, ...], labels: list[str]) -> str:
    """Canonical key of a series: metric, then its non-null labels in column order."""
    pairs = [
        (name, str(value))
        for name, value in zip(labels, record[1:], strict=True)
        if value is not None and not (isinstance(value, float) and np.isnan(value))
    ]
    return _key(str(record[0]), pairs)


def _parse_key(key: str) -> tuple[str, dict[str, str]]:
    metric, pairs = json.loads(key)
    return metric, dict(pairs)


def _migrate_keys(con: duckdb.DuckDBPyConnection) -> int:
    """Re-key series stored with the separator keys of earlier versions; returns how many.

    The new key is built from the series' stored labels (site first, then sorted: the order
    :func:`_series_key` sees). Two old series that now share a key (a label value that carried
    the old separators) stay apart: the later one's key also holds its id.
    """
    old = con.execute(
        "SELECT id, key, metric, labels FROM series WHERE NOT starts_with(key, '[') ORDER BY id"
    ).fetchall()
    if not old:
        return 0
    taken = {
        k for (k,) in con.execute("SELECT key FROM series WHERE starts_with(key, '[')").fetchall()
    }
    keys: list[tuple[int, str]] = []
    for sid, _, metric, labels in old:
        label_map = json.loads(labels)
        pairs = [(k, label_map[k]) for k in sorted(label_map, key=lambda k: (k != "site", k))]
        key = _key(metric, pairs)
        if key in taken:
            key = json.dumps([metric, pairs, int(sid)], ensure_ascii=False, separators=(",", ":"))
        taken.add(key)
        keys.append((int(sid), key))
    with transaction_with(con, "_new_keys", pd.DataFrame(keys, columns=["id", "key"])):
        con.execute(
            "CREATE TABLE series_rekeyed (id INTEGER PRIMARY KEY, key VARCHAR UNIQUE NOT NULL, "
            "metric VARCHAR NOT NULL, labels VARCHAR NOT NULL)"
        )
        con.execute(
            "INSERT INTO series_rekeyed SELECT s.id, coalesce(n.key, s.key), s.metric, s.labels "
            "FROM series s LEFT JOIN _new_keys n ON n.id = s.id"
        )
        con.execute("DROP TABLE series")
        con.execute("ALTER TABLE series_rekeyed RENAME TO series")
    return len(keys)


def _unique_pairs(sid: np.ndarray, t: np.ndarray) -> bool:
    """True when no (series, t) pair repeats, checked in O(n) for the two usual layouts.

    Series-major (each series one run of increasing timestamps) or time-major (timestamps
    non-decreasing, series increasing within a timestamp); anything else is reported as
    possibly duplicated and de-duplicated in SQL.
    """
    if len(sid) < 2:
        return True
    same_t = t[1:] == t[:-1]
    if bool(np.all(t[1:] >= t[:-1])) and bool(np.all(sid[1:][same_t] > sid[:-1][same_t])):
        return True
    same = sid[1:] == sid[:-1]
    if not bool(np.all(t[1:][same] > t[:-1][same])):
        return False
    runs = int(np.count_nonzero(~same)) + 1
    return runs == len(np.unique(sid))


def _group_rows(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Group number of each row over ``columns`` (nulls are a value) and each group's first row.

    Columns are factorised (categoricals use their codes) and combined into one mixed-radix
    integer per row, then factorised by hashing: no sort, no per-row Python.
    """
    combined = np.zeros(len(frame), dtype=np.int64)
    radix = 1
    for name in columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy().astype(np.int64) + 1
            size = len(column.cat.categories) + 1
        else:
            factor, uniques = pd.factorize(column)
            codes, size = factor.astype(np.int64) + 1, len(uniques) + 1
        if radix * size >= 2**62:  # too many combinations for one integer: hash the tuples
            factor, _ = pd.factorize(pd.MultiIndex.from_frame(frame[columns].astype(object)))
            return _first_rows(factor)
        combined += codes * radix
        radix *= size
    return _first_rows(pd.factorize(combined)[0])


def _first_rows(group_of_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Factorised codes number groups in order of appearance: a group starts where the code
    first exceeds every code before it."""
    seen = np.maximum.accumulate(group_of_row)
    first = np.flatnonzero(np.r_[True, group_of_row[1:] > seen[:-1]])
    return group_of_row, first


def _count(result: duckdb.DuckDBPyConnection) -> int:
    row = result.fetchone()
    return int(row[0]) if row else 0


class _Generation:
    """A count of the writes to one database."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self.value += 1


_generations: dict[str, _Generation] = {}
_generations_lock = threading.Lock()


def _generations_of(path: str) -> _Generation:
    """The write count of the database at ``path`` (each in-memory database its own)."""
    if path == ":memory:":
        return _Generation()
    with _generations_lock:
        return _generations.setdefault(str(Path(path).resolve()), _Generation())


class DuckDBStore:
    """Embedded DuckDB store; ``path`` is a database file or ``:memory:``.

    A missing file is created (with its directory) only when ``create``; ``read_only`` opens
    without the write lock. ``memory_limit`` (e.g. ``"1GiB"``, see
    :data:`greenwatch.store.STORE_MEMORY_LIMIT`) bounds DuckDB's block cache and working memory
    (None: DuckDB's default, 80 % of the machine's memory). Opening migrates an older schema
    forward and reads every table once (see :mod:`greenwatch.store._schema`); failures are
    :class:`StoreUnavailableError`.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        gaps: Gaps | None = None,
        *,
        create: bool = True,
        read_only: bool = False,
        retention: Retention | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.path = str(path)
        self.retention = retention
        self.gaps = gaps or Gaps()
        try:
            self.memory_limit = None if memory_limit is None else parse_size(memory_limit)
        except ValueError as exc:
            raise StoreError(f"store memory limit: {exc}") from None
        if self.path == ":memory:":
            self._con = duckdb.connect(self.path)
        else:
            self._con = connect(Path(self.path), create=create, read_only=read_only)
        try:
            if self.memory_limit is not None:
                self._con.execute(f"SET memory_limit = '{self.memory_limit}B'")
            self.migrated_from = prepare(self._con, Path(self.path), read_only=read_only)
        except BaseException:
            self._con.close()
            raise
        self._raw_kept_from = raw_kept_from(self._con)
        if not read_only:
            _migrate_keys(self._con)
        self._read_only = read_only
        self._kept = kept_tables(self._con)
        self._lock = threading.Lock()
        self._series_cache: pd.DataFrame | None = None
        # Series key -> id of the series this store has written (ids never change).
        self._ids: dict[str, int] = {}
        self._by_metric: tuple[pd.DataFrame | None, dict[str, tuple[np.ndarray, pd.DataFrame]]]
        self._by_metric = (None, {})
        # Bumped after a commit that added series: a reader that began before it must not
        # cache what it read (it may predate the new series).
        self._series_generation = 0
        # Writes counted per database: two stores over one file in a process see one count.
        self._generations = _generations_of(self.path)

    # -- writing -----------------------------------------------------------------------------

    def write(self, batch: pd.DataFrame) -> int:
        """Store a batch idempotently; returns the number of samples newly stored."""
        batch = validate_batch(batch)
        if batch.empty:
            return 0
        labels = label_columns(batch)
        group_of_row, first_rows = _group_rows(batch, ["metric", *labels])
        combos = batch.iloc[first_rows][["metric", *labels]]
        t = batch["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
        with self._lock:
            kept = self._raw_kept_from
            if kept is not None and int(t.min()) < kept + HOUR:
                raise StoreError(
                    f"samples at {pd.Timestamp(int(t.min()), tz='UTC')} are older than the raw "
                    f"samples this store keeps (from {pd.Timestamp(kept, tz='UTC')} on, "
                    "retention): their hour's roll-up can no longer be recomputed"
                )
            cur = self._con.cursor()
            try:
                cur.execute("BEGIN")
                ids, added = self._series_ids(cur, combos, labels)
                sid = ids[group_of_row]
                rows = pa.table(
                    {"series_id": sid, "t": t, "value": batch["value"].to_numpy("float64")}
                )
                cur.register("_batch", rows)
                source = "_batch" if _unique_pairs(sid, t) else f"({_DEDUPED})"
                stored = _count(
                    cur.execute(
                        f"""INSERT INTO samples
                        SELECT i.series_id, i.t, i.value FROM {source} i
                        ANTI JOIN (SELECT series_id, t FROM samples
                                   WHERE t >= $lo AND t <= $hi) x
                        ON x.series_id = i.series_id AND x.t = i.t
                        ORDER BY i.t""",
                        {"lo": int(t.min()), "hi": int(t.max())},
                    )
                )
                if stored:
                    self._update_rollups(cur, source, int(t.min()), int(t.max()))
                    if self._kept:
                        sites = [str(s) for s in pd.unique(combos["site"].astype(object))]
                        reach = int((self.gaps.counter_lookback + self.gaps.max_gap).value)
                        forget_written(cur, self._kept, sites, int(t.min()), int(t.max()), reach)
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()
            if added:
                self._ids.update(added)
                self._series_generation += 1
                self._series_cache = None
            if stored:
                self._generations.bump()
        return stored

    @property
    def generation(self) -> int:
        """Bumped after every commit that stored samples, by any store over the same database
        in this process: an answer computed from the store may be kept under the generation it
        was read at (greenwatch.query keeps them so)."""
        return self._generations.value

    def _series_ids(
        self, cur: duckdb.DuckDBPyConnection, combos: pd.DataFrame, labels: list[str]
    ) -> tuple[np.ndarray, dict[str, int]]:
        """Series id of each label combination, creating series not seen before, and the
        ids not yet in :attr:`_ids` (to remember once the write commits).

        Ids never change once stored, so the ids seen are kept: a write asks the database only
        for keys it has not seen (another store over the same database may have added them),
        and inserts those still missing as one table.
        """
        keys = [_series_key(rec, labels) for rec in combos.itertuples(index=False)]
        known = self._ids
        missing = [k for k in dict.fromkeys(keys) if k not in known]
        seen: dict[str, int] = {}
        if missing:
            cur.register("_keys", pa.table({"key": pa.array(missing, pa.string())}))
            found = cur.execute("SELECT key, id FROM series WHERE key IN (SELECT key FROM _keys)")
            seen = {key: int(i) for key, i in found.fetchall()}
            cur.unregister("_keys")
            new = [k for k in missing if k not in seen]
            if new:
                top = cur.execute("SELECT coalesce(max(id), 0) FROM series").fetchall()
                first = int(top[0][0]) + 1
                parsed = [_parse_key(k) for k in new]
                rows = pa.table(
                    {
                        "id": pa.array(range(first, first + len(new)), pa.int32()),
                        "key": pa.array(new, pa.string()),
                        "metric": pa.array([m for m, _ in parsed], pa.string()),
                        "labels": pa.array(
                            [json.dumps(lab, sort_keys=True) for _, lab in parsed], pa.string()
                        ),
                    }
                )
                cur.register("_new_series", rows)
                cur.execute("INSERT INTO series SELECT * FROM _new_series")
                cur.unregister("_new_series")
                seen.update(zip(new, range(first, first + len(new)), strict=True))
        ids = np.fromiter(
            (known[k] if k in known else seen[k] for k in keys), dtype="int32", count=len(keys)
        )
        return ids, seen

    def _update_rollups(
        self, cur: duckdb.DuckDBPyConnection, source: str, t_lo: int, t_hi: int
    ) -> None:
        """Bring the roll-ups of the series in ``source`` (just stored, from ``t_lo`` to
        ``t_hi``) up to date.

        A series whose new samples all come after its last stored one (what live data does)
        only gains pairs and samples: their summaries are computed from the new samples and
        that last one and merged into the roll-up rows they touch, so a write costs what it
        brings, not the hours it lands in. Any other series (a backfill into its past, a
        re-send mixed with new samples) has the hours around its new samples recomputed from
        raw samples. Either way the rows equal a recomputation from every raw sample.
        """
        lookback = int(self.gaps.counter_lookback.value)
        # The roll-ups hold each series' last stored sample (any stored later than the
        # batch's first is in an hour at or after it, so inside this range).
        cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _span AS
            SELECT b.series_id AS id, r.last_t AS prev_t, r.last_v AS prev_v,
                   r.last_t IS NULL OR r.last_t < b.t_min AS appended
            FROM (SELECT series_id, min(t) AS t_min FROM {source} GROUP BY series_id) b
            LEFT JOIN (
                SELECT series_id, max(last_t) AS last_t, arg_max(last_v, last_t) AS last_v
                FROM rollup_1h
                WHERE series_id IN (SELECT series_id FROM {source}) AND last_t IS NOT NULL
                  AND bucket >= $floor
                GROUP BY series_id) r ON r.series_id = b.series_id""",
            {"floor": t_lo // HOUR * HOUR - lookback - HOUR},
        )
        cur.execute("CREATE OR REPLACE TEMP TABLE _ids AS SELECT id FROM _span WHERE NOT appended")
        if _count(cur.execute("SELECT count(*) FROM _ids")):
            self._refresh_rollups(cur, t_lo, t_hi)
        cur.execute("CREATE OR REPLACE TEMP TABLE _ids AS SELECT id FROM _span WHERE appended")
        if not _count(cur.execute("SELECT count(*) FROM _ids")):
            return
        cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _appended AS
            SELECT series_id, t, value AS v, true AS counted FROM {source}
            WHERE series_id IN (SELECT id FROM _ids)
            UNION ALL
            SELECT id, prev_t, prev_v, false FROM _span WHERE appended AND prev_t IS NOT NULL"""
        )
        first = _count(cur.execute("SELECT min(t) FROM _appended"))
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE _delta AS {appended_summary_sql('_appended')}",
            self._params(0, HOUR, first, t_hi + 1),
        )
        for table, step in (("rollup_1h", HOUR), ("rollup_1d", DAY)):
            self._merge_rollup(cur, table, step, first // step * step, (t_hi // step + 1) * step)

    @staticmethod
    def _merge_rollup(
        cur: duckdb.DuckDBPyConnection, table: str, step: int, lo: int, hi: int
    ) -> None:
        """Merge the summaries in ``_delta`` (series ``_ids``, buckets in ``[lo, hi)``) into
        the roll-up ``table`` of bucket width ``step``: each touched row is replaced by the
        regrouping of itself and what the new samples add to its bucket."""
        params = {"origin": 0, "step": step, "lo": lo, "hi": hi}
        part = regroup_sql("_delta", "_ids")
        cur.execute(f"CREATE OR REPLACE TEMP TABLE _part AS {part}", params)
        cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _pending AS
            SELECT r.* FROM {table} r SEMI JOIN _part p
                ON r.series_id = p.series_id AND r.bucket = p.bucket
            WHERE r.bucket >= $lo AND r.bucket < $hi
            UNION ALL SELECT * FROM _part""",
            {"lo": lo, "hi": hi},
        )
        cur.execute(
            f"""DELETE FROM {table} USING _part p
            WHERE {table}.series_id = p.series_id AND {table}.bucket = p.bucket
              AND {table}.bucket >= $lo AND {table}.bucket < $hi""",
            {"lo": lo, "hi": hi},
        )
        cur.execute(f"INSERT INTO {table} {regroup_sql('_pending', '_ids')}", params)

    def _refresh_rollups(self, cur: duckdb.DuckDBPyConnection, t_lo: int, t_hi: int) -> None:
        # A counter's increase across a gap is spread over the hours the gap spans, so new
        # samples change the hours back to the sample before them and on to the one after.
        # The hourly roll-ups know each hour's first and last sample: a few rows per series,
        # not hours of samples (a neighbour within the same hour is inside the range anyway).
        lookback = int(self.gaps.counter_lookback.value)
        row = cur.execute(
            """SELECT (SELECT min(t) FROM (
                         SELECT max(last_t) AS t FROM rollup_1h
                         WHERE series_id IN (SELECT id FROM _ids) AND last_t IS NOT NULL
                           AND bucket >= $h0 - $lookback - $hour AND bucket < $h0
                         GROUP BY series_id)),
                      (SELECT max(t) FROM (
                         SELECT min(first_t) AS t FROM rollup_1h
                         WHERE series_id IN (SELECT id FROM _ids) AND first_t IS NOT NULL
                           AND bucket > $h1 AND bucket <= $h1 + $lookback
                         GROUP BY series_id))""",
            {
                "h0": t_lo // HOUR * HOUR,
                "h1": t_hi // HOUR * HOUR,
                "lookback": lookback,
                "hour": HOUR,
            },
        ).fetchone()
        before, after = row or (None, None)
        h_lo = (min(t_lo, before if before is not None else t_lo) // HOUR - 1) * HOUR
        h_hi = (max(t_hi, after if after is not None else t_hi) // HOUR + 2) * HOUR
        cur.execute(
            "DELETE FROM rollup_1h WHERE series_id IN (SELECT id FROM _ids) "
            "AND bucket >= $lo AND bucket < $hi",
            {"lo": h_lo, "hi": h_hi},
        )
        cur.execute(
            f"INSERT INTO rollup_1h {summary_sql('_ids')}",
            self._params(0, HOUR, h_lo, h_hi),
        )
        d_lo, d_hi = (h_lo // DAY) * DAY, -(-h_hi // DAY) * DAY
        cur.execute(
            "DELETE FROM rollup_1d WHERE series_id IN (SELECT id FROM _ids) "
            "AND bucket >= $lo AND bucket < $hi",
            {"lo": d_lo, "hi": d_hi},
        )
        cur.execute(
            f"INSERT INTO rollup_1d {regroup_sql('rollup_1h', '_ids')}",
            {"origin": 0, "step": DAY, "lo": d_lo, "hi": d_hi},
        )

    def _params(self, origin: int, step: int, lo: int, hi: int) -> dict[str, int]:
        return {
            "origin": origin,
            "step": step,
            "lo": lo,
            "hi": hi,
            "max_gap": int(self.gaps.max_gap.value),
            "lookback": int(self.gaps.counter_lookback.value),
        }

    def keeping_since(self) -> int:
        """The mark to take before a read whose derived rows may be kept: the write count."""
        return self.generation

    def keep(self, name: str, signature: str, frame: pd.DataFrame, since: int) -> bool:
        """Keep rows derived per site and hour (:mod:`greenwatch.store._kept`) unless the store
        was written to since ``since`` (:meth:`keeping_since`; they may predate that write)
        or is read-only; True when kept."""
        if not len(frame):
            return False
        with self._lock:
            if self._read_only or self.generation != since:
                return False
            cur = self._con.cursor()
            try:
                keep_rows(cur, name, signature, frame)
            finally:
                cur.close()
            self._kept = kept_tables(self._con)
        return True

    def kept(
        self, name: str, signature: str, sites: list[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame | None:
        """Rows kept under ``name`` and ``signature`` for ``sites`` in ``[start, end)``
        (columns site, bucket in ns and the kept ones); None when none are kept so."""
        cur = self._con.cursor()
        try:
            return read_kept(cur, self._kept, name, signature, sites, _ns(start), _ns(end))
        finally:
            cur.close()

    # -- reading -----------------------------------------------------------------------------

    def _series_table(self) -> pd.DataFrame:
        cached = self._series_cache
        if cached is None:
            generation = self._series_generation
            cur = self._con.cursor()
            try:
                rows = cur.execute("SELECT id, metric, labels FROM series ORDER BY id").fetchall()
            finally:
                cur.close()
            frame = pd.DataFrame([{"id": i, "metric": m, **json.loads(lbl)} for i, m, lbl in rows])
            if frame.empty:
                frame = pd.DataFrame(columns=["id", "metric", "site"])
            if generation == self._series_generation:
                self._series_cache = frame
            return frame
        return cached

    def series(self, metric: str | None = None, labels: LabelFilter | None = None) -> pd.DataFrame:
        """Known series (columns metric and one per label present on them)."""
        table = self._series_table()
        if metric is not None:
            table = table[table["metric"] == metric]
        table = match_labels(table, labels)
        return table.drop(columns="id").dropna(axis=1, how="all").reset_index(drop=True)

    def query(
        self,
        metric: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
        labels: LabelFilter | None = None,
        step: pd.Timedelta | None = None,
        agg: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Raw samples or per-bucket aggregates (see :class:`greenwatch.store.Store`)."""
        check_range(start, end, step)
        return self._query(metric, start, end, labels, step, normalise_aggs(agg))

    def latest(self, metric: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The last sample of each series of ``metric`` in ``[start, end)``, with its own
        timestamp (columns as a raw query's), in time order: one hash aggregate over the
        range, where a raw query would sort and hand over every sample in it."""
        check_range(start, end, None)
        return self._query(metric, start, end, None, None, [], raw_sql=_LATEST_SQL)

    def raw_windows(
        self, starts: Mapping[str, pd.Timestamp], end: pd.Timestamp
    ) -> dict[str, tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]]:
        """Raw samples of several metrics, each in ``[starts[metric], end)``, in one statement.

        Per metric with samples: (labels, key, t, value): ``labels`` one row per series with
        samples (in series id order; the label columns of a raw :meth:`query` of the metric;
        while every series of the metric has samples, the same frame each call: read only),
        ``key`` each sample's row in ``labels``, ``t`` ns since the epoch and ``value``, sorted
        by series then time. The samples are those :meth:`query` reads for each metric alone.
        """
        for start in starts.values():
            check_range(start, end, None)
        known = [(m, *self._metric_series(m)) for m in starts]
        known = [(m, ids, labels) for m, ids, labels in known if len(ids)]
        if not known:
            return {}
        every = np.concatenate([ids for _, ids, _ in known])
        lo = np.concatenate([np.full(len(ids), _ns(starts[m])) for m, ids, _ in known])
        parts = " UNION ALL ".join(
            "(SELECT series_id, t, value FROM samples WHERE series_id IN "
            f"(SELECT id FROM _q_ids WHERE lo = {int(x)}) AND t >= {int(x)} AND t < $hi)"
            for x in np.unique(lo)
        )
        cur = self._con.cursor()
        try:
            cur.register("_q_ids", pd.DataFrame({"id": every.astype("int32"), "lo": lo}))
            found = cur.execute(parts, {"hi": _ns(end)}).fetchnumpy()
        finally:
            cur.close()
        # Sorted here: numpy sorts these rows in a fraction of what an ORDER BY costs.
        order = np.lexsort((found["t"], found["series_id"]))
        sid = np.asarray(found["series_id"], dtype=np.int64)[order]
        t = np.asarray(found["t"], dtype=np.int64)[order]
        v = np.asarray(found["value"], dtype=np.float64)[order]
        # Each sample's place in ``every`` and its metric, looked up once per series.
        firsts = np.flatnonzero(np.diff(sid, prepend=-1))
        runs = np.diff(np.append(firsts, len(sid)))
        by_id = np.argsort(every)
        places = by_id[np.searchsorted(every[by_id], sid[firsts])]
        ends = np.cumsum([len(ids) for _, ids, _ in known])
        at = np.repeat(places, runs)
        owner = np.repeat(np.searchsorted(ends, places, side="right"), runs)
        out = {}
        for k, (metric, ids, labels) in enumerate(known):
            mine = np.flatnonzero(owner == k)
            if len(mine):
                row = at[mine] - (ends[k] - len(ids))  # ascending: ids and samples are sorted
                first = np.r_[True, row[1:] != row[:-1]]
                key, present = np.cumsum(first) - 1, row[first]
                every_one = len(present) == len(ids)
                rows = labels if every_one else labels.iloc[present].reset_index(drop=True)
                out[metric] = (rows, key.astype(np.int64), t[mine], v[mine])
        return out

    def _metric_series(self, metric: str) -> tuple[np.ndarray, pd.DataFrame]:
        """Ids (ascending) and label columns of a metric's known series, kept as long as the
        series table is."""
        table = self._series_table()
        held, by_metric = self._by_metric
        if held is not table:
            by_metric = {}
            self._by_metric = (table, by_metric)
        found = by_metric.get(metric)
        if found is None:
            mine = table[table["metric"] == metric].sort_values("id")
            cols = [c for c in mine.columns if c not in ("id", "metric") and mine[c].notna().any()]
            found = (mine["id"].to_numpy(np.int64), mine[cols].reset_index(drop=True))
            by_metric[metric] = found
        return found

    def reset_hours(
        self,
        metric: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
        labels: LabelFilter | None = None,
    ) -> pd.DataFrame:
        """The hours of ``[start, end)`` (whole hours) in which a counter of ``metric`` reset:
        what ``query(step=1h, agg=["resets", "reset_start", "reset_end"])`` answers, less the
        hours without a reset, read from the hourly roll-ups without reading the others."""
        check_range(start, end, HOUR_STEP)
        if _ns(start) % HOUR or _ns(end) % HOUR:
            raise StoreError("reset hours are whole hours")
        return self._query(
            metric, start, end, labels, HOUR_STEP, ["resets", "reset_start", "reset_end"], True
        )

    def _query(
        self,
        metric: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
        labels: LabelFilter | None,
        step: pd.Timedelta | None,
        aggs: list[str],
        resets_only: bool = False,
        raw_sql: str = _RAW_SQL,
    ) -> pd.DataFrame:
        table = self._series_table()
        chosen = match_labels(table[table["metric"] == metric], labels)
        value_cols = ["value"] if len(aggs) <= 1 else aggs
        if chosen.empty:
            return pd.DataFrame(
                {"ts": pd.Series([], dtype="datetime64[ns, UTC]")}
                | {c: pd.Series([], dtype="float64") for c in value_cols}
            )
        lo, hi = _ns(start), _ns(end)
        ids = pd.DataFrame({"id": chosen["id"].astype("int32")})
        cur = self._con.cursor()
        try:
            cur.register("_q_ids", ids)
            if not aggs:
                data = cur.execute(raw_sql, {"lo": lo, "hi": hi}).df()
                out = data.rename(columns={"t": "ts"})
            else:
                width = int(step.value) if step is not None else hi - lo
                data = self._summaries(cur, lo, hi, width, aggs, resets_only)
                out = _finish(data, aggs, lo, hi, width)
        except duckdb.OutOfMemoryException:
            raise StoreError(
                f"reading {metric} from {start} to {end} needs more than the store's memory "
                f"bound ({(self.memory_limit or 0) / 2**20:.0f} MiB): ask for a shorter period, "
                "fewer series or a step, or raise --store-memory-limit"
            ) from None
        finally:
            cur.close()
        out["ts"] = pd.to_datetime(out["ts"].to_numpy(dtype="int64"), unit="ns", utc=True)
        by_id = chosen.set_index("id").drop(columns="metric")
        label_cols = [c for c in by_id.columns if by_id[c].notna().any()]
        rows = by_id.index.get_indexer(pd.Index(out["series_id"]))
        return pd.DataFrame(
            {"ts": out["ts"].array}
            | {c: by_id[c].array.take(rows) for c in label_cols}
            | {c: out[c].to_numpy() for c in value_cols}
        )

    def query_spans(self, metric: str, spans: pd.DataFrame) -> pd.DataFrame:
        """Raw samples of ``metric`` inside each of many short spans, in one statement.

        ``spans``: one row per span with label columns naming one series each (e.g. site and
        meter), ``start`` and ``end`` (tz-aware, half-open). Returns columns span (the row
        position in ``spans``), ts, value, ordered by span and time; a span whose labels match
        no series has no rows. Used to read seconds of samples around counter resets.
        """
        table = self._series_table()
        labels = [c for c in spans.columns if c not in ("start", "end")]
        known = table[table["metric"] == metric]
        if known.empty or spans.empty or not set(labels) <= set(known.columns):
            return pd.DataFrame(
                {"span": [], "ts": pd.Series([], dtype="datetime64[ns, UTC]"), "value": []}
            )
        ids = (
            spans.reset_index(drop=True)
            .assign(span=np.arange(len(spans)))
            .merge(known[["id", *labels]], on=labels)
        )
        parts = " UNION ALL ".join(
            f"SELECT {int(span)} AS span, t, value FROM samples WHERE series_id = {int(sid)} "
            f"AND t >= {_ns(lo)} AND t < {_ns(hi)}"
            for span, sid, lo, hi in zip(
                ids["span"], ids["id"], ids["start"], ids["end"], strict=True
            )
        )
        cur = self._con.cursor()
        try:
            data = cur.execute(f"SELECT * FROM ({parts}) ORDER BY span, t").df() if parts else None
        finally:
            cur.close()
        if data is None or data.empty:
            return pd.DataFrame(
                {"span": [], "ts": pd.Series([], dtype="datetime64[ns, UTC]"), "value": []}
            )
        return pd.DataFrame(
            {
                "span": data["span"].to_numpy(dtype="int64"),
                "ts": pd.to_datetime(data["t"].to_numpy(dtype="int64"), unit="ns", utc=True),
                "value": data["value"].to_numpy(dtype="float64"),
            }
        )

    def _summaries(
        self,
        cur: duckdb.DuckDBPyConnection,
        lo: int,
        hi: int,
        width: int,
        aggs: list[str],
        resets_only: bool = False,
    ) -> Any:
        """Bucket summaries: roll-up rows where the grid aligns, else SQL over raw samples.

        Roll-up rows are regrouped in pandas, in a fixed order, so repeated reads of the same
        data give bit-identical sums (a parallel SQL sum does not). ``resets_only`` (hourly
        roll-up rows only): the rows of buckets with a counter reset.
        """
        for table, grain in (("rollup_1d", DAY), ("rollup_1h", HOUR)):
            if lo % grain == 0 and hi % grain == 0 and width % grain == 0:
                if width == grain:
                    needed = sorted({c for a in aggs for c in _NEEDS[a]})
                    sql = rollup_sql(table, "_q_ids", needed, resets_only=resets_only)
                    return cur.execute(sql, {"lo": lo, "hi": hi}).df()
                rows = cur.execute(
                    rollup_sql(table, "_q_ids", _merge_columns(aggs)), {"lo": lo, "hi": hi}
                )
                return _regroup(rows.df(), lo, width)
        inner_lo, inner_hi = -(-lo // HOUR) * HOUR, (hi // HOUR) * HOUR
        if width != hi - lo or inner_hi - inner_lo < 2 * HOUR:
            return cur.execute(summary_sql("_q_ids"), self._params(lo, width, lo, hi)).df()
        # One bucket over a long unaligned range: raw edges plus hourly roll-ups in between.
        parts = [
            cur.execute(summary_sql("_q_ids"), self._params(lo, width, a, b)).df()
            for a, b in ((lo, inner_lo), (inner_hi, hi))
            if b > a
        ]
        rows = cur.execute(
            rollup_sql("rollup_1h", "_q_ids", ROLLUP_COLUMNS), {"lo": inner_lo, "hi": inner_hi}
        )
        parts.append(_regroup(rows.df(), lo, width))
        found = [p for p in parts if not p.empty]
        return _combine(pd.concat(found, ignore_index=True)) if found else parts[0]

    def memory(self) -> int:
        """Bytes the database holds now: its block cache and the working memory of running
        statements (bounded by ``memory_limit``)."""
        cur = self._con.cursor()
        try:
            found = cur.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()
        finally:
            cur.close()
        return int(found[0] or 0) if found else 0

    @property
    def schema_version(self) -> int:
        """The schema version the open store records."""
        with self._lock:
            return schema_version(self._con)

    def check(self) -> list[str]:
        """Read every column of every table and cross-check them; the problems found (empty:
        sound). Writers wait meanwhile."""
        with self._lock:
            return full_check(self._con)

    def probe(self) -> None:
        """Read the series and the last day of samples and roll-ups; raises
        :class:`StoreUnavailableError` naming the failure when the file cannot be read."""
        cur = self._con.cursor()
        try:
            cur.execute("SELECT count(*), bit_xor(hash(key)) FROM series").fetchone()
            for table, column in (("samples", "t"), ("rollup_1h", "bucket")):
                cur.execute(
                    f"SELECT count(*), bit_xor(hash(COLUMNS(*))) FROM {table} "
                    f"WHERE {column} >= (SELECT max({column}) FROM {table}) - {DAY}"
                ).fetchone()
        except duckdb.Error as exc:
            raise StoreUnavailableError(f"reading the store {self.path} failed: {exc}") from None
        finally:
            cur.close()

    def apply_retention(self, now: pd.Timestamp) -> RetentionOutcome | None:
        """Delete what :attr:`retention` no longer keeps at ``now`` and compact the file
        (writes wait); None when the store has no retention."""
        if self.retention is None or self.path == ":memory:":
            return None
        with self._lock:
            outcome = apply_retention(self._con, self.retention, now)
            forget_before(self._con, self._kept, int((now - self.retention.rollups).value))
            self._raw_kept_from = raw_kept_from(self._con)
        return outcome

    def snapshot(self, dest: Path) -> None:
        """A consistent copy of the store file at ``dest``: writes wait while the write-ahead
        log is checkpointed into the file and the file is copied (readers go on)."""
        if self.path == ":memory:":
            raise StoreError("an in-memory store has no file to copy")
        with self._lock:
            self._con.execute("CHECKPOINT")
            shutil.copyfile(self.path, dest)

    def close(self) -> None:
        """Checkpoint and close the database file."""
        with self._lock:
            self._con.close()


def _regroup(rows: pd.DataFrame, origin: int, step: int) -> pd.DataFrame:
    """Finer summaries (roll-up rows by series and bucket) merged into buckets of ``step``."""
    return _combine(rows.assign(bucket=origin + (rows["bucket"] - origin) // step * step))


# How the summaries of adjacent pieces of one bucket merge, column by column (``last_v``
# goes with ``last_t``, below).
_MERGE = {
    "n": "sum",
    "sum": "sum",
    "min": "min",
    "max": "max",
    "first_t": "min",
    "first_v": "first",
    "increase": "sum",
    "integral": "sum",
    "covered_s": "sum",
    "resets": "sum",
    "reset_start": "min",
    "reset_end": "max",
}


def _merge_columns(aggs: list[str]) -> list[str]:
    """The summary columns that ``aggs`` read, with the times that order the pieces: what
    :func:`_combine` needs of them (each column merges on its own, so fewer give the same
    figures; a month of hourly roll-ups is read as 4 columns instead of 14)."""
    needed = {c for a in aggs for c in _NEEDS[a]} | {"first_t", "last_t"}
    return [c for c in ROLLUP_COLUMNS if c in needed]


def _combine(parts: pd.DataFrame) -> pd.DataFrame:
    """Merge summaries of adjacent pieces of one bucket (same series and bucket), of the
    summary columns ``parts`` has (all, or :func:`_merge_columns`)."""
    if parts.empty:
        return parts
    parts = parts.sort_values(["series_id", "first_t"], na_position="last", kind="stable")
    grouped = parts.groupby(["series_id", "bucket"], sort=True)
    out = grouped.agg(**{c: (c, how) for c, how in _MERGE.items() if c in parts})
    by_last = parts.sort_values(["series_id", "last_t"], na_position="first", kind="stable")
    last = by_last.groupby(["series_id", "bucket"], sort=True)
    out["last_t"] = last["last_t"].max()
    if "last_v" in parts:
        out["last_v"] = last["last_v"].last()
    return out.reset_index()


# Summary columns each aggregation reads.
_NEEDS: dict[str, tuple[str, ...]] = {
    "mean": ("sum", "n"),
    "min": ("min",),
    "max": ("max",),
    "sum": ("sum",),
    "count": ("n",),
    "first": ("first_v",),
    "last": ("last_v",),
    "increase": ("increase",),
    "integral": ("integral",),
    "coverage": ("covered_s",),
    "resets": ("resets",),
    "reset_start": ("reset_start",),
    "reset_end": ("reset_end",),
}


def _finish(data: pd.DataFrame, aggs: list[str], lo: int, hi: int, width: int) -> pd.DataFrame:
    """Requested aggregates from bucket summaries."""
    out = pd.DataFrame({"series_id": data["series_id"], "ts": data["bucket"]})
    n = data["n"].astype("float64") if "n" in data else pd.Series(dtype="float64")
    span = ((data["bucket"] + width).clip(upper=hi) - data["bucket"].clip(lower=lo)).astype(
        "float64"
    ) / 1e9
    columns: dict[str, Callable[[], pd.Series]] = {
        "mean": lambda: data["sum"] / n.where(n > 0),
        "min": lambda: data["min"],
        "max": lambda: data["max"],
        "sum": lambda: data["sum"],
        "count": lambda: n,
        "first": lambda: data["first_v"],
        "last": lambda: data["last_v"],
        "increase": lambda: data["increase"],
        "integral": lambda: data["integral"],
        "coverage": lambda: (data["covered_s"] / span).clip(upper=1.0),
        "resets": lambda: data["resets"].fillna(0),
        "reset_start": lambda: data["reset_start"],
        "reset_end": lambda: data["reset_end"],
    }
    for name in aggs:
        out["value" if len(aggs) == 1 else name] = columns[name]().astype("float64")
    return out


__all__ = ["SUMMARY_COLUMNS", "DuckDBStore", "StoreError"]

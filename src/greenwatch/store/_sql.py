"""SQL that turns raw samples into per-bucket summaries.

One statement defines every bucketed aggregate the store answers, for the hourly roll-ups and
for ad-hoc buckets alike, so a figure read from roll-ups equals the figure computed from raw
samples. Times are integer nanoseconds since the Unix epoch (UTC). The rules for pairs of
consecutive samples are those of :class:`greenwatch.store._base.Gaps`.
"""

from __future__ import annotations

# Columns of a bucket summary, in order (roll-up tables have the same columns).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "series_id",
    "bucket",
    "n",
    "sum",
    "min",
    "max",
    "first_t",
    "first_v",
    "last_t",
    "last_v",
    "increase",
    "integral",
    "covered_s",
    "resets",
    "reset_start",
    "reset_end",
)

# The samples a summary reads (``counted``: inside the window, so they count in ``n`` … ``last``;
# the others only pair with them).
_STORED_RAW = """
    SELECT series_id, t, value AS v, t >= $lo AND t < $hi AS counted FROM samples
    WHERE series_id IN (SELECT id FROM {ids}) AND t >= $lo - $max_gap AND t < $hi + $max_gap
    UNION ALL
    -- Only the last sample before that, for a counter pair across a long gap: an aggregate,
    -- not hours of samples through the window sort.
    SELECT series_id, max(t), arg_max(value, t), false FROM samples
    WHERE series_id IN (SELECT id FROM {ids}) AND t >= $lo - $lookback AND t < $lo - $max_gap
    GROUP BY series_id
    UNION ALL
    -- And the first one after, for a pair that leaves the window across a long gap.
    SELECT series_id, min(t), arg_min(value, t), false FROM samples
    WHERE series_id IN (SELECT id FROM {ids}) AND t >= $hi + $max_gap AND t < $hi + $lookback
    GROUP BY series_id
"""

_SUMMARY_SQL = """
WITH raw AS ({raw}),
p AS (
    SELECT series_id, t0, v0, t1, v1, t1 - t0 AS dt,
           CASE WHEN v1 >= v0 THEN v1 - v0 ELSE v1 END AS inc, v1 < v0 AS reset
    FROM (
        SELECT series_id, t AS t0, v AS v0,
               lead(t) OVER w AS t1, lead(v) OVER w AS v1
        FROM raw WINDOW w AS (PARTITION BY series_id ORDER BY t)
    ) WHERE t1 IS NOT NULL
),
covered AS (
    SELECT series_id, t0, t1, v0, v1, dt, inc, reset, dt > $max_gap AS bridged,
           greatest(t0, $lo) AS a0, least(t1, $hi) AS b0
    FROM p WHERE dt <= $lookback AND t1 > $lo AND t0 < $hi
),
single AS (
    SELECT series_id, (a0 - $origin) // $step AS k, a0 AS a, b0 AS b,
           t0, t1, v0, v1, dt, inc, reset, bridged
    FROM covered WHERE (a0 - $origin) // $step = (b0 - 1 - $origin) // $step
),
multi AS (
    SELECT series_id, k,
           greatest(a0, $origin + k * $step) AS a, least(b0, $origin + (k + 1) * $step) AS b,
           t0, t1, v0, v1, dt, inc, reset, bridged
    FROM (
        SELECT *, unnest(range((a0 - $origin) // $step, (b0 - 1 - $origin) // $step + 1)) AS k
        FROM covered WHERE (a0 - $origin) // $step <> (b0 - 1 - $origin) // $step
    )
),
parts AS (
    -- A counter's increase across a gap up to the look-back is spread over the buckets the
    -- gap spans in proportion to time, like a covered pair's, but the gap is not covered.
    SELECT series_id, k,
           inc * (b - a) / dt AS increase,
           CASE WHEN bridged THEN 0.0
                ELSE (2 * v0 + (v1 - v0) * ((a - t0) + (b - t0)) / dt) / 2 * (b - a) / 1e9
           END AS integral,
           CASE WHEN bridged THEN 0.0 ELSE (b - a) / 1e9 END AS covered_s,
           (reset AND b = t1)::BIGINT AS resets,
           CASE WHEN reset THEN t0 END AS reset_start,
           CASE WHEN reset THEN t1 END AS reset_end
    FROM (SELECT * FROM single UNION ALL SELECT * FROM multi)
),
contrib AS (
    SELECT series_id, k, sum(increase) AS increase, sum(integral) AS integral,
           sum(covered_s) AS covered_s, sum(resets) AS resets,
           min(reset_start) AS reset_start, max(reset_end) AS reset_end
    FROM parts GROUP BY series_id, k
),
stats AS (
    SELECT series_id, (t - $origin) // $step AS k, count(*) AS n, sum(v) AS sum,
           min(v) AS min, max(v) AS max, min(t) AS first_t, arg_min(v, t) AS first_v,
           max(t) AS last_t, arg_max(v, t) AS last_v
    FROM raw WHERE counted GROUP BY series_id, k
)
SELECT coalesce(s.series_id, c.series_id) AS series_id,
       $origin + coalesce(s.k, c.k) * $step AS bucket,
       coalesce(s.n, 0) AS n, s.sum, s.min, s.max, s.first_t, s.first_v, s.last_t, s.last_v,
       coalesce(c.increase, 0.0) AS increase, coalesce(c.integral, 0.0) AS integral,
       coalesce(c.covered_s, 0.0) AS covered_s, coalesce(c.resets, 0) AS resets,
       c.reset_start, c.reset_end
FROM stats s FULL OUTER JOIN contrib c ON s.series_id = c.series_id AND s.k = c.k
ORDER BY 1, 2
"""

# Summary columns besides the series and bucket keys.
ROLLUP_COLUMNS: list[str] = list(SUMMARY_COLUMNS[2:])

# Regroups finer summaries (hourly roll-up rows) into coarser buckets.
_REGROUP_SQL = """
SELECT series_id, $origin + ((bucket - $origin) // $step) * $step AS bucket,
       sum(n) AS n, sum(sum) AS sum, min(min) AS min, max(max) AS max,
       min(first_t) AS first_t, arg_min(first_v, first_t) AS first_v,
       max(last_t) AS last_t, arg_max(last_v, last_t) AS last_v,
       sum(increase) AS increase, sum(integral) AS integral, sum(covered_s) AS covered_s,
       sum(resets) AS resets, min(reset_start) AS reset_start, max(reset_end) AS reset_end
FROM {table}
WHERE series_id IN (SELECT id FROM {ids}) AND bucket >= $lo AND bucket < $hi
GROUP BY series_id, 2
ORDER BY 1, 2
"""


def summary_sql(ids: str) -> str:
    """Bucket summaries from raw samples of the series listed in relation ``ids``.

    Parameters: ``$origin``, ``$step`` (bucket grid), ``$lo``, ``$hi`` (window, half-open),
    ``$max_gap``, ``$lookback`` — all integer nanoseconds.
    """
    return _SUMMARY_SQL.format(raw=_STORED_RAW.format(ids=ids))


def appended_summary_sql(raw: str) -> str:
    """Bucket summaries of the pairs and samples in relation ``raw`` (``series_id, t, v,
    counted``): what samples appended after a series' last stored one add to its buckets,
    given its last stored sample (not counted) and the new ones (counted). Parameters as
    :func:`summary_sql`, with ``$lo``/``$hi`` around every row of ``raw``."""
    return _SUMMARY_SQL.format(raw=f"SELECT series_id, t, v, counted FROM {raw}")


_ROLLUP_SQL = """
SELECT series_id, bucket, {columns} FROM {table}
WHERE series_id IN (SELECT id FROM {ids}) AND bucket >= $lo AND bucket < $hi{where}
ORDER BY series_id, bucket
"""


def rollup_sql(table: str, ids: str, columns: list[str], *, resets_only: bool = False) -> str:
    """Roll-up rows as they are, when the asked grid is the table's own (``$lo $hi``);
    ``resets_only``: only the rows of buckets where a counter reset."""
    where = " AND resets > 0" if resets_only else ""
    return _ROLLUP_SQL.format(table=table, ids=ids, columns=", ".join(columns), where=where)


def regroup_sql(table: str, ids: str) -> str:
    """Summaries regrouped from a roll-up table; parameters ``$origin $step $lo $hi``."""
    return _REGROUP_SQL.format(table=table, ids=ids)

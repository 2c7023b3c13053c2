"""Energy per meter or device over a period, read from a store with aggregation pushed down.

The counter's increase and the power integral come from the store's summaries (hourly
roll-ups for whole hours); the rule that picks between them is
:func:`greenwatch.metrics.meter_energy`. Only where the counter reset inside the period and a
power series of the same meter (or device) exists are raw samples read, and then only over the
reset pairs (seconds, not hours): there :func:`greenwatch.metrics.interval_energy` fills each
reset pair from power, and the difference to the counter alone is added to the total.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from greenwatch.metrics import J_PER_KWH, interval_energy, meter_energy
from greenwatch.query._cache import cached, label_key
from greenwatch.store import Gaps, LabelFilter, Store

HOUR = pd.Timedelta(hours=1)
SECOND = pd.Timedelta(seconds=1)
# (counter, power gauge, the label that names the metering point)
METER = ("energy_joules_total", "power_watts", "meter")
DEVICE = ("device_energy_joules_total", "device_power_watts", "device")
Pair = tuple[str, str, str]


def gaps_of(store: Store) -> Gaps:
    found = getattr(store, "gaps", None)
    return found if isinstance(found, Gaps) else Gaps()


def _keyed(frame: pd.DataFrame, label: str, step: bool) -> pd.DataFrame:
    """Store answer with the key columns site, ``label`` (and ts) present and summed over."""
    keys = ["site", label, *(["ts"] if step else [])]
    if frame.empty:
        return pd.DataFrame(columns=keys)
    if label not in frame.columns:
        frame = frame.assign(**{label: ""})
    # Plain object strings: grouping and joining on them is several times faster than on
    # Arrow-backed strings for the tens of thousands of (site, meter, hour) rows of a month.
    return frame.astype({"site": object, label: object})


def _evidence(counter: pd.DataFrame, label: str, buckets: int) -> set[object]:
    """(site, label) keys whose counter has evidence in every bucket."""
    if counter.empty:
        return set()
    ok = counter[(counter["coverage"] > 0) | (counter["increase"].fillna(0.0) != 0.0)]
    counts = ok.groupby(["site", label]).size()
    return {k for k, n in counts.items() if n >= buckets}


def _sum_counter(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=[*keys, "increase", "coverage", "resets"])
    g = frame.groupby(keys, sort=False)
    return g.agg(
        increase=("increase", "sum"), coverage=("coverage", "min"), resets=("resets", "sum")
    ).reset_index()


def _pieces(
    lo: pd.Timestamp, hi: pd.Timestamp, start: pd.Timestamp, step: pd.Timedelta | None
) -> list[tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]]:
    """``[lo, hi)`` cut at the bucket edges of the grid from ``start``: (bucket, a, b)."""
    if step is None:
        return [(start, lo, hi)]
    out = []
    a = lo
    while a < hi:
        bucket = start + ((a - start) // step) * step
        b = min(hi, bucket + step)
        out.append((bucket, a, b))
        a = b
    return out


def _spans(
    hours: pd.DataFrame,
    label: str,
    keys: list[tuple[str, str]],
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> list[dict[str, Any]]:
    """Per (site, ``label``) of ``keys``: merged ``[a, b)`` (whole seconds) around the reset
    pairs of ``hours`` that reach into the period, one row each. Whole pairs, also where
    they begin before the period or end after it: the pair's two samples define its fill."""
    found = hours.dropna(subset=["reset_start", "reset_end"])
    wanted = set(keys)
    pairs = sorted(
        (str(site), str(key), int(s), int(e))
        for site, key, s, e in zip(
            found["site"], found[label], found["reset_start"], found["reset_end"], strict=True
        )
        if (str(site), str(key)) in wanted
    )
    rows: list[dict[str, Any]] = []
    last: tuple[str, str] | None = None
    for site, key, s, e in pairs:
        a = pd.Timestamp(s, tz="UTC").floor("s")
        b = pd.Timestamp(e, tz="UTC").floor("s") + SECOND
        if min(b, end) <= max(a, start):
            continue
        if last == (site, key) and a <= rows[-1]["end"]:
            rows[-1]["end"] = max(rows[-1]["end"], b)
        else:
            rows.append({"site": site, label: key, "start": a, "end": b})
            last = (site, key)
    return rows


def _spans_of(store: Store, metric: str, spans: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Raw samples (ts, value) of ``metric`` per span: one statement where the store can
    (:meth:`DuckDBStore.query_spans`), else one read per span."""
    reader = getattr(store, "query_spans", None)
    if reader is not None:
        found: pd.DataFrame = reader(metric, spans)
        if found.empty:  # e.g. raw samples past retention: the roll-ups alone answer
            return {}
        # Ordered by span: each span's rows are one slice.
        keys, firsts = np.unique(found["span"].to_numpy(dtype="int64"), return_index=True)
        lasts = np.append(firsts[1:], len(found))
        samples = found[["ts", "value"]]
        return {int(k): samples.iloc[a:b] for k, a, b in zip(keys, firsts, lasts, strict=True)}
    labels = [c for c in spans.columns if c not in ("start", "end")]
    return {
        i: store.query(metric, row["start"], row["end"], labels={k: row[k] for k in labels})
        for i, row in enumerate(spans.to_dict("records"))
    }


def _reset_hours(
    store: Store,
    metric: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    labels: LabelFilter | None,
) -> pd.DataFrame:
    """Hourly resets, reset_start and reset_end of ``metric`` in the hours with a reset: only
    those rows where the store can (:meth:`DuckDBStore.reset_hours`), else every hour's."""
    reader = getattr(store, "reset_hours", None)
    if reader is not None:
        found: pd.DataFrame = reader(metric, start, end, labels)
        return found
    hours = store.query(
        metric, start, end, labels=labels, step=HOUR, agg=["resets", "reset_start", "reset_end"]
    )
    return hours[hours["resets"] > 0]


_EMPTY = pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ns, UTC]"), "value": []})


def _reset_fill(
    store: Store,
    pair: Pair,
    hours: pd.DataFrame,
    keys: list[tuple[str, str]],
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: pd.Timedelta | None,
) -> list[dict[str, object]]:
    """Per (site, meter or device) and bucket: J to add where the reset pairs of ``keys`` (in
    the roll-up rows ``hours``, keyed) are filled from power, and the seconds filled. Raw
    samples are read only over the reset pairs, all of them in one read per metric."""
    counter_metric, power_metric, label = pair
    gaps = gaps_of(store)
    rows = _spans(hours, label, keys, start, end)
    if not rows:
        return []
    spans = pd.DataFrame(rows)
    counters = _spans_of(store, counter_metric, spans)
    widened = spans.assign(start=spans["start"] - gaps.max_gap, end=spans["end"] + gaps.max_gap)
    powers = _spans_of(store, power_metric, widened)
    out: list[dict[str, object]] = []
    for i, span in enumerate(rows):
        counter, power = counters.get(i, _EMPTY), powers.get(i, _EMPTY)
        inside = max(span["start"], start), min(span["end"], end)
        for bucket, pa, pb in _pieces(*inside, start, step):
            kw: dict[str, Any] = {
                "start": pa,
                "end": pb,
                "max_gap": gaps.max_gap,
                "counter_lookback": gaps.counter_lookback,
            }
            mixed = interval_energy(counter, power, **kw)
            if mixed.filled_from_power_s:
                alone = interval_energy(counter, **kw)
                out.append(
                    {
                        "site": span["site"],
                        label: span[label],
                        "ts": bucket,
                        "fill_j": mixed.value - alone.value,
                        "filled_s": mixed.filled_from_power_s,
                    }
                )
    return out


def read_meter_energy(
    store: Store,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    step: pd.Timedelta | None = None,
    labels: LabelFilter | None = None,
    pair: Pair = METER,
) -> pd.DataFrame:
    """Energy in J per (site, meter) — or per (site, device) with ``pair=DEVICE`` — over
    ``[start, end)``, per bucket of ``step`` (column ``ts``) or for the whole period.

    Columns: site, the meter or device label, ts (with ``step``), and
    :data:`greenwatch.metrics.METER_ENERGY_COLUMNS` (energy_j, coverage, provenance, resets,
    filled_s). The rule is :func:`greenwatch.metrics.meter_energy`. Kept until the store's
    next write (:func:`greenwatch.query._cache.cached`).
    """
    key = ("meter_energy", start, end, step, label_key(labels), pair)
    return cached(store, key, lambda: _read_meter_energy(store, start, end, step, labels, pair))


def _read_meter_energy(
    store: Store,
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: pd.Timedelta | None,
    labels: LabelFilter | None,
    pair: Pair,
) -> pd.DataFrame:
    counter_metric, power_metric, label = pair
    keys = ["site", label, *(["ts"] if step is not None else [])]
    aggs = ["increase", "coverage", "resets"]
    raw = _keyed(
        store.query(counter_metric, start, end, labels=labels, step=step, agg=aggs),
        label,
        step is not None,
    )
    counter = _sum_counter(raw, keys)
    buckets = 1 if step is None else int(-(-(end - start) // step))
    complete = _evidence(counter, label, buckets)
    wanted = store.series(power_metric, labels)
    if not wanted.empty and label not in wanted.columns:
        wanted = wanted.assign(**{label: ""})
    need = [
        (str(s), str(k))
        for s, k in zip(wanted.get("site", []), wanted.get(label, []), strict=True)
        if (s, k) not in complete
    ]
    power = pd.DataFrame(columns=[*keys, "integral", "coverage"])
    if need:
        sites = sorted({s for s, _ in need})
        names = sorted({k for _, k in need})
        got = store.query(
            power_metric,
            start,
            end,
            labels={**(labels or {}), "site": sites, label: names},
            step=step,
            agg=["integral", "coverage"],
        )
        got = _keyed(got, label, step is not None)
        if not got.empty:
            got = got[
                pd.Series(list(zip(got["site"], got[label], strict=True))).isin(need).to_numpy()
            ]
            g = got.groupby(keys, sort=False)
            power = g.agg(integral=("integral", "sum"), coverage=("coverage", "min")).reset_index()
    has_power = {
        (str(s), str(k)) for s, k in zip(wanted.get("site", []), wanted.get(label, []), strict=True)
    }
    fills: list[dict[str, object]] = []
    if has_power and not counter.empty:
        # A reset pair that ends after the period (a pair spans at most the look-back) is
        # counted in the hour it ends in, but its part inside the period is filled too.
        reach = gaps_of(store).counter_lookback
        hours = _keyed(
            _reset_hours(store, counter_metric, start.floor("h"), (end + reach).ceil("h"), labels),
            label,
            True,
        )
        found = {(str(a), str(b)) for a, b in zip(hours["site"], hours[label], strict=True)}
        if found & has_power:
            fills = _reset_fill(store, pair, hours, sorted(found & has_power), start, end, step)
    if fills:
        fill = pd.DataFrame(fills)
        if step is None:
            fill = fill.drop(columns="ts")
        fill = fill.groupby(keys, sort=False)[["fill_j", "filled_s"]].sum()
        at = pd.MultiIndex.from_frame(counter[keys]) if len(keys) > 1 else counter[keys[0]]
        counter = counter.assign(
            fill_j=fill["fill_j"].reindex(at).to_numpy(),
            filled_s=fill["filled_s"].reindex(at).to_numpy(),
        )
    return meter_energy(counter, power, keys)


@dataclass(frozen=True)
class EnergyRead:
    """The energy of one meter or device over a period, as the CLI and API return it."""

    site: str
    meter: str | None
    device: str | None
    start: str
    end: str
    joules: float | None
    kwh: float | None
    coverage: float
    provenance: str
    resets: int
    filled_from_power_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def energy_read(
    store: Store,
    site: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    meter: str | None = None,
    device: str | None = None,
) -> EnergyRead:
    """Energy of ``meter`` (or ``device``) at ``site`` over ``[start, end)``: J, kWh, coverage,
    provenance (counter, power, mixed or '' where nothing was measured: joules None)."""
    if (meter is None) == (device is None):
        raise ValueError("name exactly one of meter and device")
    pair, name = (METER, meter) if meter is not None else (DEVICE, device)
    rows = read_meter_energy(
        store, start, end, labels={"site": site, pair[2]: str(name)}, pair=pair
    )
    if rows.empty:
        joules = float("nan")
        coverage, provenance, resets, filled = 0.0, "", 0, 0.0
    else:
        row = rows.iloc[0]
        joules = float(row["energy_j"])
        coverage, provenance = float(row["coverage"]), str(row["provenance"])
        resets, filled = int(row["resets"]), float(row["filled_s"])
    known = not np.isnan(joules)
    return EnergyRead(
        site=site,
        meter=meter,
        device=device,
        start=start.isoformat(),
        end=end.isoformat(),
        joules=joules if known else None,
        kwh=joules / J_PER_KWH if known else None,
        coverage=coverage,
        provenance=provenance,
        resets=resets,
        filled_from_power_s=filled,
    )

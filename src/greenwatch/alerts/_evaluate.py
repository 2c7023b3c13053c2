"""The evaluator: every rule at one instant, with rules sharing a metric batched into one read.

Per metric, one raw read covers the longest short window any ``metric``/``absent`` rule asks of
it; each (metric, window) is reduced once for every aggregate asked, and each distinct matcher
list is turned into a mask once. A rule is then a vectorised comparison over all series. KPI
and sub-meter rules read per-window site totals once per window (see ``_kpis``); compute rules
judge the pools once per instant (see ``_compute_rules``).
"""

from __future__ import annotations

import math
from datetime import timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from greenwatch.alerts._compute_rules import ComputeEvaluator
from greenwatch.alerts._kept import Kept
from greenwatch.alerts._kpis import KPI_COUNTERS, POWER, RAW_LIMIT, KpiEvaluator
from greenwatch.alerts._matchers import Matcher
from greenwatch.alerts._outcome import OPS, Hit, Outcome, Table, label_columns, label_records
from greenwatch.alerts._rules import (
    AbsentRule,
    ComputeRule,
    KpiRule,
    MetricRule,
    RuleSet,
    SubmeterRule,
)
from greenwatch.alerts._window import F64, SeriesWindow, label_table
from greenwatch.inventory import Inventory
from greenwatch.model import format_duration
from greenwatch.query import ComputeSource, inventory_source, site_totals
from greenwatch.store import Store

DEFAULT_MAX_GAP = pd.Timedelta(minutes=15)


class Evaluator:
    """Evaluates a rule set against a store at a given instant (no state, no I/O but reads).

    ``compute`` lists the compute pools and their verification records for compute rules
    (default: the inventory's pools, no records).
    """

    def __init__(
        self,
        store: Store,
        inventory: Inventory,
        rules: RuleSet,
        compute: ComputeSource | None = None,
    ) -> None:
        self.store = store
        self.inventory = inventory
        self.rules = rules
        gaps = getattr(store, "gaps", None)
        self.max_gap = pd.Timedelta(getattr(gaps, "max_gap", DEFAULT_MAX_GAP))
        self._kpis = KpiEvaluator(
            inventory,
            [r for r in rules.rules if isinstance(r, KpiRule)],
            lambda start, end: site_totals(store, inventory, start, end),
        )
        self._compute = ComputeEvaluator(store, inventory, compute or inventory_source(inventory))
        self._raw_span: dict[str, pd.Timedelta] = {}
        self._hourly: dict[tuple[str, pd.Timedelta], tuple[pd.Timestamp, Table]] = {}
        self._seen: dict[tuple[str, pd.Timedelta], tuple[pd.Timestamp, pd.DataFrame]] = {}
        self._aggs: dict[tuple[str, pd.Timedelta], set[str]] = {}
        # Kept between evaluations while the store hands back the same series labels.
        self._labels: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
        self._selections: dict[int, _Selection] = {}
        # Raw-window tables and what is computed from them, kept while their samples are the
        # same; known series, kept while the store counts no write (its ``generation``).
        self._raw_tables: dict[tuple[str, pd.Timedelta], Table] = {}
        self._kept = Kept()
        self._known: dict[str, tuple[int, pd.DataFrame]] = {}
        self._places = {
            "hub": {s.id: s.hub or "" for s in inventory.sites},
            "region": {s.id: s.region.value for s in inventory.sites},
        }
        for rule in rules.rules:
            for metric, window, aggs in _needs(rule):
                key = (metric, window)
                self._aggs.setdefault(key, set()).update(aggs)
                if window <= RAW_LIMIT:
                    self._raw_span[metric] = max(self._raw_span.get(metric, window), window)

    def evaluate(self, now: pd.Timestamp) -> list[Outcome]:
        """Every rule's outcome at ``now`` (data in windows ending at ``now``, exclusive)."""
        run = _Run(self, now)
        self._kpis.reset(now)
        self._kept.turn()
        out: list[Outcome] = []
        for rule in self.rules.rules:
            try:
                if isinstance(rule, MetricRule):
                    out.append(run.metric_rule(rule))
                elif isinstance(rule, AbsentRule):
                    out.append(run.absent_rule(rule))
                elif isinstance(rule, KpiRule):
                    out.extend(self._kpis.kpi_rule(rule, run.table))
                elif isinstance(rule, ComputeRule):
                    out.append(self._compute.rule(rule, now))
                else:
                    out.append(self._kpis.submeter_rule(rule, run.table))
            except Exception as exc:  # one broken rule must not stop the others (STYLE 10)
                out.append(Outcome(rule.alert, error=f"{type(exc).__name__}: {exc}"))
        self._selections = run.selections
        return out


def _needs(rule: object) -> list[tuple[str, pd.Timedelta, set[str]]]:
    if isinstance(rule, MetricRule):
        window = pd.Timedelta(rule.window)
        needs: list[tuple[str, pd.Timedelta, set[str]]] = [(rule.metric, window, {rule.agg})]
        if rule.divide_by is not None:
            needs.append((rule.divide_by.metric, window, {rule.divide_by.agg}))
        return needs
    if isinstance(rule, AbsentRule):
        return [(rule.metric, pd.Timedelta(rule.window), {"count"})]
    if isinstance(rule, KpiRule) and rule.kpi == "occupancy":
        return [("utilisation_ratio", pd.Timedelta(rule.window), {"mean", "coverage"})]
    if isinstance(rule, KpiRule):
        counters = KPI_COUNTERS[rule.kpi]
        window = pd.Timedelta(rule.window)
        return [
            (m, window, {"integral" if m == POWER else "increase", "coverage"}) for m in counters
        ]
    if isinstance(rule, SubmeterRule):
        return [("energy_joules_total", pd.Timedelta(rule.window), {"increase", "coverage"})]
    return []


class _Selection:
    """One label table's columns as string arrays and the masks of matcher lists over it."""

    def __init__(self, labels: pd.DataFrame) -> None:
        self.labels = labels
        self.columns = label_columns(labels)
        self.masks: dict[tuple[Matcher, ...], np.ndarray] = {}


class _Run:
    """Caches of one evaluation: raw reads, reduced tables, matcher masks."""

    def __init__(self, evaluator: Evaluator, now: pd.Timestamp) -> None:
        self.ev = evaluator
        self.now = now
        self.hour = now.floor("h")  # where windows read from hourly roll-ups end
        self._raw: dict[str, SeriesWindow] = {}
        self._prefetch = True
        self._tables: dict[tuple[str, timedelta], Table] = {}
        self.selections: dict[int, _Selection] = {}
        self._rows: dict[tuple[object, ...], np.ndarray] = {}
        self._denominators: dict[tuple[object, ...], F64] = {}

    def table(self, metric: str, window: timedelta) -> Table:
        """Every aggregate the rules ask of (metric, window), per series."""
        found = self._tables.get((metric, window))  # a timedelta and its Timedelta are one key
        if found is not None:
            return found
        w = pd.Timedelta(window)
        key = (metric, w)
        aggs = self.ev._aggs.get(key, {"last"})
        store = self.ev.store
        if w <= RAW_LIMIT:
            if self._prefetch:
                self._read_all()
            raw = self._raw.get(metric)
            if raw is None:
                span = self.ev._raw_span.get(metric, w)
                frame = store.query(metric, self.now - span, self.now)
                raw = SeriesWindow.from_frame(frame, self.now, self.ev.max_gap)
                self._raw[metric] = raw
            table = self._raw_table(key, raw, aggs)
        else:
            table = self._hourly_table(metric, w, aggs)
        self._tables[key] = table
        return table

    def _raw_table(self, key: tuple[str, pd.Timedelta], raw: SeriesWindow, aggs: set[str]) -> Table:
        """The window's aggregates: the very table of the evaluation before while the window
        holds the same series and samples (what was computed from it is then kept too)."""
        kept = self.ev._raw_tables.get(key)
        if kept is None or kept.samples is None or not raw.same(kept.samples, key[1]):
            kept = self.ev._raw_tables[key] = Table(raw.labels, raw.reduce(key[1], set(aggs)), raw)
        return kept

    def _read_all(self) -> None:
        """Every metric's raw window in one read, where the store offers it; a metric it
        returns nothing for, or every metric when the read fails, is read on its own."""
        self._prefetch = False
        reader = getattr(self.ev.store, "raw_windows", None)
        if not callable(reader) or not self.ev._raw_span:
            return
        starts = {m: self.now - span for m, span in self.ev._raw_span.items()}
        try:
            found = reader(starts, self.now)
        except Exception:  # each metric's own read then fails for its own rules only
            return
        kept = self.ev._labels
        for metric, (labels, key, t, v) in found.items():
            held = kept.get(metric)
            if held is None or held[0] is not labels:
                held = kept[metric] = (labels, label_table(labels))
            self._raw[metric] = SeriesWindow(held[1], (key, t, v), self.now, self.ev.max_gap)

    def _hourly_table(self, metric: str, w: pd.Timedelta, aggs: set[str]) -> Table:
        end = self.hour
        cached = self.ev._hourly.get((metric, w))
        if cached is not None and cached[0] == end:
            return cached[1]
        asked = sorted((set(aggs) - {"rate"}) | {"increase", "coverage"})
        frame = self.ev.store.query(metric, end - w, end, agg=asked)
        values = {a: frame[a].to_numpy(dtype=np.float64) for a in asked}
        covered_s = values["coverage"] * w.total_seconds()
        values["rate"] = values["increase"] / np.where(covered_s > 0, covered_s, np.nan)
        table = Table(SeriesWindow.from_aggregates(frame.drop(columns=asked)), values)
        self.ev._hourly[(metric, w)] = (end, table)
        return table

    def _selection(self, labels: pd.DataFrame) -> _Selection:
        """The label columns and matcher masks of a label table, kept from the evaluations
        before while the table is the same (its series unchanged)."""
        found = self.selections.get(id(labels)) or self.ev._selections.get(id(labels))
        if found is None or found.labels is not labels:
            found = _Selection(labels)
        self.selections[id(labels)] = found
        return found

    def columns(self, labels: pd.DataFrame) -> dict[str, np.ndarray]:
        """The label columns of a table as string arrays, computed once per table."""
        return self._selection(labels).columns

    def mask(self, labels: pd.DataFrame, matchers: tuple[Matcher, ...]) -> np.ndarray:
        """Rows whose labels match every matcher; each matcher's mask is computed once."""
        kept = self._selection(labels)
        found = kept.masks.get(matchers)
        if found is None:
            found = np.ones(len(labels), dtype=bool)
            missing = np.full(len(labels), "", dtype=object)
            for m in matchers:
                one = kept.masks.get((m,))
                if one is None:
                    one = kept.masks[(m,)] = m.mask(kept.columns.get(m.name, missing))
                found = found & one
            kept.masks[matchers] = found
        return found

    def _candidates(self, table: Table, agg: str, matchers: tuple[Matcher, ...]) -> np.ndarray:
        """Rows that match and have a value: shared by every rule with the same selection
        over the same window (windows of one metric share their labels, not their values)."""
        key = (id(table), agg, matchers)
        found = self._rows.get(key)
        if found is None:
            mask = self.mask(table.labels, matchers) & np.isfinite(table.values[agg])
            found = self._rows[key] = np.flatnonzero(mask)
        return found

    def metric_rule(self, rule: MetricRule) -> Outcome:
        table = self.table(rule.metric, rule.window)
        sources: tuple[object, ...] = (rule, table)
        if rule.divide_by is not None:
            sources += (self.table(rule.divide_by.metric, rule.window),)
        hits = self.ev._kept.get(("hits", id(rule)), sources, lambda: self._hits(rule, table))
        return Outcome(rule.alert, list(hits))

    def _hits(self, rule: MetricRule, table: Table) -> list[Hit]:
        if rule.divide_by is None:
            rows = self._candidates(table, rule.agg, rule.match)
            values = table.values[rule.agg][rows] * rule.scale
        else:
            ratio = self._divide(rule, table, table.values[rule.agg] * rule.scale)
            rows = np.flatnonzero(self.mask(table.labels, rule.match) & np.isfinite(ratio))
            values = ratio[rows]
        hit = OPS[rule.op](values, rule.threshold)  # rows with a NaN are left out above
        rows, values = rows[hit], values[hit]
        figures: dict[str, object] = {"threshold": rule.threshold, "window": _fmt(rule.window)}
        records = label_records(table.labels, rows, self.columns(table.labels))
        return [Hit(labels, float(v), figures) for v, labels in zip(values, records, strict=True)]

    def _divide(self, rule: MetricRule, table: Table, values: F64) -> F64:
        div = rule.divide_by
        assert div is not None
        key = (id(table.labels), div.metric, div.agg, div.join_on, rule.window)
        den = self._denominators.get(key)
        if den is None:
            den = self._denominators[key] = self._denominator(rule, table)
        with np.errstate(divide="ignore", invalid="ignore"):
            out: F64 = np.where(den > 0, values / den, np.nan)
        return out

    def _denominator(self, rule: MetricRule, table: Table) -> F64:
        """The divisor of each row of ``table``, joined on the labels both carry."""
        div = rule.divide_by
        assert div is not None
        other = self.table(div.metric, rule.window)
        present = [c for c in table.labels.columns if table.labels[c].notna().any()]
        on = list(div.join_on) if div.join_on else [c for c in present if c in other.labels.columns]
        if not on or table.labels.empty or other.labels.empty:
            return np.full(len(table.labels), np.nan)
        values = other.values[div.agg]
        sources = (table.labels, other.labels)
        key = ("joined", id(table.labels), id(other.labels), tuple(on))
        rows = self.ev._kept.get(key, sources, lambda: _joined_rows(*sources, on))
        if rows is not None:  # each divisor series' row, kept while both label tables are
            return np.where(rows >= 0, values[rows], np.nan)  # -1 indexes a row, masked
        right = other.labels[on].assign(_den=values).dropna(subset=["_den"])
        right = right.drop_duplicates(subset=on, keep="last")
        left = table.labels[on].reset_index(drop=True)
        den: F64 = left.merge(right, on=on, how="left")["_den"].to_numpy(dtype=np.float64)
        return den

    def _expected(self, rule: AbsentRule) -> tuple[list[str], set[tuple[str, ...]]]:
        """The ``by`` labels and the groups of known series seen within the look-back."""
        known = self._known(rule.metric)
        past = self._seen_before(rule.metric, pd.Timedelta(rule.lookback))
        seen = (past, self._raw_labels(rule.metric))
        key = ("expected", rule.metric, rule.match, rule.by, rule.network, rule.lookback)
        return self.ev._kept.get(key, (known, *seen), lambda: self._grouped(rule, known, seen))

    def _grouped(
        self, rule: AbsentRule, known: pd.DataFrame, seen: tuple[pd.DataFrame, pd.DataFrame]
    ) -> tuple[list[str], set[tuple[str, ...]]]:
        """:meth:`_expected` of the known series and those seen (in the look-back, now)."""
        rows = np.flatnonzero(self.mask(known, rule.match)) if not known.empty else None
        by = [] if rule.network else list(rule.by) or list(known.columns)
        # Seen in the look-back or now; a label one of them lacks is missing there, as in
        # one frame of both (these tables are kept between evaluations, that frame would not).
        names = {str(c) for frame in seen for c in frame.columns}
        candidates = set().union(*(self._keys(frame, by, names=names) for frame in seen))
        return by, self._keys(known, by, rows) & candidates

    def _known(self, metric: str) -> pd.DataFrame:
        """The metric's known series (labels), read again only after a write to the store
        (every evaluation from a store that does not count its writes); the very frame of
        the read before while they are the same, so that what was computed from it is kept."""
        generation = getattr(self.ev.store, "generation", None)
        kept = self.ev._known.get(metric)
        if kept is None or not isinstance(generation, int) or kept[0] != generation:
            known = self.ev.store.series(metric).drop(columns="metric")
            if not isinstance(generation, int):
                return known
            if kept is not None and kept[1].equals(known):
                known = kept[1]
            kept = self.ev._known[metric] = (generation, known)
        return kept[1]

    def _keys(
        self,
        frame: pd.DataFrame,
        by: list[str],
        rows: np.ndarray | None = None,
        names: set[str] | None = None,
    ) -> set[tuple[str, ...]]:
        """The distinct values of ``by`` over ``rows`` of ``frame`` (None: every row), ``""``
        for a missing label, the ``hub`` and ``region`` of each row's site where no column
        has that name (``names``: the frame's columns unless given); one empty group for
        ``by=[]``."""
        if frame.empty or (rows is not None and not len(rows)):
            return set()
        if not by:
            return {()}
        cols = self.columns(frame)
        named = set(cols) if names is None else names
        blank = np.full(len(frame), "", dtype=object)
        picked = [
            cols[c]
            if c in cols
            else self._placed(cols, c)
            if "site" in cols and c not in named
            else blank
            for c in by
        ]
        return set(zip(*(p if rows is None else p[rows] for p in picked), strict=True))

    def _placed(self, cols: dict[str, np.ndarray], label: str) -> np.ndarray:
        """The ``hub`` or ``region`` of each row's site (``""`` where none is known); another
        label is missing on every row."""
        place = self.ev._places.get(label, {})
        return np.array([place.get(site, "") for site in cols["site"]], dtype=object)

    def absent_rule(self, rule: AbsentRule) -> Outcome:
        recent = self.table(rule.metric, rule.window)
        by, expected = self._expected(rule)
        if not expected:
            return Outcome(rule.alert)
        key = ("recent", rule.metric, rule.window, tuple(by), rule.network)
        seen = self.ev._kept.get(key, (recent,), lambda: self._present(recent, by))
        absent = sorted(expected - seen)
        hits = [
            Hit(
                {k: v for k, v in zip(by, values, strict=True) if v},
                math.nan,
                {"window": _fmt(rule.window)},
            )
            for values in absent
            if rule.network or any(values)
        ]
        return Outcome(rule.alert, hits)

    def _present(self, recent: Table, by: list[str]) -> set[tuple[str, ...]]:
        """The groups of ``by`` with samples in the window."""
        return self._keys(recent.labels, by, np.flatnonzero(recent.values["count"] > 0))

    def _seen_before(self, metric: str, lookback: pd.Timedelta) -> pd.DataFrame:
        """Series with samples in the look-back up to the last full hour (roll-ups, hourly)."""
        hour = self.hour
        cached = self.ev._seen.get((metric, lookback))
        if cached is None or cached[0] != hour:
            past = self.ev.store.query(metric, hour - lookback, hour, agg="count")
            cached = (hour, past[past["value"] > 0])
            self.ev._seen[(metric, lookback)] = cached
        return cached[1]

    def _raw_labels(self, metric: str) -> pd.DataFrame:
        raw = self._raw.get(metric)
        return raw.labels if raw is not None else pd.DataFrame()


def _joined_rows(left: pd.DataFrame, right: pd.DataFrame, on: list[str]) -> np.ndarray | None:
    """Each ``left`` row's row in ``right`` with the same ``on`` labels (-1: none), where
    those are unique in ``right``; None where a divisor's labels repeat (which one divides
    then depends on its values)."""
    if right.duplicated(subset=on).any():
        return None
    rows = right[on].assign(_row=np.arange(len(right)))
    joined = left[on].reset_index(drop=True).merge(rows, on=on, how="left")["_row"]
    return np.asarray(joined.fillna(-1).to_numpy(dtype=np.int64))


@lru_cache(maxsize=256)
def _fmt(window: timedelta) -> str:
    return format_duration(window)

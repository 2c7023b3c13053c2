"""KPI and sub-meter rules: figures from the metrics engine over per-window totals.

Per window the site totals are read once for every site: for long windows (over an hour) they
are the query layer's (:func:`greenwatch.query.site_totals`, the very figures of the KPI API);
short windows reduce raw samples (energy counters, power where a meter has no counter, water,
green energy) and take site totals from the same metrics function
(:func:`greenwatch.metrics.site_energy_totals`), scaled to the whole window. Every KPI rule is
computed from them with the metrics engine's definitions: ISO/IEC 30134 ratios of energies over
the same period, group figures as ratios of summed totals (:func:`greenwatch.metrics.rollup`),
not judged below their share of the scope. A figure whose coverage is below the rule's
``min_coverage`` is not judged: the rule's instance is held and the rule's data-quality
companion fires instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from datetime import timedelta
from typing import Any, cast

import numpy as np
import pandas as pd

from greenwatch.alerts._kept import Kept
from greenwatch.alerts._matchers import matches_all
from greenwatch.alerts._outcome import OPS, Hit, Outcome, Table
from greenwatch.alerts._rules import SITE_TARGETS, KpiRule, SubmeterRule, coverage_rule_id
from greenwatch.inventory import Inventory, Level, grid_factors, site_grid_factor
from greenwatch.metrics import (
    NATIONAL_PUE_TARGET,
    Kpi,
    Measured,
    cue,
    interval_energy,
    meter_energy,
    partial_pue,
    pue,
    ref,
    rollup,
    site_energy_totals,
    submeter_findings,
    wue,
)
from greenwatch.model import format_duration

TableFn = Callable[[str, timedelta], Table]
# A label table's site and label columns as strings and its (site, label) pairs numbered.
Keyed = tuple[pd.api.extensions.ExtensionArray, pd.api.extensions.ExtensionArray, np.ndarray]
Total = tuple[float, float]  # (value, coverage)
Figure = tuple[dict[str, str], dict[str, str], float, float, float | None]
MISSING: Total = (math.nan, 0.0)
# Windows up to this long are reduced from raw samples and end at the evaluation instant.
# Longer ones are store aggregates over whole hours (read from its hourly roll-ups) ending at
# the last full hour, read once per hour: a 24-hour figure moves little within an hour.
RAW_LIMIT = pd.Timedelta(hours=1)
# The counters behind each KPI, read once per window for all sites.
ENERGY, WATER, GREEN = "energy_joules_total", "water_litres_total", "green_energy_joules_total"
# Meters without an energy counter are read by their power (integrated over time).
POWER = "power_watts"
KPI_COUNTERS: dict[str, tuple[str, ...]] = {
    "pue": (ENERGY, POWER),
    "ppue": (ENERGY, POWER),
    "cue": (ENERGY, POWER),
    "wue": (ENERGY, POWER, WATER),
    "ref": (ENERGY, POWER, GREEN),
}
# The tables site totals are computed from, in this order.
COUNTERS = (ENERGY, POWER, WATER, GREEN)
_NONE = Table(
    pd.DataFrame(), {"increase": np.zeros(0), "integral": np.zeros(0), "coverage": np.zeros(0)}
)


def _per_label(
    table: Table, label: str, keyed: Keyed | None, *, scale: bool = False, agg: str = "increase"
) -> pd.DataFrame:
    """``agg`` (as ``value``) and coverage by site and ``label``, summed over other labels;
    ``keyed``: :func:`_keyed` of the table's labels.

    With ``scale``, each value is divided by its coverage: the total over the whole window
    at the rate its covered part shows. Two meters with different gaps then compare like with
    like in a ratio (PUE of a window where the facility meter missed 5 minutes is not 8 %
    low); the coverage still says how much of the window evidences it.
    """
    if keyed is None:
        return pd.DataFrame(columns=["site", label, "value", "coverage"])
    site, key, pair = keyed
    value = np.asarray(table.values[agg], dtype="float64")
    coverage = np.asarray(table.values["coverage"], dtype="float64")
    rows = np.flatnonzero(~np.isnan(value))
    if scale:
        value = value / np.where(coverage > 0, coverage, np.nan)
    columns = {"site": site[rows], label: key[rows], "value": value[rows]}
    frame = pd.DataFrame(columns | {"coverage": coverage[rows]})
    if len(rows) and np.bincount(pair[rows]).max() == 1:
        return _one_per_group(frame)
    return _summed(frame, label)


def _keyed(labels: pd.DataFrame, label: str) -> Keyed | None:
    """The site and ``label`` columns of a label table as strings ('' for a missing label)
    and each row's (site, label) pair numbered; None where the table has no site. Computed
    once per label table: its series stay while the store's do."""
    if labels.empty or "site" not in labels.columns:
        return None
    keys = labels[label] if label in labels.columns else pd.Series("", index=labels.index)
    site = labels["site"].astype(str)
    key = keys.astype(object).where(keys.notna(), "").astype(str)
    pair = np.zeros(len(labels), dtype="int64")
    for column in (site, key):  # a missing site is one value, as duplicated() counts it
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
        pair = pair * len(uniques) + codes
    return site.array, key.array, pd.factorize(pair)[0]


def _summed(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Value summed and least coverage per (site, ``label``), in order of appearance."""
    grouped = frame.groupby(["site", label], sort=False)
    return grouped.agg(value=("value", "sum"), coverage=("coverage", "min")).reset_index()


def _one_per_group(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`_summed` of a frame with one row per (site, label), without grouping: each row
    is its group's sum (``nan`` sums to 0) and least coverage; rows without a site go."""
    rows = frame[frame["site"].notna()]
    return rows.assign(value=rows["value"].fillna(0.0)).reset_index(drop=True)


def _reset_fills(counter: Table, power: Table, window: pd.Timedelta) -> pd.DataFrame:
    """Per site and meter of a raw window: J to add where a counter's reset pair is covered by
    the same meter's power series (its integral replaces the pair's increase, as in
    :func:`greenwatch.metrics.interval_energy`), and the seconds filled."""
    columns = ["site", "meter", "fill_j", "filled_s"]
    raw, gauge = counter.samples, power.samples
    pairs = raw.reset_pairs(window) if raw is not None else []
    named = all("meter" in t.labels.columns for t in (counter, power))
    if not pairs or gauge is None or not named:
        return pd.DataFrame(columns=columns)
    at = {
        (str(site), str(meter)): j
        for j, (site, meter) in enumerate(
            zip(power.labels["site"], power.labels["meter"], strict=True)
        )
    }
    rows = []
    for series, t0, t1, increase in pairs:
        site, meter = (str(counter.labels.at[series, k]) for k in ("site", "meter"))
        if (site, meter) not in at:
            continue
        pair = (pd.Timestamp(t0, tz="UTC"), pd.Timestamp(t1, tz="UTC"))
        over = interval_energy(
            power=gauge.samples(at[site, meter], window),
            start=pair[0],
            end=pair[1],
            max_gap=pd.Timedelta(gauge.max_gap, unit="ns"),
        )
        if over.coverage >= 1.0:
            rows.append((site, meter, over.value - increase, (t1 - t0) / 1e9))
    found = pd.DataFrame(rows, columns=columns)
    return found.groupby(["site", "meter"], as_index=False)[["fill_j", "filled_s"]].sum()


def _site_kpi(row: Mapping[Hashable, Any], kpi: str) -> Kpi:
    def q(name: str, unit: str = "j") -> Measured:
        return Measured(float(row[f"{name}_{unit}"]), float(row[f"{name}_coverage"]))

    it = q("it")
    if kpi == "pue":
        return pue(q("facility"), it, category=int(row["pue_category"]))
    if kpi == "ppue":
        return partial_pue(q("cooling"), it, subsystem_name="cooling")
    if kpi == "cue":
        return cue(q("co2", "kg"), it)
    if kpi == "wue":
        return wue(q("water", "l"), it)
    return ref(q("renewable"), q("facility"))


def _threshold(rule: KpiRule, target: float | None) -> float | None:
    if rule.threshold != "target":
        return float(rule.threshold)
    if target is None or math.isnan(target):
        return None
    sign = 1.0 if rule.op in (">", ">=") else -1.0 if rule.op in ("<", "<=") else 0.0
    return float(target) + sign * rule.margin


class KpiEvaluator:
    """KPI and sub-meter rules at one instant; caches per-window totals."""

    def __init__(
        self,
        inventory: Inventory,
        rules: list[KpiRule],
        site_totals: Callable[[pd.Timestamp, pd.Timestamp], pd.DataFrame] | None = None,
    ) -> None:
        self.inventory = inventory
        self._read_totals = site_totals
        self._counters: dict[timedelta, set[str]] = {}
        for rule in rules:
            wanted = KPI_COUNTERS.get(rule.kpi, ())
            self._counters.setdefault(rule.window, set()).update(wanted)
        self._targets = {
            s.id: {kpi: getattr(s.targets, attr) for kpi, attr in SITE_TARGETS.items()}
            for s in inventory.sites
        }
        factors = grid_factors()
        found = [site_grid_factor(s, factors) for s in inventory.sites]
        self._sites = pd.DataFrame(
            {
                "site": [s.id for s in inventory.sites],
                "pue_category": [s.pue_category for s in inventory.sites],
                "factor_kg_per_kwh": [f.kg_per_kwh for f in found],
            }
        )
        self._sites_meta = pd.DataFrame(
            {
                "site": [s.id for s in inventory.sites],
                "hub": [s.hub for s in inventory.sites],
                "region": [s.region.value for s in inventory.sites],
                "kind": [s.kind.value for s in inventory.sites],
                "province": [s.province for s in inventory.sites],
                "pue_category": [s.pue_category for s in inventory.sites],
                "it_capacity_kw": [s.it_capacity_kw for s in inventory.sites],
            }
        )
        # Long windows' totals from the query layer, by window and end (read once per hour);
        # the rest is kept under the identity of the tables or totals it is computed from.
        self._totals: dict[tuple[timedelta, pd.Timestamp], pd.DataFrame] = {}
        self._kept = Kept()
        self.now = self.hour = pd.Timestamp(0, tz="UTC")

    def reset(self, now: pd.Timestamp) -> None:
        """A new instant: forget totals of windows that end earlier."""
        self.now, self.hour = now, now.floor("h")
        ends = {now, self.hour}
        self._totals = {k: v for k, v in self._totals.items() if k[1] in ends}
        self._kept.turn()

    def _per_label(
        self, table: Table, label: str, scale: bool, agg: str = "increase"
    ) -> pd.DataFrame:
        """:func:`_per_label` of a table, once per table (KPI and sub-meter rules share the
        energy per meter)."""
        key = ("labelled", id(table), label, scale, agg)
        return self._kept.get(
            key,
            (table,),
            lambda: _per_label(table, label, self._keyed(table, label), scale=scale, agg=agg),
        )

    def _keyed(self, table: Table, label: str) -> Keyed | None:
        """:func:`_keyed` of a table's labels, kept while they are the same table."""
        labels = table.labels
        return self._kept.get(
            ("keyed", id(labels), label), (labels,), lambda: _keyed(labels, label)
        )

    def _end(self, window: timedelta) -> pd.Timestamp:
        return self.now if pd.Timedelta(window) <= RAW_LIMIT else self.hour

    def _site_totals(self, window: timedelta, table: TableFn) -> pd.DataFrame:
        """One row per inventory site: energies, water, green energy and CO2, with coverage."""
        key = (window, self._end(window))
        if key not in self._totals and self._read_totals and pd.Timedelta(window) > RAW_LIMIT:
            # Long windows: the query layer's site totals, the very figures of the KPI API.
            self._totals[key] = self._read_totals(key[1] - pd.Timedelta(window), key[1])
        if key in self._totals:
            return self._totals[key]
        wanted = self._counters.get(window, {ENERGY})
        tables = tuple(table(m, window) if m in wanted else _NONE for m in COUNTERS)
        return self._kept.get(
            ("totals", window), tables, lambda: self._computed_totals(window, tables)
        )

    def _computed_totals(self, window: timedelta, tables: tuple[Table, ...]) -> pd.DataFrame:
        """:meth:`_site_totals` from the tables of :data:`COUNTERS` over the window (``_NONE``
        for a counter no rule of the window needs)."""
        # Raw windows leave gaps out (see _window) and are scaled to the whole window.
        span = pd.Timedelta(window)
        scale = span <= RAW_LIMIT
        energy, power_w, water, green = tables

        def read(t: Table, label: str, agg: str = "increase") -> pd.DataFrame:
            return self._per_label(t, label, scale, agg)

        counter = read(energy, "meter").rename(columns={"value": "increase"})
        power = read(power_w, "meter", "integral").rename(columns={"value": "integral"})
        if scale and energy is not _NONE and power_w is not _NONE:
            # A reset pair covered by power counts its energy, not the counter's restart.
            fills = _reset_fills(energy, power_w, span)
            if len(fills):  # without (most windows), meter_energy fills nothing alike
                counter = counter.merge(fills, on=["site", "meter"], how="left")
                counter["fill_j"] = counter["fill_j"] / counter["coverage"].where(
                    counter["coverage"] > 0
                )
        totals = site_energy_totals(
            meter_energy(counter, power, ["site", "meter"]),
            self._sites,
            water=read(water, "meter"),
            green=read(green, "instrument"),
        )
        # One row per inventory site in its order, as _sites_meta: side by side, no join.
        return pd.concat([self._sites_meta, totals.drop(columns="site")], axis=1)

    def kpi_rule(self, rule: KpiRule, table: TableFn) -> list[Outcome]:
        """The rule's outcome and its data-quality companion's."""
        main, quality = Outcome(rule.alert), Outcome(coverage_rule_id(rule))
        for labels, attrs, value, coverage, target in self._figures(rule, table):
            if not matches_all(rule.match, attrs):
                continue
            threshold = _threshold(rule, target)
            if threshold is None:
                continue
            figures: dict[str, object] = {
                "threshold": threshold,
                "coverage": coverage,
                "min_coverage": rule.min_coverage,
                "window": format_duration(rule.window),
                "scope": " ".join(labels.values()),
            }
            if not coverage >= rule.min_coverage or math.isnan(value):
                main.held.append(labels)
                companion = {**labels, "kpi": rule.kpi, "rule": rule.alert}
                quality.hits.append(Hit(companion, coverage, figures))
            elif bool(OPS[rule.op](np.array([value]), threshold)[0]):
                main.hits.append(Hit(labels, value, figures))
        return [main, quality]

    def _figures(self, rule: KpiRule, table: TableFn) -> list[Figure]:
        """(labels, attributes for matchers, value, coverage, target) per judged scope."""
        if rule.kpi == "occupancy":
            return self._occupancy(rule, table)
        totals = self._site_totals(rule.window, table)
        if rule.level == "site":
            key = ("figures", rule.window, rule.kpi)
            return self._kept.get(key, (totals,), lambda: self._per_site(totals, rule.kpi))
        level = Level(rule.level)
        result = self._kept.get(
            ("rollup", rule.window, str(level)),
            (totals,),
            lambda: rollup(totals, level, min_coverage=0.0).kpis,
        )
        rows = result[result["kpi"] == rule.kpi]
        out: list[Figure] = []
        national = rule.level == "national"
        for group, value, coverage, published in zip(
            rows["group"], rows["value"], rows["coverage"], rows["published"], strict=True
        ):
            labels = {"scope": "national"} if national else {str(rule.level): str(group)}
            target = NATIONAL_PUE_TARGET if national else None
            # A figure resting on too small a share of its scope is not judged (held).
            judged = float(value) if published else math.nan
            out.append((labels, labels, judged, float(coverage), target))
        return out

    def _per_site(self, totals: pd.DataFrame, kpi: str) -> list[Figure]:
        out: list[Figure] = []
        columns = totals.to_dict("list")  # a list per column: cheaper than a dict per row
        for values in zip(*columns.values(), strict=True):
            row = dict(zip(columns, values, strict=True))
            k = _site_kpi(row, kpi)
            site = str(row["site"])
            attrs = {a: str(row[a]) for a in ("site", "hub", "region", "kind", "province")}
            target = self._targets.get(site, {}).get(kpi)
            out.append(({"site": site}, attrs, k.value, k.coverage, target))
        return out

    def _occupancy(self, rule: KpiRule, table: TableFn) -> list[Figure]:
        t = table("utilisation_ratio", rule.window)
        labels = t.labels
        found: dict[str, Total] = {}
        if not labels.empty and "resource" in labels.columns:
            for i in np.flatnonzero((labels["resource"] == "it_capacity").to_numpy()):
                site = str(labels["site"].iloc[i])
                found[site] = (float(t.values["mean"][i]), float(t.values["coverage"][i]))
        out: list[Figure] = []
        for s in self.inventory.sites:
            value, coverage = found.get(s.id, MISSING)
            attrs = {"site": s.id, "hub": s.hub or "", "region": s.region.value}
            attrs |= {"kind": s.kind.value, "province": s.province}
            out.append(({"site": s.id}, attrs, value, coverage, s.targets.occupancy))
        return out

    def _submeter_findings(self, rule: SubmeterRule, table: TableFn) -> list[dict[str, Any]]:
        """Findings at tolerance 0 (every parent with a drift or a missing meter), shared by
        the rules over the same window and meter tree; each rule applies its own tolerance."""
        parents = tuple(sorted(rule.parents.items()))
        counter = table(ENERGY, rule.window)
        key = ("findings", rule.window, parents)
        return self._kept.get(key, (counter,), lambda: self._findings(rule, counter))

    def _findings(self, rule: SubmeterRule, counter: Table) -> list[dict[str, Any]]:
        scale = pd.Timedelta(rule.window) <= RAW_LIMIT
        energy = self._per_label(counter, "meter", scale)
        meters = set(rule.parents) | set(rule.parents.values())
        rows = energy[energy["meter"].isin(meters)].rename(columns={"value": "energy_j"})
        rows = rows.assign(parent=rows["meter"].map(lambda m: rule.parents.get(m, "")))
        found = submeter_findings(rows, tolerance=0.0) if len(rows) else None
        records = [] if found is None else found.to_dict("records")
        return cast(list[dict[str, Any]], records)

    def submeter_rule(self, rule: SubmeterRule, table: TableFn) -> Outcome:
        """Parents whose sub-meters drift beyond the tolerance, or whose own meter is missing."""
        out = Outcome(rule.alert)
        for rec in self._submeter_findings(rule, table):
            if rec["reason"] == "drift" and not abs(rec["drift_ratio"]) > rule.tolerance:
                continue
            labels = {"site": str(rec["site"]), "meter": str(rec["parent"])}
            coverage = 0.0 if pd.isna(rec["coverage"]) else float(rec["coverage"])
            if rec["reason"] == "drift" and coverage < rule.min_coverage:
                out.held.append(labels)
                continue
            figures: dict[str, object] = {
                "reason": str(rec["reason"]),
                "tolerance": rule.tolerance,
                "coverage": coverage,
                "children": int(rec["children"]),
                "window": format_duration(rule.window),
            }
            out.hits.append(Hit(labels, float(rec["drift_ratio"]), figures))
        return out

"""Energy per meter from what the meter reports, and site totals from energy per meter.

The one place where "which meter is IT energy, where energy comes from, how coverage and
green energy default, how CO2 is computed" is written (DESIGN.md "Definitions that must be
right"). Every consumer (query, alerts, dashboard, reports, export) gets site totals from
:func:`site_energy_totals`, over whole periods (keys ``site``) or per bucket (keys ``site``,
``ts``).

Energy per meter (:func:`meter_energy`): the energy counter's increase (J, reset- and
wrap-aware, see :mod:`greenwatch.metrics._energy`) wherever the counter has evidence in the
period, with each reset pair filled from the same meter's power series where power covers it;
else the trapezoid integral of the power series (W x s = J) with gaps bounded. Provenance says
which: ``counter``, ``power`` or ``mixed`` (a counter with reset pairs filled from power). A
meter with neither has no energy: NaN (no data is null, never zero), coverage 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from greenwatch.metrics._kpi import J_PER_KWH, PUE_CATEGORY_METERS

# Columns of meter_energy's answer besides the keys.
METER_ENERGY_COLUMNS = ("energy_j", "coverage", "provenance", "resets", "filled_s")
# Site totals: each name has a value column (unit suffix) and one ``<name>_coverage`` column.
TOTALS: dict[str, str] = {
    "facility": "facility_j",
    "it": "it_j",
    "cooling": "cooling_j",
    "water": "water_l",
    "renewable": "renewable_j",
    "reused": "reused_j",
    "co2": "co2_kg",
}
SITE_TOTAL_COLUMNS: tuple[str, ...] = (
    *(c for name, value in TOTALS.items() for c in (value, f"{name}_coverage")),
    "co2_market_kg",
    "facility_provenance",
    "it_provenance",
    "provenance",
)


# Provenance as bits: a figure resting on counters and on power is "mixed".
_BITS = {"": 0, "counter": 1, "power": 2, "mixed": 3}
_NAMES = np.array(["", "counter", "power", "mixed"], dtype=object)
_NAME_INDEX = pd.Index(list(_NAMES), dtype="str")


def _bits(provenance: pd.Series) -> pd.Series:
    # Factorised first: a handful of distinct names, so a dict lookup per name, not per row.
    codes, uniques = pd.factorize(provenance)
    table = np.array([*(_BITS.get(str(u), 0) for u in uniques), 0], dtype="int64")
    return pd.Series(table[codes], index=provenance.index)  # code -1 (missing): the last, 0


def _named(bits: pd.Series | np.ndarray) -> pd.Index:
    # Taken from a string index: no per-row conversion of Python strings to a string column.
    taken: pd.Index = _NAME_INDEX.take(np.asarray(bits, dtype="int64"))
    return taken


def combined_provenance(names: pd.Series) -> str:
    """One provenance for several figures: ``counter``, ``power``, ``mixed`` or '' (none)."""
    bits = _bits(names).to_numpy()
    return str(_NAMES[int(np.bitwise_or.reduce(bits, initial=0))])


def provenance_by(names: pd.Series, by: pd.Series) -> pd.Series:
    """:func:`combined_provenance` of ``names`` per value of ``by`` (index: those values, in
    order of first appearance; rows whose ``by`` is missing count nowhere)."""
    codes, uniques = pd.factorize(by)
    bits = _bits(names).to_numpy()
    either = np.zeros(len(uniques), dtype="int64")
    np.bitwise_or.at(either, codes[codes >= 0], bits[codes >= 0])
    return pd.Series(_named(either), index=uniques, dtype=object)


def _per_site(site: pd.Series, table: pd.Series) -> np.ndarray:
    """``table`` (indexed by site) looked up for each row of ``site``, NaN where absent: one
    lookup per distinct site, not per row."""
    codes, uniques = pd.factorize(site)
    values = np.append(table.reindex(uniques).to_numpy(dtype=object), np.nan)
    return np.asarray(values[codes])  # code -1 (missing site): the appended NaN


def meter_energy(counter: pd.DataFrame, power: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Energy in J of each meter (one row per ``keys``) with coverage and provenance.

    ``counter``: ``keys`` + ``increase`` (J, reset-aware counter increase), ``coverage``
    (0-1), ``resets`` and optionally ``fill_j`` (J to add where reset pairs were filled from
    power: power integral minus the counter's increase over those pairs) and ``filled_s``.
    ``power``: ``keys`` + ``integral`` (J, trapezoid of W over s, gaps bounded) and
    ``coverage``. A counter row is used where it has evidence (coverage > 0 or a non-zero
    increase across a bridged gap) or where no power row exists; else the power row. Output
    columns: ``keys`` + :data:`METER_ENERGY_COLUMNS`; ``energy_j`` is NaN with coverage 0 where
    nothing evidences the meter. DESIGN.md "Definitions that must be right" (energy).
    """
    keys = list(keys)
    c = counter.reindex(columns=[*keys, "increase", "coverage", "resets", "fill_j", "filled_s"])
    p = power.reindex(columns=[*keys, "integral", "coverage"])
    key_columns, ci, pi = _joined(c, p, keys)
    has_power = pi >= 0

    def taken(frame: pd.DataFrame, at: np.ndarray, column: str) -> np.ndarray:
        # The row's value where it has one on that side, else NaN (as an outer join).
        values = frame[column].to_numpy("float64", na_value=np.nan)
        return np.where(at >= 0, values[at] if len(values) else np.nan, np.nan)

    increase, coverage_c = taken(c, ci, "increase"), taken(c, ci, "coverage")
    coverage_c = np.where(ci >= 0, np.nan_to_num(coverage_c, nan=0.0), np.nan)
    evidence = (coverage_c > 0) | (np.nan_to_num(increase, nan=0.0) != 0.0)
    use_counter = (ci >= 0) & (evidence | ~has_power)
    counter_j = increase + np.nan_to_num(taken(c, ci, "fill_j"), nan=0.0)
    counter_known = use_counter & evidence
    power_cov = np.nan_to_num(taken(p, pi, "coverage"), nan=0.0)
    power_known = ~use_counter & (power_cov > 0)
    energy = np.where(
        counter_known, counter_j, np.where(power_known, taken(p, pi, "integral"), np.nan)
    )
    coverage = np.where(use_counter, np.nan_to_num(coverage_c, nan=0.0), power_cov)
    filled = np.nan_to_num(taken(c, ci, "filled_s"), nan=0.0)
    bits = np.where(
        counter_known,
        np.where(filled > 0, _BITS["mixed"], _BITS["counter"]),
        np.where(power_known, _BITS["power"], _BITS[""]),
    )
    resets = np.nan_to_num(taken(c, ci, "resets"), nan=0.0)
    out: dict[str, object] = {
        **key_columns,
        "energy_j": energy,
        "coverage": np.clip(coverage, 0.0, 1.0),
        "provenance": _named(bits),
        "resets": np.where(use_counter, resets, 0).astype("int64"),
        "filled_s": np.where(use_counter, filled, 0.0),
    }
    return pd.DataFrame(out)


def _joined(
    c: pd.DataFrame, p: pd.DataFrame, keys: list[str]
) -> tuple[dict[str, pd.Series], np.ndarray, np.ndarray]:
    """The key columns of a full outer join of counter and power rows, in the order
    ``pd.merge`` gives them, and each row's position in ``c`` and in ``p`` (-1: none there).
    Without power rows (the common case) the counter rows as they are; where each side's keys
    are unique and known, in numpy (sorted as the merge sorts them); else the merge itself.
    Columns are read one by one: taking a list of them copies them all."""
    at = np.arange(len(c))
    if p.empty:
        return {k: c[k].reset_index(drop=True) for k in keys}, at, np.full(len(c), -1)
    if all(c[k].equals(p[k]) for k in keys):  # every meter read both ways: no concat
        key = _sorted_key([c[k] for k in keys], [True] * len(keys))
        order = np.argsort(key, kind="stable") if key is not None else at
        if key is not None and not (np.diff(key[order]) == 0).any():
            return {k: _taken(c[k], order) for k in keys}, order, order
    both = [pd.concat([c[k], p[k]], ignore_index=True) for k in keys]
    key = _sorted_key(both, [c[k].dtype == p[k].dtype for k in keys])
    row = _union_rows(key) if key is not None else None
    if row is None or _repeats(row[: len(c)]) or _repeats(row[len(c) :]):
        sides = [c[keys].assign(_c=at), p[keys].assign(_p=np.arange(len(p)))]
        merged = sides[0].merge(sides[1], on=keys, how="outer")
        return (
            {k: merged[k] for k in keys},
            merged["_c"].fillna(-1).to_numpy("int64"),
            merged["_p"].fillna(-1).to_numpy("int64"),
        )
    size = int(row.max(initial=-1)) + 1
    ci, pi = np.full(size, -1), np.full(size, -1)
    ci[row[: len(c)]] = at
    pi[row[len(c) :]] = np.arange(len(p))
    first = np.where(ci >= 0, ci, len(c) + pi)
    return {k: _taken(column, first) for k, column in zip(keys, both, strict=True)}, ci, pi


def _taken(column: pd.Series, rows: np.ndarray) -> pd.Series:
    """These rows of a column, of its dtype (objects stay objects), indexed from 0."""
    return pd.Series(column.array.take(rows), dtype=column.dtype)


def key_codes(
    columns: Sequence[pd.Series], rows: int, *, sort: bool
) -> tuple[np.ndarray, np.ndarray]:
    """One integer per row (of ``rows``) for its key values (ordered as the keys sort,
    column by column, with ``sort``) and which rows have every key; a missing key's row gets
    a meaningless integer."""
    combined = np.zeros(rows, dtype="int64")
    known = np.ones(rows, dtype=bool)
    for column in columns:
        codes, uniques = pd.factorize(column, sort=sort)
        known &= codes >= 0
        combined = combined * len(uniques) + codes
    return combined, known


def _sorted_key(columns: list[pd.Series], alike: list[bool]) -> np.ndarray | None:
    """One integer per row ordered as the rows' keys sort (column by column); None where
    a key is missing or a column's dtype differs between the sides (``alike``)."""
    if not all(alike):
        return None
    combined, known = key_codes(columns, len(columns[0]) if columns else 0, sort=True)
    return combined if known.all() else None


def _union_rows(key: np.ndarray) -> np.ndarray:
    """Each row's place among the distinct keys in sorted order."""
    order = np.argsort(key, kind="stable")
    rises = np.diff(key[order], prepend=-1) != 0  # keys are >= 0
    row = np.empty(len(key), dtype="int64")
    row[order] = np.cumsum(rises) - 1
    return row


def _repeats(row: np.ndarray) -> bool:
    return bool(len(row) and np.bincount(row).max() > 1)


# Meters site totals read: facility, each category's IT meter, cooling.
SITE_METERS: tuple[str, ...] = ("facility", *dict.fromkeys(PUE_CATEGORY_METERS.values()), "cooling")


def meter_columns(
    energy: pd.DataFrame, keys: Sequence[str], meters: Sequence[str] = SITE_METERS
) -> pd.DataFrame:
    """Per ``keys`` (``site`` [, ``ts``]), each of ``meters`` as three columns: energy in J
    summed over its rows (NaN where none is known), coverage (the least of its rows; NaN:
    the meter has no row there) and provenance bits (1 counter, 2 power, 3 both).

    ``energy``: :func:`meter_energy` rows with a ``meter`` key. This is the part of
    :func:`site_energy_totals` that does not depend on the inventory; per hour it is what a
    store may keep (greenwatch.query), and :func:`totals_from_meters` finishes the totals.
    Rows come in order of first appearance of their keys; a row with a missing key counts
    nowhere. Computed in numpy over (keys, meter) cells: these frames are small and many.
    """
    keys, meters = list(keys), list(meters)
    slot = _slots(energy["meter"], meters)
    group = _groups([energy[k] for k in keys], slot >= 0)
    at = np.flatnonzero(group >= 0)
    # Groups are numbered in order of first appearance: a group's first row is where the
    # running maximum of the numbers rises.
    rises = np.diff(np.maximum.accumulate(group[at]), prepend=-1) > 0
    cell = group[at] * len(meters) + slot[at]
    size = int(rises.sum()) * len(meters)
    counts = np.bincount(cell, minlength=size)
    least = np.full(size, np.inf)
    np.fmin.at(least, cell, energy["coverage"].to_numpy("float64")[at])  # NaN counts nowhere
    bits = np.zeros(size, dtype="int64")
    np.bitwise_or.at(bits, cell, _bits(energy["provenance"]).to_numpy()[at])
    j = energy["energy_j"].to_numpy("float64")[at]
    figures = {
        "j": _cell_sums(j, cell, size, several=bool(counts.max(initial=0) > 1)),
        "coverage": np.where(least < np.inf, least, np.nan),
        "bits": np.where(counts > 0, bits, np.nan),
    }
    out = {k: energy[k].iloc[at[rises]].array for k in keys}
    for i, m in enumerate(meters):
        for what, values in figures.items():
            out[f"{m}_{what}"] = values.reshape(-1, len(meters))[:, i]
    return pd.DataFrame(out)


def _slots(meter: pd.Series, meters: list[str]) -> np.ndarray:
    """Each row's position in ``meters`` (-1: none of them), one lookup per distinct name."""
    codes, uniques = pd.factorize(meter)
    where = {m: i for i, m in enumerate(meters)}
    table = np.array([*(where.get(u, -1) for u in uniques), -1], dtype="int64")
    return np.asarray(table[codes])  # code -1 (missing meter): the last, -1


def _groups(columns: list[pd.Series], kept: np.ndarray) -> np.ndarray:
    """Each ``kept`` row's group of key values, numbered in order of first appearance; -1
    for the other rows and where a key is missing (such a row counts nowhere, as in a
    groupby)."""
    combined, known = key_codes(columns, len(kept), sort=False)
    counted = kept & known
    out = np.full(len(kept), -1, dtype="int64")
    out[counted] = pd.factorize(combined[counted])[0]
    return out


def _cell_sums(values: np.ndarray, cell: np.ndarray, size: int, *, several: bool) -> np.ndarray:
    """Sum of the known ``values`` per cell, NaN where none is known (``sum(min_count=1)``);
    pandas' own sum where a cell has ``several`` rows, so that the sums are its to the bit."""
    if several:
        sums = pd.Series(values).groupby(cell).sum(min_count=1)
        return np.asarray(sums.reindex(range(size)).to_numpy("float64"))
    known = ~np.isnan(values)
    out = np.full(size, np.nan)
    out[cell[known]] = values[known]
    return out


def site_energy_totals(
    energy: pd.DataFrame,
    sites: pd.DataFrame,
    *,
    keys: Sequence[str] = ("site",),
    water: pd.DataFrame | None = None,
    green: pd.DataFrame | None = None,
    reused: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per-site facility, IT, cooling, water, renewable, reused energy and CO2 with coverage.

    ``energy``: :func:`meter_energy` of ``energy_joules_total``/``power_watts`` with a
    ``meter`` key column. ``sites``: one row per site with ``site``, ``pue_category`` (which
    IT meter defines PUE there, ISO/IEC 30134-2 §6.2: 1 UPS output, 2 PDU output, 3 IT input)
    and ``factor_kg_per_kwh`` (grid emission factor). ``water`` (``meter`` ``site_inflow``,
    L), ``green`` (J, any instrument) and ``reused`` (J): ``keys`` + ``value`` + ``coverage``.
    ``keys``: ``("site",)`` for whole periods, ``("site", "ts")`` per bucket.

    Returns ``keys`` + :data:`SITE_TOTAL_COLUMNS`, one row per site (and bucket where any
    meter has a row). IT energy is the site's PUE-category meter only. A figure with nothing
    under it is NaN with coverage 0, never 0. A site with a facility figure and no green or
    reuse meter has none of either: 0 J, as well covered as facility. CO2 (GHG Protocol Scope
    2): location-based = facility kWh x factor (kg); market-based = max(0, facility -
    renewable) kWh x factor. Computed as :func:`totals_from_meters` of :func:`meter_columns`.
    """
    keys = list(keys)
    mine = energy[energy["site"].isin(sites["site"])]
    others = {"water": water, "renewable": green, "reused": reused}
    return _totals(meter_columns(mine, keys), sites, keys, others)


def totals_from_meters(
    meters: pd.DataFrame, sites: pd.DataFrame, *, keys: Sequence[str] = ("site",)
) -> pd.DataFrame:
    """:func:`site_energy_totals` (with no water, green or reuse meters) from
    :func:`meter_columns` with the same ``keys``; a meter whose columns are absent has no
    rows."""
    return _totals(meters, sites, list(keys), {})


def _totals(
    meters: pd.DataFrame,
    sites: pd.DataFrame,
    keys: list[str],
    others: Mapping[str, pd.DataFrame | None],
) -> pd.DataFrame:
    mine = meters[meters["site"].isin(sites["site"])]
    base, present = _meter_totals(mine, sites, keys)
    frame = _aligned(base, present, _other_totals(others, keys), sites, keys)
    return _fill_and_price(frame, sites, keys)[[*keys, *SITE_TOTAL_COLUMNS]]


def _meter_totals(
    mine: pd.DataFrame, sites: pd.DataFrame, keys: list[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Facility, IT (the site's PUE-category meter) and cooling energy, coverage and
    provenance bits on the rows of ``mine`` (NaN where the meter has no row), and which rows
    have any of them."""
    it_meter = _per_site(
        mine["site"], sites.set_index("site")["pue_category"].map(PUE_CATEGORY_METERS)
    )
    columns: dict[str, np.ndarray] = {}
    present = np.zeros(len(mine), dtype=bool)
    for name in ("facility", "it", "cooling"):
        for what in ("j", "coverage", "bits"):
            if name == "it":
                picked = np.full(len(mine), np.nan)
                for meter in dict.fromkeys(PUE_CATEGORY_METERS.values()):
                    column = f"{meter}_{what}"
                    if column in mine.columns:
                        at = it_meter == meter
                        picked[at] = mine[column].to_numpy(dtype="float64")[at]
            else:
                column = f"{name}_{what}"
                absent = np.full(len(mine), np.nan)
                picked = mine[column].to_numpy("float64") if column in mine else absent
            suffix = {"j": TOTALS[name], "coverage": f"{name}_coverage"}
            columns[suffix.get(what, f"{name}_provenance")] = picked
        present |= ~np.isnan(columns[f"{name}_coverage"])
    base = pd.DataFrame({k: mine[k].array for k in keys} | columns)
    return base, present


def _other_totals(
    others: Mapping[str, pd.DataFrame | None], keys: list[str]
) -> dict[str, pd.Series]:
    """Water drawn (the ``site_inflow`` meter), renewable and reused energy, with coverage."""
    columns: dict[str, pd.Series] = {}
    for name, given in others.items():
        if given is None or given.empty:
            continue
        rows = given
        if name == "water" and "meter" in rows.columns:
            rows = rows[rows["meter"] == "site_inflow"]
        g = rows.groupby([rows[k] for k in keys], sort=False)
        columns[TOTALS[name]] = g["value"].sum(min_count=1)
        columns[f"{name}_coverage"] = g["coverage"].min()
    return columns


def _aligned(
    base: pd.DataFrame,
    present: np.ndarray,
    others: dict[str, pd.Series],
    sites: pd.DataFrame,
    keys: list[str],
) -> pd.DataFrame:
    """Meter and other totals on one index (every site for whole periods; every bucket any
    has), the missing ones NaN (a provenance 0) and the figures float."""
    if len(keys) == 1:
        frame = base.set_index("site").reindex(pd.Index(sites["site"], name="site"))
    elif others:
        frame = base[present].set_index(keys)
        for other in others.values():
            frame = frame.reindex(frame.index.union(other.index.set_names(keys)))
    else:  # per bucket, meters only (the PUE trend): the rows as they are
        frame = base[present].reset_index(drop=True)
    if others or len(keys) == 1:
        for name, other in others.items():
            frame[name] = other.reindex(frame.index).to_numpy()
        frame = frame.reset_index()
    for column in (*TOTALS.values(), *(f"{n}_coverage" for n in TOTALS)):
        if column not in frame.columns:
            frame[column] = np.nan
        elif frame[column].dtype != "float64":
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
    return frame


def _fill_and_price(frame: pd.DataFrame, sites: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The site totals: no green or reuse meter is 0 J where facility is known; CO2 location-
    and market-based; coverage in [0, 1]; provenance named (column by column in numpy, one
    frame built at the end)."""

    def col(name: str) -> np.ndarray:
        return np.asarray(frame[name].to_numpy("float64"), dtype=np.float64)

    out = {k: frame[k].array for k in keys}
    values = {name: col(value) for name, value in TOTALS.items() if name != "co2"}
    coverage = {name: col(f"{name}_coverage") for name in TOTALS if name != "co2"}
    known = ~np.isnan(values["facility"])
    for name in ("renewable", "reused"):
        values[name] = np.where(np.isnan(values[name]) & known, 0.0, values[name])
        coverage[name] = np.where(np.isnan(coverage[name]), coverage["facility"], coverage[name])
    factor = _per_site(frame["site"], sites.set_index("site")["factor_kg_per_kwh"]).astype(
        "float64"
    )
    values["co2"] = values["facility"] / J_PER_KWH * factor
    coverage["co2"] = np.where(known, coverage["facility"], 0.0)
    green_j = np.nan_to_num(values["renewable"], nan=0.0)
    market = np.clip(values["facility"] - green_j, 0.0, None) / J_PER_KWH * factor
    for name, value in TOTALS.items():
        out[value] = values[name]
        out[f"{name}_coverage"] = np.clip(np.nan_to_num(coverage[name], nan=0.0), 0.0, 1.0)
    out["co2_market_kg"] = market
    flags = {
        n: np.nan_to_num(col(f"{n}_provenance"), nan=0.0).astype("int64")
        for n in ("facility", "it")
    }
    for name, bits in flags.items():
        out[f"{name}_provenance"] = _named(bits)
    out["provenance"] = _named(flags["facility"] | flags["it"])
    return pd.DataFrame(out)

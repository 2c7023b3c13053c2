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
from typing import Any

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


def _flags(bits: pd.Series) -> dict[str, pd.Series]:
    """Provenance bits as two columns, each maximised per group by :func:`_either`."""
    return {"counter": bits & 1, "power": bits & 2}


def _either(grouped: pd.api.typing.DataFrameGroupBy[Any, Any]) -> pd.Series:
    """Bitwise OR of provenance bits per group of rows with :func:`_flags` columns."""
    either = grouped[["counter", "power"]].max()
    return either["counter"] | either["power"]


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
    c = c.assign(
        resets=c["resets"].fillna(0).astype("int64"),
        fill_j=c["fill_j"].fillna(0.0).astype("float64"),
        filled_s=c["filled_s"].fillna(0.0).astype("float64"),
        coverage=c["coverage"].fillna(0.0).astype("float64"),
    )
    p = power.reindex(columns=[*keys, "integral", "coverage"])
    if p.empty:  # the common case: every meter has a counter; no join needed
        both = c.rename(columns={"coverage": "coverage_c"}).assign(
            integral=np.nan, coverage_p=np.nan, _merge="left_only"
        )
    else:
        both = c.merge(p, on=keys, how="outer", suffixes=("_c", "_p"), indicator=True)
    has_counter = both["_merge"] != "right_only"
    has_power = both["_merge"] != "left_only"
    increase = both["increase"].astype("float64")
    evidence = (both["coverage_c"] > 0) | (increase.fillna(0.0) != 0.0)
    use_counter = has_counter & (evidence | ~has_power)
    counter_j = increase + both["fill_j"].fillna(0.0)
    counter_known = use_counter & evidence
    power_cov = both["coverage_p"].fillna(0.0).astype("float64")
    power_known = ~use_counter & (power_cov > 0)
    energy = np.where(
        counter_known, counter_j, np.where(power_known, both["integral"], np.nan)
    ).astype("float64")
    coverage = np.where(use_counter, both["coverage_c"].fillna(0.0), power_cov).astype("float64")
    filled = both["filled_s"].fillna(0.0).astype("float64")
    bits = np.where(
        counter_known,
        np.where(filled > 0, _BITS["mixed"], _BITS["counter"]),
        np.where(power_known, _BITS["power"], _BITS[""]),
    )
    out = both[keys].copy()
    out["energy_j"] = energy
    out["coverage"] = np.clip(coverage, 0.0, 1.0)
    out["provenance"] = _named(bits)
    out["resets"] = np.where(use_counter, both["resets"].fillna(0), 0).astype("int64")
    out["filled_s"] = np.where(use_counter, filled, 0.0)
    return out.reset_index(drop=True)


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
    """
    keys = list(keys)
    rows = energy[energy["meter"].isin(meters)]
    flagged = rows[[*keys, "meter", "energy_j", "coverage"]].assign(
        **_flags(_bits(rows["provenance"]))
    )
    g = flagged.groupby([*keys, "meter"], sort=False)
    parts = pd.DataFrame(
        {"j": g["energy_j"].sum(min_count=1), "coverage": g["coverage"].min(), "bits": _either(g)}
    )
    if len(parts):
        wide = parts.unstack("meter", sort=False)
    else:
        empty = pd.MultiIndex.from_arrays([rows[k].iloc[0:0] for k in keys], names=keys)
        wide = pd.DataFrame(index=empty)
    out = pd.DataFrame(index=wide.index)
    for m in meters:
        for what in ("j", "coverage", "bits"):
            found = (what, m) in wide.columns
            out[f"{m}_{what}"] = wide[(what, m)].astype("float64") if found else np.nan
    return out.reset_index()


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

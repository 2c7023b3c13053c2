"""Data quality and trends from hourly energy: coverage per site, gaps, the PUE trend.

One store query fetches the hourly increase and coverage of every member site's facility and
PUE-category IT meter (answered from the hourly roll-ups). An hour counts as a gap when its
coverage is below 1; consecutive gap hours form one gap. The trend sums those hourly energies
into local days (hours for a one-day report, months for a year) over the sites the period's PUE
includes, using only site-hours with complete data, and divides: a ratio of summed energies per
bucket, never a mean of ratios.
"""

from __future__ import annotations

import pandas as pd

from greenwatch.metrics import J_PER_KWH, PUE_CATEGORY_METERS
from greenwatch.reports._names import TIMEZONE
from greenwatch.reports._period import Period
from greenwatch.store import Store

HOUR = pd.Timedelta(hours=1)
FULL = 1.0 - 1e-9
ROLES = ("facility", "it")


def hourly_energy(store: Store, members: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Columns ts (UTC hour start), site, role (facility | it), energy_j, coverage; one row per
    member site, role and hour of the period, hours without data at 0 J and coverage 0."""
    start, end = period.start_utc, period.end_utc
    meters = ["facility", *PUE_CATEGORY_METERS.values()]
    raw = store.query(
        "energy_joules_total",
        start,
        end,
        labels={"site": list(members["site"]), "meter": meters},
        step=HOUR,
        agg=["increase", "coverage"],
    )
    hours = pd.date_range(start, end, freq=HOUR, inclusive="left")
    roles = pd.DataFrame(
        {
            "site": list(members["site"]) * 2,
            "role": ["facility"] * len(members) + ["it"] * len(members),
            "meter": ["facility"] * len(members)
            + [PUE_CATEGORY_METERS[int(c)] for c in members["pue_category"]],
        }
    )
    grid = roles.merge(pd.DataFrame({"ts": hours}), how="cross")
    if len(raw):
        grid = grid.merge(raw, on=["site", "meter", "ts"], how="left")
    else:
        grid = grid.assign(increase=float("nan"), coverage=float("nan"))
    return pd.DataFrame(
        {
            "ts": grid["ts"],
            "site": grid["site"],
            "role": grid["role"],
            "energy_j": grid["increase"].fillna(0.0),
            "coverage": grid["coverage"].fillna(0.0),
        }
    )


def _local_iso(ts: pd.Series) -> pd.Series:
    local = ts.dt.tz_convert(TIMEZONE)
    text = local.dt.strftime("%Y-%m-%dT%H:%M%z")
    out: pd.Series = text.str.slice(0, -2) + ":" + text.str.slice(-2)
    return out


def gaps_table(hourly: pd.DataFrame) -> pd.DataFrame:
    """Runs of hours with coverage below 1 per site and meter role: start, end (local time),
    hours in the run and hours of data missing in it (sum of 1 - coverage)."""
    columns = ["site", "meter", "start", "end", "hours", "missing_hours"]
    short = hourly[hourly["coverage"] < FULL]
    if short.empty:
        return pd.DataFrame(columns=columns)
    short = short.sort_values(["site", "role", "ts"], kind="stable")
    new_run = (
        (short["site"] != short["site"].shift())
        | (short["role"] != short["role"].shift())
        | (short["ts"] - short["ts"].shift() != HOUR)
    )
    runs = short.assign(run=new_run.cumsum(), missing=1.0 - short["coverage"])
    out = runs.groupby("run", sort=True).agg(
        site=("site", "first"),
        meter=("role", "first"),
        first=("ts", "min"),
        last=("ts", "max"),
        hours=("ts", "size"),
        missing_hours=("missing", "sum"),
    )
    out["start"] = _local_iso(out["first"])
    out["end"] = _local_iso(out["last"] + HOUR)
    return out[columns].reset_index(drop=True)


def coverage_table(
    members: pd.DataFrame, hourly: pd.DataFrame, excluded: dict[str, str]
) -> pd.DataFrame:
    """Per site: coverage of each total, gap hours of the facility and IT meters, and whether
    the scope's PUE includes the site (with the reason when it does not)."""
    short = hourly.assign(missing=1.0 - hourly["coverage"])
    gap_hours = short[short["coverage"] < FULL].groupby(["site", "role"]).size()
    table = pd.DataFrame({"site": members["site"].to_numpy()})
    for name in ("facility", "it", "cooling", "water", "renewable", "co2"):
        table[f"{name}_coverage"] = members[f"{name}_coverage"].astype(float).to_numpy()
    for role in ROLES:
        table[f"{role}_gap_hours"] = [int(gap_hours.get((site, role), 0)) for site in table["site"]]
    table["included"] = [site not in excluded for site in table["site"]]
    table["reason"] = [excluded.get(site, "") for site in table["site"]]
    return table


def _bucket(ts: pd.Series, period: Period) -> pd.Series:
    local: pd.Series = ts.dt.tz_convert(TIMEZONE)
    if period.kind == "day":
        return local
    days: pd.Series = local.dt.floor("D")
    if period.kind != "year":
        return days
    months: pd.Series = days - pd.to_timedelta(days.dt.day - 1, unit="D")
    return months


def _complete_hours(flat: pd.DataFrame) -> pd.Series:
    """Per (site, hour) row: both meters fully covered in this hour and the one before.

    The hour after a gap is left out too: the store books a counter's increase across a gap
    (up to the look-back) in the bucket of the sample that ends it, so that hour would carry
    the gap's energy and spike.
    """
    ok = flat["cov"] >= FULL
    before = ok.groupby(flat["site"]).shift(1, fill_value=True)
    return ok & before


def trend_table(
    hourly: pd.DataFrame, members: pd.DataFrame, included: list[str], period: Period, label: str
) -> pd.DataFrame:
    """PUE per bucket over the included sites, for the scope and, when it spans both, for the
    east and west hub target groups, from the site-hours with complete data only (see
    :func:`_complete_hours`). Columns: bucket_start, series, facility_kwh, it_kwh (summed over
    those site-hours), pue (their ratio), coverage (share of the included site-hours counted)."""
    columns = ["bucket_start", "series", "facility_kwh", "it_kwh", "pue", "coverage"]
    data = hourly[hourly["site"].isin(included)]
    if data.empty:
        return pd.DataFrame(columns=columns)
    wide = data.pivot_table(
        index=["site", "ts"], columns="role", values=["energy_j", "coverage"], aggfunc="first"
    )
    flat = pd.DataFrame(
        {
            "site": wide.index.get_level_values("site"),
            "ts": wide.index.get_level_values("ts"),
            "facility_j": wide[("energy_j", "facility")].to_numpy(),
            "it_j": wide[("energy_j", "it")].to_numpy(),
            "cov": wide[[("coverage", "facility"), ("coverage", "it")]].min(axis=1).to_numpy(),
        }
    )
    complete = _complete_hours(flat)
    flat["counted"] = complete.astype(float)
    flat.loc[~complete, ["facility_j", "it_j"]] = 0.0
    flat["bucket"] = _bucket(flat["ts"], period)
    regions = members.set_index("site")["region"]
    flat["region"] = flat["site"].map(regions)
    groups = [(label, flat)]
    if flat["region"].nunique() > 1:
        groups += [(str(r), flat[flat["region"] == r]) for r in sorted(flat["region"].unique())]
    frames = []
    for name, part in groups:
        grouped = part.groupby("bucket", sort=True)
        sums = grouped[["facility_j", "it_j"]].sum()
        it = sums["it_j"].where(sums["it_j"] > 0)
        frames.append(
            pd.DataFrame(
                {
                    "bucket_start": _local_iso(sums.index.to_series()).to_numpy(),
                    "series": name,
                    "facility_kwh": (sums["facility_j"] / J_PER_KWH).to_numpy(),
                    "it_kwh": (sums["it_j"] / J_PER_KWH).to_numpy(),
                    "pue": (sums["facility_j"] / it).to_numpy(),
                    "coverage": grouped["counted"].mean().to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[columns]

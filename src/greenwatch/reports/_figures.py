"""The figures of a report, computed exactly as the KPI API computes them.

Group figures (network, hub) come from :func:`greenwatch.metrics.rollup` over the same per-site
totals :func:`greenwatch.query.kpi_answer` reads, site figures from the same ISO/IEC 30134
functions, and carbon and IT energy are summed over the same sites in the same order, so a
report and ``GET /api/v1/kpi`` give bit-identical numbers for one period (a test holds them to
it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from greenwatch.inventory import Level
from greenwatch.metrics import (
    DEFAULT_MIN_SHARE,
    J_PER_KWH,
    Measured,
    combined_provenance,
    cue,
    erf,
    pue,
    pue_grades,
    ref,
    rollup,
    site_verdicts,
    wue,
)
from greenwatch.reports._config import ReportConfig

NAN = math.nan


@dataclass(frozen=True)
class Figures:
    """The KPIs of one site or group over one period (energies in kWh, CO2 in kg)."""

    pue: float
    pue_coverage: float
    facility_kwh: float
    it_kwh: float
    it_coverage: float
    cooling_kwh: float
    wue: float
    cue: float
    ref: float
    ref_coverage: float
    erf: float
    co2_location_kg: float
    co2_market_kg: float
    co2_coverage: float
    sites: int
    excluded: tuple[tuple[str, str], ...] = ()
    categories: str = ""
    provenance: str = ""
    expected_sites: int = 1
    capacity_share: float = 1.0
    published: bool = True


def site_figures(row: pd.Series) -> Figures:
    """One site's figures: the functions and inputs of ``kpi_answer`` for a site scope."""

    def q(name: str, unit: str = "j") -> Measured:
        return Measured(float(row[f"{name}_{unit}"]), float(row[f"{name}_coverage"]))

    facility, it = q("facility"), q("it")
    base = pue(facility, it, category=int(row["pue_category"]))
    green = ref(q("renewable"), facility)
    return Figures(
        pue=base.value,
        pue_coverage=base.coverage,
        facility_kwh=facility.value / J_PER_KWH,
        it_kwh=float(row["it_j"]) / J_PER_KWH,
        it_coverage=float(row["it_coverage"]),
        cooling_kwh=float(row["cooling_j"]) / J_PER_KWH,
        wue=wue(q("water", "l"), it).value,
        cue=cue(q("co2", "kg"), it).value,
        ref=green.value,
        ref_coverage=green.coverage,
        erf=erf(q("reused"), facility).value,
        co2_location_kg=float(row["co2_kg"]),
        co2_market_kg=float(row["co2_market_kg"]),
        co2_coverage=float(row["co2_coverage"]),
        sites=1,
        categories=str(int(row["pue_category"])),
        provenance=str(row["provenance"]),
        published=not math.isnan(base.value),
    )


# The per-site total each ratio KPI other than PUE needs (rollup computes a KPI only when its
# numerator column is present, so leaving one out saves its work and changes no other KPI).
_NUMERATORS = {"wue": "water_l", "cue": "co2_kg", "ref": "renewable_j", "erf": "reused_j"}


def group_figures(
    rows: pd.DataFrame,
    level: Level,
    min_coverage: float,
    kpis: tuple[str, ...] = tuple(_NUMERATORS),
    min_share: float = DEFAULT_MIN_SHARE,
) -> dict[str, Figures]:
    """Figures of every hub / site kind (or of the network) among ``rows``, the sites' totals,
    computed exactly as ``kpi_answer`` computes a group scope.

    Like ``kpi_answer``, each group gets the figures of a :func:`rollup` over its own rows
    (``each_alone``: pandas may sum a group in a different order when other groups are
    present, and the report promises the API's figures to the last bit). CO2 and IT energy are
    sums over the sites the group's PUE includes, in inventory order, with energy-weighted
    coverage. Ratio KPIs other than PUE that are not in ``kpis`` are not computed (nan).
    """
    unused = [c for k, c in _NUMERATORS.items() if k not in kpis and c in rows.columns]
    key = (
        rows[level.value]
        if level is not Level.NATIONAL
        else pd.Series("national", index=rows.index)
    )
    groups = sorted(str(g) for g in key.dropna().unique())
    if not groups:
        return {}
    result = rollup(
        rows.drop(columns=unused),
        level,
        min_coverage=min_coverage,
        min_share=min_share,
        each_alone=True,
    )
    excluded = result.excluded[result.excluded["kpi"] == "pue"]
    out: dict[str, Figures] = {}
    for group in groups:
        mine = rows[key == group]
        figures = result.kpis[result.kpis["group"] == group].set_index("kpi")
        left_out = excluded[excluded["group"] == group]
        ok = mine[~mine["site"].isin(left_out["site"])]
        out[group] = _figures(figures, ok, left_out)
    return out


def _figures(kpis: pd.DataFrame, ok: pd.DataFrame, excluded: pd.DataFrame) -> Figures:
    # No data is null, never 0: sums over no site (or only missing values) are NaN.
    weight = ok["facility_j"].sum(min_count=1)
    it_sum = ok["it_j"].sum(min_count=1)

    numbers = {
        column: dict(zip(kpis.index, kpis[column].to_numpy(dtype=float), strict=True))
        for column in ("value", "coverage", "expected", "capacity_share")
    }

    def value(kpi: str, column: str = "value", missing: float = NAN) -> float:
        return float(numbers[column].get(kpi, missing))

    return Figures(
        pue=value("pue"),
        pue_coverage=value("pue", "coverage", 0.0),
        facility_kwh=float(weight) / J_PER_KWH,
        it_kwh=float(it_sum) / J_PER_KWH,
        it_coverage=float((ok["it_coverage"] * ok["it_j"]).sum() / it_sum) if it_sum > 0 else 0.0,
        cooling_kwh=float(ok["cooling_j"].sum(min_count=1)) / J_PER_KWH,
        wue=value("wue"),
        cue=value("cue"),
        ref=value("ref"),
        ref_coverage=value("ref", "coverage", 0.0),
        erf=value("erf"),
        co2_location_kg=float(ok["co2_kg"].sum(min_count=1)),
        co2_market_kg=float(ok["co2_market_kg"].sum(min_count=1)),
        co2_coverage=float((ok["co2_coverage"] * ok["facility_j"]).sum() / weight)
        if weight > 0
        else 0.0,
        sites=len(ok),
        excluded=tuple(zip(excluded["site"], excluded["reason"], strict=True)),
        categories=str(kpis.at["pue", "categories"]) if "pue" in kpis.index else "",
        provenance=combined_provenance(ok["provenance"]),
        expected_sites=int(value("pue", "expected", 0.0)),
        capacity_share=value("pue", "capacity_share", 0.0),
        published=bool(kpis.at["pue", "published"]) if "pue" in kpis.index else False,
    )


EMPTY = Figures(
    pue=NAN,
    pue_coverage=0.0,
    facility_kwh=NAN,
    it_kwh=NAN,
    it_coverage=0.0,
    cooling_kwh=NAN,
    wue=NAN,
    cue=NAN,
    ref=NAN,
    ref_coverage=0.0,
    erf=NAN,
    co2_location_kg=NAN,
    co2_market_kg=NAN,
    co2_coverage=0.0,
    sites=0,
    expected_sites=0,
    capacity_share=0.0,
    published=False,
)


def scope_figures(
    members: pd.DataFrame, level: Level, min_coverage: float, min_share: float = DEFAULT_MIN_SHARE
) -> Figures:
    """Figures of the report's scope: one site, a hub or the network."""
    if level is Level.SITE:
        return site_figures(members.iloc[0])
    groups = group_figures(members, level, min_coverage, min_share=min_share)
    return next(iter(groups.values())) if groups else EMPTY


def site_table(members: pd.DataFrame, config: ReportConfig) -> pd.DataFrame:
    """One row per member site with its figures, verdicts against its own targets and grade.

    A site whose PUE coverage is below ``config.min_coverage`` is not judged: its verdicts read
    ``low coverage`` (its figures are still shown, with their coverage).
    """
    figures = [site_figures(row) for _, row in members.iterrows()]
    table = pd.DataFrame(
        {
            "site": members["site"].to_numpy(),
            "name": members["name"].to_numpy(),
            "hub": members["hub"].to_numpy(),
            "region": members["region"].to_numpy(),
            "kind": members["kind"].to_numpy(),
            "pue_category": members["pue_category"].astype(int).to_numpy(),
            "facility_kwh": [f.facility_kwh for f in figures],
            "it_kwh": [f.it_kwh for f in figures],
            "cooling_kwh": [f.cooling_kwh for f in figures],
            "pue": [f.pue for f in figures],
            "pue_coverage": [f.pue_coverage for f in figures],
            "target_pue": members["target_pue"].astype(float).to_numpy(),
            "green_share": [f.ref for f in figures],
            "target_green_share": members["target_green_share"].astype(float).to_numpy(),
            "wue": [f.wue for f in figures],
            "cue": [f.cue for f in figures],
            "co2_location_kg": [f.co2_location_kg for f in figures],
            "co2_market_kg": [f.co2_market_kg for f in figures],
            "factor_kg_per_kwh": members["factor_kg_per_kwh"].astype(float).to_numpy(),
        }
    )
    verdicts = site_verdicts(
        table.rename(columns={"green_share": "green_energy_share"}).assign(
            target_green_energy_share=table["target_green_share"]
        )[["site", "pue", "target_pue", "green_energy_share", "target_green_energy_share"]],
        grades=config.grades.table,
    ).set_index(["kpi", "site"])
    low = (table["pue_coverage"] < config.min_coverage).to_numpy()
    for kpi, column in (("pue", "pue_verdict"), ("green_energy_share", "green_verdict")):
        verdict = verdicts.loc[kpi].reindex(table["site"])["verdict"].to_numpy()
        table[column] = [
            ("low coverage" if bad else v) for v, bad in zip(verdict, low, strict=True)
        ]
    table["pue_margin"] = table["pue"] - table["target_pue"]
    table["grade"] = pue_grades(table["pue"], config.grades.table).to_numpy()
    return table.loc[:, list(SITE_COLUMNS)]


SITE_COLUMNS = (
    "site",
    "name",
    "hub",
    "region",
    "kind",
    "pue_category",
    "facility_kwh",
    "it_kwh",
    "cooling_kwh",
    "pue",
    "pue_coverage",
    "target_pue",
    "pue_verdict",
    "pue_margin",
    "grade",
    "green_share",
    "target_green_share",
    "green_verdict",
    "wue",
    "cue",
    "co2_location_kg",
    "co2_market_kg",
    "factor_kg_per_kwh",
)


def _common(values: pd.Series) -> float:
    """The one value a column holds (e.g. the hub target), else nan."""
    unique = values.dropna().unique()
    return float(unique[0]) if len(unique) == 1 else NAN


def hub_table(members: pd.DataFrame, sites: pd.DataFrame, config: ReportConfig) -> pd.DataFrame:
    """One row per hub among the members: hub figures, target, verdict, grade, compliance."""
    rows = []
    figures = group_figures(members, Level.HUB, config.min_coverage, kpis=("wue", "cue", "ref"))
    pues = pd.Series([f.pue for f in figures.values()], dtype=float)
    grades = pue_grades(pues, config.grades.table).tolist()
    judged_sites = sites[sites["pue_verdict"].isin(["pass", "fail"])]
    for (hub, fig), grade in zip(figures.items(), grades, strict=True):
        mine = members[members["hub"] == hub]
        judged = judged_sites[judged_sites["hub"] == hub]
        target = _common(mine["target_pue"].astype(float))
        rows.append(
            {
                "hub": hub,
                "region": "/".join(sorted(mine["region"].unique())),
                "sites": fig.sites,
                "excluded": len(fig.excluded),
                "facility_kwh": fig.facility_kwh,
                "it_kwh": fig.it_kwh,
                "cooling_kwh": fig.cooling_kwh,
                "pue": fig.pue,
                "pue_coverage": fig.pue_coverage,
                "target_pue": target,
                "pue_verdict": _verdict(fig.pue, target, "<="),
                "grade": grade,
                "sites_meeting_pue_target": int((judged["pue_verdict"] == "pass").sum()),
                "sites_judged": len(judged),
                "green_share": fig.ref,
                "target_green_share": _common(mine["target_green_share"].astype(float)),
                "wue": fig.wue,
                "cue": fig.cue,
                "co2_location_kg": fig.co2_location_kg,
                "co2_market_kg": fig.co2_market_kg,
            }
        )
    return pd.DataFrame(rows, columns=list(HUB_COLUMNS))


HUB_COLUMNS = (
    "hub",
    "region",
    "sites",
    "excluded",
    "facility_kwh",
    "it_kwh",
    "cooling_kwh",
    "pue",
    "pue_coverage",
    "target_pue",
    "pue_verdict",
    "grade",
    "sites_meeting_pue_target",
    "sites_judged",
    "green_share",
    "target_green_share",
    "wue",
    "cue",
    "co2_location_kg",
    "co2_market_kg",
)


def _verdict(value: float, target: float, comparison: str) -> str:
    if not math.isfinite(value):
        return "no data"
    if not math.isfinite(target):
        return "no target"
    ok = {"<": value < target, "<=": value <= target, ">=": value >= target}[comparison]
    return "pass" if ok else "fail"


def ranking_table(sites: pd.DataFrame, min_coverage: float) -> pd.DataFrame:
    """Sites with a PUE of sufficient coverage, best (lowest PUE) first; ties by site id."""
    ranked = sites[sites["pue"].notna() & (sites["pue_coverage"] >= min_coverage)]
    ranked = ranked.sort_values(["pue", "site"], kind="stable").reset_index(drop=True)
    out = ranked[["site", "name", "hub", "region", "pue", "target_pue", "pue_verdict", "grade"]]
    return out.assign(rank=range(1, len(out) + 1))[["rank", *out.columns]]


def changes_table(sites: pd.DataFrame, previous: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` sites whose PUE changed most against the previous period (largest |change|
    first, sites without a comparison last), with IT energy and location-based CO2 changes."""
    prev = previous.set_index("site").reindex(sites["site"])
    table = pd.DataFrame(
        {
            "site": sites["site"].to_numpy(),
            "name": sites["name"].to_numpy(),
            "pue": sites["pue"].to_numpy(),
            "pue_previous": prev["pue"].to_numpy(),
            "it_kwh": sites["it_kwh"].to_numpy(),
            "it_kwh_previous": prev["it_kwh"].to_numpy(),
            "co2_location_kg": sites["co2_location_kg"].to_numpy(),
            "co2_location_kg_previous": prev["co2_location_kg"].to_numpy(),
        }
    )
    table["pue_change"] = table["pue"] - table["pue_previous"]
    table["it_kwh_change"] = table["it_kwh"] - table["it_kwh_previous"]
    table["co2_location_kg_change"] = table["co2_location_kg"] - table["co2_location_kg_previous"]
    order = table.assign(key=table["pue_change"].abs()).sort_values(
        ["key", "site"], ascending=[False, True], na_position="last", kind="stable"
    )
    columns = [
        "site",
        "name",
        "pue",
        "pue_previous",
        "pue_change",
        "it_kwh",
        "it_kwh_previous",
        "it_kwh_change",
        "co2_location_kg",
        "co2_location_kg_previous",
        "co2_location_kg_change",
    ]
    return order.head(top)[columns].reset_index(drop=True)

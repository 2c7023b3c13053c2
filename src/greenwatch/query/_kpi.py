"""KPI answers for a site, a hub, a region, a site kind or the national network.

A group's figure is always a ratio of summed totals (:func:`greenwatch.metrics.rollup`), never a
mean of site ratios. Every answer carries value, unit, coverage, the definition it implements,
the PUE category, its inputs and the sites left out.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from greenwatch.inventory import Inventory, Level, Scope, ScopeError
from greenwatch.metrics import (
    DEFAULT_MIN_COVERAGE,
    DEFAULT_MIN_SHARE,
    J_PER_KWH,
    Kpi,
    Measured,
    combined_provenance,
    dcie,
    ere,
    is_interim,
    partial_pue,
    pue,
    rollup,
)
from greenwatch.metrics import cue as cue_kpi
from greenwatch.metrics import erf as erf_kpi
from greenwatch.metrics import ref as ref_kpi
from greenwatch.metrics import wue as wue_kpi
from greenwatch.query._names import KPIS
from greenwatch.query._sites import site_totals
from greenwatch.store import Store


@dataclass(frozen=True)
class KpiAnswer:
    """One figure as the CLI and ``GET /api/v1/kpi`` return it."""

    kpi: str
    scope: str
    start: str
    end: str
    value: float
    unit: str
    coverage: float
    definition: str
    label: str
    category: str
    interim: bool
    inputs: dict[str, float] = field(default_factory=dict)
    sites: int = 1
    excluded: list[dict[str, str]] = field(default_factory=list)
    provenance: str = ""
    expected_sites: int = 1
    site_share: float = 1.0
    capacity_share: float = 1.0
    published: bool = True
    min_coverage: float = DEFAULT_MIN_COVERAGE

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["value"] = None if math.isnan(self.value) else self.value
        out["inputs"] = {k: None if math.isnan(v) else v for k, v in self.inputs.items()}
        return out


def _from_kpi(
    k: Kpi, kpi: str, scope: Scope, start: pd.Timestamp, end: pd.Timestamp, provenance: str
) -> KpiAnswer:
    return KpiAnswer(
        kpi=kpi,
        scope=str(scope),
        start=start.isoformat(),
        end=end.isoformat(),
        value=k.value,
        unit=k.unit,
        coverage=k.coverage,
        definition=KPIS[kpi],
        label=k.label,
        category="" if k.category is None else str(k.category),
        interim=is_interim(start, end),
        inputs={"numerator": k.numerator, "denominator": k.denominator},
        provenance=provenance,
        published=not math.isnan(k.value),
    )


def _site_kpi(row: pd.Series, kpi: str) -> Kpi:
    def q(name: str, unit: str = "j") -> Measured:
        return Measured(float(row[f"{name}_{unit}"]), float(row[f"{name}_coverage"]))

    category = int(row["pue_category"])
    facility, it = q("facility"), q("it")
    base = pue(facility, it, category=category)
    if kpi == "pue":
        return base
    if kpi == "dcie":
        return dcie(base)
    if kpi == "ppue":
        return partial_pue(q("cooling"), it, subsystem_name="cooling")
    if kpi == "wue":
        return wue_kpi(q("water", "l"), it)
    if kpi == "cue":
        return cue_kpi(q("co2", "kg"), it)
    if kpi == "ref":
        return ref_kpi(q("renewable"), facility)
    if kpi == "erf":
        return erf_kpi(q("reused"), facility)
    return ere(facility, it, q("reused"))


def _site_answers(
    totals: pd.DataFrame,
    kpi: str,
    scope: Scope,
    start: pd.Timestamp,
    end: pd.Timestamp,
    min_coverage: float,
) -> list[KpiAnswer]:
    """:func:`kpi_answer` for one site: its own totals, no roll-up."""
    mine = totals[totals["site"] == scope.key]
    row = mine.iloc[0]
    share = _Share(str(row["provenance"]), 1, 1.0, 1.0, True)
    if kpi == "carbon":
        return _carbon_answers(mine, scope, start, end, [], share, min_coverage)
    if kpi == "it_energy":
        it = float(row["it_j"])
        share = _Share(str(row["it_provenance"]), 1, 1.0, 1.0, not math.isnan(it))
        return [
            _energy_answer(
                it, float(row["it_coverage"]), scope, start, end, 1, [], share, min_coverage
            )
        ]
    return [_from_kpi(_site_kpi(row, kpi), kpi, scope, start, end, str(row["provenance"]))]


def kpi_answer(
    store: Store,
    inventory: Inventory,
    kpi: str,
    scope: Scope,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    min_share: float = DEFAULT_MIN_SHARE,
) -> list[KpiAnswer]:
    """The figure(s) of one KPI and scope over ``[start, end)``.

    Carbon gives two answers, location- and market-based. A group figure leaves out sites
    under ``min_coverage`` and says which share of the scope it rests on (sites, IT capacity);
    below ``min_share`` of the capacity it is ``published`` false: shown, not a verdict. A
    figure with nothing under it has value None, never 0.
    """
    if kpi not in KPIS:
        raise ScopeError(f"unknown KPI {kpi!r} (one of {', '.join(KPIS)})")
    totals = site_totals(store, inventory, start, end)
    interim = is_interim(start, end)
    if scope.level is Level.SITE:
        return _site_answers(totals, kpi, scope, start, end, min_coverage)
    members = totals[totals["site"].isin([s.id for s in scope.sites(inventory)])]
    base = "pue" if kpi in {"dcie", "ppue", "ere", "carbon", "it_energy"} else kpi
    result = rollup(
        members,
        scope.level,
        min_coverage=min_coverage,
        min_share=min_share,
        kpis=(base,),
    )
    excluded = result.excluded
    row = result.kpis[(result.kpis["kpi"] == base)].iloc[0]
    ok = members[~members["site"].isin(excluded[excluded["kpi"] == base]["site"])]
    share = _Share(
        combined_provenance(ok["provenance"]),
        int(row["expected"]),
        float(row["site_share"]),
        float(row["capacity_share"]),
        bool(row["published"]),
    )
    if kpi in {"carbon", "it_energy"}:
        dropped = _excluded(excluded, "pue")
        if kpi == "carbon":
            return _carbon_answers(ok, scope, start, end, dropped, share, min_coverage)
        it_j = float(ok["it_j"].sum(min_count=1))
        cov = float((ok["it_coverage"] * ok["it_j"]).sum() / it_j) if it_j > 0 else 0.0
        return [_energy_answer(it_j, cov, scope, start, end, len(ok), dropped, share, min_coverage)]
    value = float(row["value"])
    inputs = {"numerator": float(row["numerator"]), "denominator": float(row["denominator"])}
    if kpi == "dcie":
        value = 1.0 / value
    elif kpi in {"ppue", "ere"}:
        raise ScopeError(f"{kpi} is a per-site figure; ask for a site scope")
    return [
        KpiAnswer(
            kpi=kpi,
            scope=str(scope),
            start=start.isoformat(),
            end=end.isoformat(),
            value=value,
            unit=str(row["unit"]),
            coverage=float(row["coverage"]),
            definition=KPIS[kpi] + " — ratio of summed totals",
            label=kpi.upper() + (" (interim)" if interim else ""),
            category=str(row["categories"]),
            interim=interim,
            inputs=inputs,
            sites=int(row["sites"]),
            excluded=_excluded(excluded, base),
            min_coverage=min_coverage,
            **share.fields(),
        )
    ]


@dataclass(frozen=True)
class _Share:
    """What a figure rests on: provenance and the share of its scope (see :class:`KpiAnswer`)."""

    provenance: str
    expected_sites: int
    site_share: float
    capacity_share: float
    published: bool

    def fields(self) -> dict[str, Any]:
        return asdict(self)


def _excluded(excluded: pd.DataFrame, kpi: str) -> list[dict[str, str]]:
    part = excluded[excluded["kpi"] == kpi]
    return [
        {"site": str(s), "reason": str(r)}
        for s, r in zip(part["site"], part["reason"], strict=True)
    ]


def _energy_answer(
    joules: float,
    coverage: float,
    scope: Scope,
    start: pd.Timestamp,
    end: pd.Timestamp,
    sites: int,
    excluded: list[dict[str, str]],
    share: _Share,
    min_coverage: float,
) -> KpiAnswer:
    return KpiAnswer(
        kpi="it_energy",
        scope=str(scope),
        start=start.isoformat(),
        end=end.isoformat(),
        value=joules / J_PER_KWH,
        unit="kWh",
        coverage=coverage,
        definition=KPIS["it_energy"],
        label="IT energy",
        category="",
        interim=is_interim(start, end),
        sites=sites,
        excluded=excluded,
        min_coverage=min_coverage,
        **share.fields(),
    )


def _carbon_answers(
    rows: pd.DataFrame,
    scope: Scope,
    start: pd.Timestamp,
    end: pd.Timestamp,
    excluded: list[dict[str, str]],
    share: _Share,
    min_coverage: float,
) -> list[KpiAnswer]:
    weight = rows["facility_j"].sum(min_count=1)
    coverage = (
        float((rows["co2_coverage"] * rows["facility_j"]).sum() / weight) if weight > 0 else 0.0
    )
    factors = sorted(
        {f"{y} {s}" for y, s in zip(rows["factor_year"], rows["factor_source"], strict=True)}
    )
    return [
        KpiAnswer(
            kpi="carbon",
            scope=str(scope),
            start=start.isoformat(),
            end=end.isoformat(),
            value=float(rows[column].sum(min_count=1)),
            unit="kgCO2",
            coverage=coverage,
            definition=f"{KPIS['carbon']}; {basis}-based; grid factors: {'; '.join(factors)}",
            label=f"CO2 ({basis}-based)",
            category="",
            interim=is_interim(start, end),
            inputs={"facility_kwh": float(weight / J_PER_KWH)},
            sites=len(rows),
            excluded=excluded,
            min_coverage=min_coverage,
            **share.fields(),
        )
        for basis, column in (("location", "co2_kg"), ("market", "co2_market_kg"))
    ]

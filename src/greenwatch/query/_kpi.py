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

from greenwatch.inventory import Inventory
from greenwatch.metrics import (
    J_PER_KWH,
    Kpi,
    Measured,
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
from greenwatch.model import GreenwatchError
from greenwatch.query._sites import site_totals
from greenwatch.store import Store

KPIS: dict[str, str] = {
    "pue": "Power usage effectiveness, facility / IT energy (ISO/IEC 30134-2)",
    "dcie": "Data centre infrastructure efficiency, 1 / PUE",
    "ppue": "Partial PUE of cooling, (IT + cooling) / IT energy (ISO/IEC 30134-2 Annex)",
    "wue": "Water usage effectiveness, site water / IT energy, L/kWh (ISO/IEC 30134-9)",
    "cue": "Carbon usage effectiveness, location-based CO2 / IT energy, kg/kWh (ISO/IEC 30134-8)",
    "ref": "Renewable energy factor, renewable / facility energy (ISO/IEC 30134-3)",
    "erf": "Energy reuse factor, reused / facility energy (ISO/IEC 30134-6)",
    "ere": "Energy reuse effectiveness, (1 - ERF) x PUE",
    "carbon": "CO2 of facility energy, location- and market-based, kg",
    "it_energy": "IT equipment energy at the PUE-category meter, kWh",
}
LEVELS = ("site", "hub", "region", "kind", "national")


class ScopeError(GreenwatchError):
    """An unknown KPI, scope or period."""


@dataclass(frozen=True)
class Scope:
    """What a figure is about: ``national``, or a level and a key (``hub:guizhou``)."""

    level: str
    key: str = "national"

    @classmethod
    def parse(cls, text: str, inventory: Inventory) -> Scope:
        level, _, key = text.partition(":")
        if text == "national":
            return cls("national")
        if level not in LEVELS or not key:
            raise ScopeError(
                f"bad scope {text!r}: use national, site:ID, hub:ID, region:east|west, kind:KIND"
            )
        known = {
            "site": {s.id for s in inventory.sites},
            "hub": {s.hub for s in inventory.sites if s.hub},
            "region": {s.region.value for s in inventory.sites},
            "kind": {s.kind.value for s in inventory.sites},
        }[level]
        if key not in known:
            raise ScopeError(f"unknown {level} {key!r} (known: {', '.join(sorted(known))})")
        return cls(level, key)

    def __str__(self) -> str:
        return self.level if self.level == "national" else f"{self.level}:{self.key}"


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

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["value"] = None if math.isnan(self.value) else self.value
        return out


def _from_kpi(k: Kpi, kpi: str, scope: Scope, start: pd.Timestamp, end: pd.Timestamp) -> KpiAnswer:
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


def kpi_answer(
    store: Store,
    inventory: Inventory,
    kpi: str,
    scope: Scope,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    min_coverage: float = 0.95,
) -> list[KpiAnswer]:
    """The figure(s) of one KPI and scope over ``[start, end)``.

    Carbon gives two answers, location- and market-based.
    """
    if kpi not in KPIS:
        raise ScopeError(f"unknown KPI {kpi!r} (one of {', '.join(KPIS)})")
    totals = site_totals(store, inventory, start, end)
    interim = is_interim(start, end)
    if scope.level == "site":
        row = totals[totals["site"] == scope.key].iloc[0]
        if kpi == "carbon":
            return _carbon_answers(totals[totals["site"] == scope.key], scope, start, end, [])
        if kpi == "it_energy":
            return [
                _energy_answer(
                    float(row["it_j"]), float(row["it_coverage"]), scope, start, end, 1, []
                )
            ]
        answer = _from_kpi(_site_kpi(row, kpi), kpi, scope, start, end)
        return [answer]
    members = totals if scope.level == "national" else totals[totals[scope.level] == scope.key]
    level = "national" if scope.level == "national" else scope.level
    result = rollup(members, level, min_coverage=min_coverage)  # type: ignore[arg-type]
    excluded = result.excluded
    if kpi in {"carbon", "it_energy"}:
        ok = members[~members["site"].isin(excluded[excluded["kpi"] == "pue"]["site"])]
        dropped = _excluded(excluded, "pue")
        if kpi == "carbon":
            return _carbon_answers(ok, scope, start, end, dropped)
        cov = float((ok["it_coverage"] * ok["it_j"]).sum() / ok["it_j"].sum()) if len(ok) else 0.0
        return [_energy_answer(float(ok["it_j"].sum()), cov, scope, start, end, len(ok), dropped)]
    base = "pue" if kpi in {"dcie", "ppue", "ere"} else kpi
    row = result.kpis[(result.kpis["kpi"] == base)].iloc[0]
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
        )
    ]


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
    )


def _carbon_answers(
    rows: pd.DataFrame,
    scope: Scope,
    start: pd.Timestamp,
    end: pd.Timestamp,
    excluded: list[dict[str, str]],
) -> list[KpiAnswer]:
    weight = rows["facility_j"].sum()
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
            value=float(rows[column].sum()),
            unit="kgCO2",
            coverage=coverage,
            definition=f"{KPIS['carbon']}; {basis}-based; grid factors: {'; '.join(factors)}",
            label=f"CO2 ({basis}-based)",
            category="",
            interim=is_interim(start, end),
            inputs={"facility_kwh": float(weight / J_PER_KWH)},
            sites=len(rows),
            excluded=excluded,
        )
        for basis, column in (("location", "co2_kg"), ("market", "co2_market_kg"))
    ]

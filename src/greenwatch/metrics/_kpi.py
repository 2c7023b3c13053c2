"""Resource-efficiency KPIs of the ISO/IEC 30134 family, as ratios of energies over one period.

Every KPI is a ratio of totals over the same period, never a mean of instantaneous ratios
(ISO/IEC 30134-2: PUE = E_DC / E_IT over one period). The coverage of a ratio is the
*minimum* of its inputs' coverages: a ratio is no better evidenced than its weakest input. A
ratio with a zero (or missing) denominator is ``nan`` with coverage 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from greenwatch.metrics._series import to_ns

J_PER_KWH = 3.6e6

# ISO/IEC 30134-2 measurement categories: where the IT equipment energy is metered.
PUE_CATEGORY_METERS: dict[int, str] = {1: "it_ups_output", 2: "it_pdu_output", 3: "it_input"}


class Quantity(Protocol):
    """A measured total and the share of its period it is evidenced by (0-1)."""

    @property
    def value(self) -> float: ...

    @property
    def coverage(self) -> float: ...


@dataclass(frozen=True)
class Measured:
    """A plain measured total (e.g. a roll-up read from the store) with its coverage."""

    value: float
    coverage: float = 1.0


@dataclass(frozen=True)
class Kpi:
    """One KPI over ``[start, end)`` (when given).

    ``value`` in ``unit``; ``numerator``/``denominator`` are the totals it divides (in the units
    the KPI's docstring gives); ``coverage`` = min of the inputs' coverages; ``label`` names the
    figure as a report prints it (e.g. ``"PUE2 (interim)"``); ``category`` is the PUE category
    (1, 2, 3) for PUE-derived figures; ``interim`` is true for a period shorter than a year
    (ISO/IEC 30134-2:2016 Annex D, PUE derivatives); ``standard`` cites the definition.
    """

    kpi: str
    value: float
    unit: str
    coverage: float
    numerator: float
    denominator: float
    label: str
    standard: str
    category: int | None = None
    interim: bool | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 and math.isfinite(num) and math.isfinite(den) else math.nan


def _coverage(*inputs: Quantity) -> float:
    return max(0.0, min(1.0, *(q.coverage for q in inputs)))


def is_interim(start: pd.Timestamp | str, end: pd.Timestamp | str) -> bool:
    """True when ``[start, end)`` is shorter than one calendar year (interim PUE, 30134-2)."""
    lo = pd.Timestamp(to_ns(start, "start"), unit="ns", tz="UTC")
    return to_ns(end, "end") < to_ns(lo + pd.DateOffset(years=1), "end")


def _kpi(
    kpi: str,
    num: float,
    den: float,
    inputs: tuple[Quantity, ...],
    *,
    unit: str,
    label: str,
    standard: str,
    category: int | None = None,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
) -> Kpi:
    value = _ratio(num, den)
    interim = is_interim(start, end) if start is not None and end is not None else None
    if interim and category is not None:
        label = f"{label} (interim)"
    return Kpi(
        kpi=kpi,
        value=value,
        unit=unit,
        coverage=_coverage(*inputs) if math.isfinite(value) else 0.0,
        numerator=num,
        denominator=den,
        label=label,
        standard=standard,
        category=category,
        interim=interim,
        start=pd.Timestamp(start) if start is not None else None,
        end=pd.Timestamp(end) if end is not None else None,
    )


def _check_category(category: int) -> None:
    if category not in PUE_CATEGORY_METERS:
        raise ValueError(f"PUE category must be 1, 2 or 3 (ISO/IEC 30134-2), got {category}")


def pue(
    facility: Quantity,
    it: Quantity,
    *,
    category: int,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
) -> Kpi:
    """Power usage effectiveness PUE = E_DC / E_IT: facility over IT energy (ISO/IEC 30134-2).

    Both energies in J over the same period. ``category`` says where IT energy was metered
    (1: UPS output ``it_ups_output``, 2: PDU output ``it_pdu_output``, 3: IT equipment input
    ``it_input``) and labels the result ``PUE1``/``PUE2``/``PUE3``; a period shorter than a year
    is flagged interim (30134-2:2016 Annex D). Dimensionless, > 1 for a consistent metering.
    """
    _check_category(category)
    return _kpi(
        "pue",
        facility.value,
        it.value,
        (facility, it),
        unit="ratio",
        label=f"PUE{category}",
        standard="ISO/IEC 30134-2",
        category=category,
        start=start,
        end=end,
    )


def partial_pue(
    subsystem: Quantity,
    it: Quantity,
    *,
    subsystem_name: str = "cooling",
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
) -> Kpi:
    """Partial PUE of a subsystem = (IT energy + subsystem energy) / IT energy.

    ISO/IEC 30134-2:2016 Annex D (partial PUE, pPUE): the PUE ratio computed for one
    infrastructure subsystem (e.g. cooling) alone. Energies in J over the same period;
    dimensionless.
    """
    return _kpi(
        "ppue",
        it.value + subsystem.value,
        it.value,
        (subsystem, it),
        unit="ratio",
        label=f"pPUE ({subsystem_name})",
        standard="ISO/IEC 30134-2 (partial PUE)",
        start=start,
        end=end,
    )


def dcie(pue_kpi: Kpi) -> Kpi:
    """Data centre infrastructure efficiency = 1 / PUE = IT energy / facility energy.

    ISO/IEC 30134-2 (DCiE, the reciprocal of PUE); dimensionless, in (0, 1]. Carries the PUE's
    category, period and coverage.
    """
    return Kpi(
        kpi="dcie",
        value=_ratio(pue_kpi.denominator, pue_kpi.numerator),
        unit="ratio",
        coverage=pue_kpi.coverage,
        numerator=pue_kpi.denominator,
        denominator=pue_kpi.numerator,
        label=pue_kpi.label.replace("PUE", "DCiE", 1),
        standard="ISO/IEC 30134-2 (DCiE = 1/PUE)",
        category=pue_kpi.category,
        interim=pue_kpi.interim,
        start=pue_kpi.start,
        end=pue_kpi.end,
    )


def wue(
    water_l: Quantity,
    it: Quantity,
    *,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
) -> Kpi:
    """Water usage effectiveness = site water use (L) / IT equipment energy (kWh), in L/kWh.

    ISO/IEC 30134-9. ``water_l`` in litres, ``it`` in J over the same period.
    """
    return _kpi(
        "wue",
        water_l.value,
        it.value / J_PER_KWH,
        (water_l, it),
        unit="L/kWh",
        label="WUE",
        standard="ISO/IEC 30134-9",
        start=start,
        end=end,
    )


def cue(
    co2_kg: Quantity,
    it: Quantity,
    *,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
) -> Kpi:
    """Carbon usage effectiveness = CO2 of the facility's energy (kg) / IT energy (kWh).

    ISO/IEC 30134-8, in kgCO2/kWh. ``co2_kg`` in kg (e.g. from :func:`carbon_emissions`, say
    which basis), ``it`` in J over the same period. For an all-electric site CUE equals the
    emission factor x PUE.
    """
    return _kpi(
        "cue",
        co2_kg.value,
        it.value / J_PER_KWH,
        (co2_kg, it),
        unit="kgCO2/kWh",
        label="CUE",
        standard="ISO/IEC 30134-8",
        start=start,
        end=end,
    )


def ref(
    renewable: Quantity,
    facility: Quantity,
    *,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
) -> Kpi:
    """Renewable energy factor = renewable energy / total facility energy (ISO/IEC 30134-3).

    Both in J over the same period; dimensionless, in [0, 1] for consistent inputs.
    """
    return _kpi(
        "ref",
        renewable.value,
        facility.value,
        (renewable, facility),
        unit="ratio",
        label="REF",
        standard="ISO/IEC 30134-3",
        start=start,
        end=end,
    )


def erf(
    reused: Quantity,
    facility: Quantity,
    *,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
) -> Kpi:
    """Energy reuse factor = reused energy / total facility energy (ISO/IEC 30134-6).

    Both in J over the same period; dimensionless, in [0, 1].
    """
    return _kpi(
        "erf",
        reused.value,
        facility.value,
        (reused, facility),
        unit="ratio",
        label="ERF",
        standard="ISO/IEC 30134-6",
        start=start,
        end=end,
    )


def ere(
    facility: Quantity,
    it: Quantity,
    reused: Quantity,
    *,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
) -> Kpi:
    """Energy reuse effectiveness = (1 - ERF) x PUE = (facility - reused) / IT energy.

    ISO/IEC 30134-6; energies in J over the same period; dimensionless.
    """
    return _kpi(
        "ere",
        facility.value - reused.value,
        it.value,
        (facility, it, reused),
        unit="ratio",
        label="ERE",
        standard="ISO/IEC 30134-6",
        start=start,
        end=end,
    )

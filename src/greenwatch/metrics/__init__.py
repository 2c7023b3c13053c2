"""Pure metrics: energy, ISO/IEC 30134 KPIs, carbon, utilisation, links, roll-ups, targets.

pandas/numpy in, DataFrames and frozen dataclasses out: no I/O, no globals, no wall clock (an
import test keeps it so). Every function cites the definition it implements and its units.
Shipped data (the placeholder PUE grade table ``data/pue-grades.csv``) is loaded by the caller
and passed in.
"""

from greenwatch.metrics._carbon import (
    GREEN_INSTRUMENTS,
    Carbon,
    CarbonFigure,
    carbon_emissions,
)
from greenwatch.metrics._energy import (
    BUCKET_COLUMNS,
    DEFAULT_COUNTER_LOOKBACK,
    IntervalTotal,
    energy_per_bucket,
    interval_energy,
    interval_increase,
)
from greenwatch.metrics._kpi import (
    J_PER_KWH,
    PUE_CATEGORY_METERS,
    Kpi,
    Measured,
    Quantity,
    cue,
    dcie,
    ere,
    erf,
    is_interim,
    partial_pue,
    pue,
    ref,
    wue,
)
from greenwatch.metrics._links import (
    LINK_COLUMNS,
    LinkTraffic,
    link_availability,
    link_summary,
    link_utilisation,
    link_utilisation_per_bucket,
    percentiles,
    site_link_summary,
)
from greenwatch.metrics._placement import HINT_COLUMNS, placement_hints
from greenwatch.metrics._rollup import DEFAULT_MIN_COVERAGE, LEVELS, Rollup, rollup
from greenwatch.metrics._submeter import DEFAULT_TOLERANCE, FINDING_COLUMNS, submeter_findings
from greenwatch.metrics._targets import (
    NATIONAL_PUE_TARGET,
    VERDICT_COLUMNS,
    Verdict,
    national_pue_verdict,
    pue_grades,
    site_verdicts,
)
from greenwatch.metrics._utilisation import (
    HUB_OCCUPANCY_TARGET,
    TimeWeighted,
    Utilisation,
    time_weighted_mean,
    utilisation,
)

__all__ = [
    "BUCKET_COLUMNS",
    "DEFAULT_COUNTER_LOOKBACK",
    "DEFAULT_MIN_COVERAGE",
    "DEFAULT_TOLERANCE",
    "FINDING_COLUMNS",
    "GREEN_INSTRUMENTS",
    "HINT_COLUMNS",
    "HUB_OCCUPANCY_TARGET",
    "J_PER_KWH",
    "LEVELS",
    "LINK_COLUMNS",
    "NATIONAL_PUE_TARGET",
    "PUE_CATEGORY_METERS",
    "VERDICT_COLUMNS",
    "Carbon",
    "CarbonFigure",
    "IntervalTotal",
    "Kpi",
    "LinkTraffic",
    "Measured",
    "Quantity",
    "Rollup",
    "TimeWeighted",
    "Utilisation",
    "Verdict",
    "carbon_emissions",
    "cue",
    "dcie",
    "energy_per_bucket",
    "ere",
    "erf",
    "interval_energy",
    "interval_increase",
    "is_interim",
    "link_availability",
    "link_summary",
    "link_utilisation",
    "link_utilisation_per_bucket",
    "national_pue_verdict",
    "partial_pue",
    "percentiles",
    "placement_hints",
    "pue",
    "pue_grades",
    "ref",
    "rollup",
    "site_link_summary",
    "site_verdicts",
    "submeter_findings",
    "time_weighted_mean",
    "utilisation",
    "wue",
]

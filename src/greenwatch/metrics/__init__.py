"""Pure metrics: energy, ISO/IEC 30134 KPIs, carbon, utilisation, links, roll-ups, targets.

pandas/numpy in, DataFrames and frozen dataclasses out: no I/O, no globals, no wall clock (an
import test keeps it so). Every function cites the definition it implements and its units.
Shipped data (the placeholder PUE grade table ``data/pue-grades.csv``) is loaded by the caller
and passed in.
"""

from typing import TYPE_CHECKING

from greenwatch._lazy import lazy_face
from greenwatch.metrics._names import DEFAULT_MIN_COVERAGE, DEFAULT_MIN_SHARE

if TYPE_CHECKING:
    from greenwatch.metrics._carbon import (
        carbon_emissions,
    )
    from greenwatch.metrics._computing_power import (
        DEFAULT_MAX_VERIFICATION_AGE,
        DISCOVERED_COLUMNS,
        IDENTIFY_COLUMNS,
        PFLOP,
        POOL_COLUMNS,
        VERIFICATION_COLUMNS,
        attribute_energy,
        computing_efficiency,
        computing_power,
        delivered_computing,
        free_computing,
        identify_findings,
        pool_status,
        regional_share,
    )
    from greenwatch.metrics._energy import (
        IntervalTotal,
        energy_per_bucket,
        interval_energy,
    )
    from greenwatch.metrics._kpi import (
        J_PER_KWH,
        PUE_CATEGORY_METERS,
        Kpi,
        Measured,
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
        link_availability,
        link_summary,
        link_utilisation,
        link_utilisation_per_bucket,
        percentiles,
        site_link_summary,
    )
    from greenwatch.metrics._placement import HINT_COLUMNS, placement_hints
    from greenwatch.metrics._rollup import (
        rollup,
    )
    from greenwatch.metrics._site import (
        METER_ENERGY_COLUMNS,
        SITE_TOTAL_COLUMNS,
        TOTALS,
        combined_provenance,
        meter_columns,
        meter_energy,
        provenance_by,
        site_energy_totals,
        totals_from_meters,
    )
    from greenwatch.metrics._submeter import submeter_findings
    from greenwatch.metrics._targets import (
        NATIONAL_PUE_TARGET,
        national_pue_verdict,
        pue_grades,
        site_verdicts,
    )
    from greenwatch.metrics._utilisation import (
        time_weighted_mean,
        utilisation,
    )


__all__ = [
    "DEFAULT_MAX_VERIFICATION_AGE",
    "DEFAULT_MIN_COVERAGE",
    "DEFAULT_MIN_SHARE",
    "DISCOVERED_COLUMNS",
    "HINT_COLUMNS",
    "IDENTIFY_COLUMNS",
    "J_PER_KWH",
    "METER_ENERGY_COLUMNS",
    "NATIONAL_PUE_TARGET",
    "PFLOP",
    "POOL_COLUMNS",
    "PUE_CATEGORY_METERS",
    "SITE_TOTAL_COLUMNS",
    "TOTALS",
    "VERIFICATION_COLUMNS",
    "IntervalTotal",
    "Kpi",
    "Measured",
    "attribute_energy",
    "carbon_emissions",
    "combined_provenance",
    "computing_efficiency",
    "computing_power",
    "cue",
    "dcie",
    "delivered_computing",
    "energy_per_bucket",
    "ere",
    "erf",
    "free_computing",
    "identify_findings",
    "interval_energy",
    "is_interim",
    "link_availability",
    "link_summary",
    "link_utilisation",
    "link_utilisation_per_bucket",
    "meter_columns",
    "meter_energy",
    "national_pue_verdict",
    "partial_pue",
    "percentiles",
    "placement_hints",
    "pool_status",
    "provenance_by",
    "pue",
    "pue_grades",
    "ref",
    "regional_share",
    "rollup",
    "site_energy_totals",
    "site_link_summary",
    "site_verdicts",
    "submeter_findings",
    "time_weighted_mean",
    "totals_from_meters",
    "utilisation",
    "wue",
]

__getattr__ = lazy_face(
    __name__,
    "_carbon",
    "_computing_power",
    "_energy",
    "_kpi",
    "_links",
    "_placement",
    "_rollup",
    "_site",
    "_submeter",
    "_targets",
    "_utilisation",
)

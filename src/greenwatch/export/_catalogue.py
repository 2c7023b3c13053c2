"""What greenwatch exports: one entry per figure, with its name and unit in each format.

Names follow the Prometheus conventions (``greenwatch_`` prefix, base unit as suffix, plural):
carbon is exported in grams and CUE in grams per kWh because ``promtool check metrics`` asks
for the base unit ``grams`` instead of ``kilograms``. OpenTelemetry names are dotted with a
UCUM unit; an OpenTelemetry Collector's Prometheus exporter turns ``greenwatch.pue`` with unit
``1`` back into ``greenwatch_pue_ratio``. Every figure's values are in the same unit in all
three exports (Prometheus, OTLP, Influx).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One exported figure: Prometheus family (name with unit suffix), OTel name and unit."""

    key: str
    prom: str
    unit: str  # OpenMetrics unit: the suffix of ``prom`` ('' for none)
    otel: str
    otel_unit: str  # UCUM
    help: str
    coverage: bool = True  # a ``*_coverage_ratio`` family goes with it

    @property
    def stem(self) -> str:
        """The name without prefix and unit: ``pue``, ``carbon``, ``it_energy``."""
        name = self.prom.removeprefix("greenwatch_")
        return name.removesuffix("_" + self.unit) if self.unit else name

    @property
    def coverage_prom(self) -> str:
        return f"greenwatch_{self.stem}_coverage_ratio"

    @property
    def coverage_otel(self) -> str:
        return f"{self.otel}.coverage"


_WINDOW = " over the window (label window)"
FIGURES: dict[str, Figure] = {
    f.key: f
    for f in (
        Figure(
            "pue",
            "greenwatch_pue_ratio",
            "ratio",
            "greenwatch.pue",
            "1",
            "Power usage effectiveness, facility / IT energy (ISO/IEC 30134-2)" + _WINDOW + "; "
            "a hub, region or national figure is the ratio of summed energies",
        ),
        Figure(
            "ppue",
            "greenwatch_ppue_ratio",
            "ratio",
            "greenwatch.ppue",
            "1",
            "Partial PUE of a subsystem, (IT + subsystem) / IT energy (ISO/IEC 30134-2)" + _WINDOW,
        ),
        Figure(
            "wue",
            "greenwatch_wue_litres_per_kilowatt_hour",
            "litres_per_kilowatt_hour",
            "greenwatch.wue",
            "L/(kW.h)",
            "Water usage effectiveness, site water / IT energy (ISO/IEC 30134-9)" + _WINDOW,
        ),
        Figure(
            "cue",
            "greenwatch_cue_grams_per_kilowatt_hour",
            "grams_per_kilowatt_hour",
            "greenwatch.cue",
            "g/(kW.h)",
            "Carbon usage effectiveness, location-based CO2 / IT energy (ISO/IEC 30134-8; "
            "1000 g/kWh = 1 kg/kWh)" + _WINDOW,
        ),
        Figure(
            "carbon",
            "greenwatch_carbon_grams",
            "grams",
            "greenwatch.carbon",
            "g",
            "CO2 of facility energy, location- or market-based (label basis)" + _WINDOW,
        ),
        Figure(
            "green_share",
            "greenwatch_green_energy_share_ratio",
            "ratio",
            "greenwatch.green_energy.share",
            "1",
            "Renewable energy factor REF, renewable / facility energy (ISO/IEC 30134-3)" + _WINDOW,
        ),
        Figure(
            "erf",
            "greenwatch_energy_reuse_factor_ratio",
            "ratio",
            "greenwatch.energy_reuse.factor",
            "1",
            "Energy reuse factor ERF, reused / facility energy (ISO/IEC 30134-6)" + _WINDOW,
        ),
        Figure(
            "occupancy",
            "greenwatch_occupancy_ratio",
            "ratio",
            "greenwatch.occupancy",
            "1",
            'Time-mean utilisation_ratio{resource="it_capacity"}, groups weighted by rated IT '
            "capacity" + _WINDOW,
        ),
        Figure(
            "link_utilisation",
            "greenwatch_link_utilisation_ratio",
            "ratio",
            "greenwatch.link.utilisation",
            "1",
            "Mean utilisation of an inter-centre link, busier direction, bits / capacity" + _WINDOW,
        ),
        Figure(
            "facility_energy",
            "greenwatch_facility_energy_joules",
            "joules",
            "greenwatch.facility.energy",
            "J",
            "Total facility energy" + _WINDOW + "; a group sums the sites its PUE includes",
        ),
        Figure(
            "it_energy",
            "greenwatch_it_energy_joules",
            "joules",
            "greenwatch.it.energy",
            "J",
            "IT equipment energy at each site's PUE-category meter" + _WINDOW + "; a group sums "
            "the sites its PUE includes",
        ),
        Figure(
            "sites",
            "greenwatch_kpi_sites",
            "",
            "greenwatch.kpi.sites",
            "{site}",
            "Sites a group figure includes or leaves out (labels figure, status)" + _WINDOW,
            coverage=False,
        ),
        Figure(
            "pue_target",
            "greenwatch_pue_target_ratio",
            "ratio",
            "greenwatch.pue.target",
            "1",
            "PUE target of a site (inventory) or of the national network (2024 action plan: 1.5)",
            coverage=False,
        ),
    )
}

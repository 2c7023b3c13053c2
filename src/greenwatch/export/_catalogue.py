"""What greenwatch exports: one entry per figure, with its name and unit in each format.

Names follow the Prometheus conventions (``greenwatch_`` prefix, base unit as suffix, plural):
carbon is exported in grams and CUE in grams per kWh because ``promtool check metrics`` asks
for the base unit ``grams`` instead of ``kilograms``. OpenTelemetry names are dotted with a
UCUM unit; an OpenTelemetry Collector's Prometheus exporter turns ``greenwatch.pue`` with unit
``1`` back into ``greenwatch_pue_ratio``. Every figure's values are in the same unit in all
three exports (Prometheus, OTLP, Influx).

Computing power is exported in FLOPS (label ``class``: ``general`` and ``supercomputing``
counted in FP64, ``ai`` in FP16; classes are never added), its cost per delivered PFLOP-hour in
joules and grams (a PFLOP-hour is 1e15 FLOPS sustained for an hour).
"""

from __future__ import annotations

from dataclasses import dataclass

GRAMS_PER_KG = 1000.0  # carbon is exported in grams, the base unit promtool asks for


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
    coverage_help: str = "Share of the window with valid data behind"

    def coverage_description(self, name: str) -> str:
        """Help text of the coverage family beside ``name`` (the Prometheus or OTel name)."""
        return f"{self.coverage_help} {name} (0-1)"

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


_WINDOW = " over the window named in the metric (1h, 24h)"
_CLASS = " (label class: general, supercomputing in FP64; ai in FP16)"
_POOL = "; labels site, pool, class, model"
_FACILITY = "facility energy of the site shared among its pools by rated device power"
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
        Figure(
            "compute_rated",
            "greenwatch_compute_rated_flops",
            "flops",
            "greenwatch.compute.rated",
            "{flop}/s",
            "Rated peak computing power of the pools in service, devices x per-device peak"
            + _CLASS,
            coverage=False,
        ),
        Figure(
            "compute_available",
            "greenwatch_compute_available_flops",
            "flops",
            "greenwatch.compute.available",
            "{flop}/s",
            "Available computing power: rated x share of registered devices collectors see, "
            "0 for pools whose latest verification failed" + _CLASS,
            coverage_help="Share of the rated FLOPS whose devices collectors identify, behind",
        ),
        Figure(
            "compute_verified_share",
            "greenwatch_compute_verified_share_ratio",
            "ratio",
            "greenwatch.compute.verified.share",
            "1",
            "Share of the rated FLOPS whose pools passed a verification benchmark recently "
            "enough (90 days)" + _CLASS,
            coverage=False,
        ),
        Figure(
            "compute_delivered",
            "greenwatch_compute_delivered_flops",
            "flops",
            "greenwatch.compute.delivered",
            "{flop}/s",
            "Delivered computing power, mean rated FLOPS x utilisation of the pools' CPUs or "
            "accelerators" + _CLASS + _WINDOW,
            coverage_help="Share of the rated FLOP-hours with utilisation and facility energy "
            "data, behind",
        ),
        Figure(
            "compute_flops_per_watt",
            "greenwatch_compute_flops_per_watt",
            "flops_per_watt",
            "greenwatch.compute.efficiency",
            "{flop}/J",
            "Delivered FLOPS per watt of facility power (the " + _FACILITY + ")" + _CLASS + _WINDOW,
            coverage=False,
        ),
        Figure(
            "compute_energy_per_pflop_hour",
            "greenwatch_compute_energy_per_pflop_hour_joules",
            "joules",
            "greenwatch.compute.energy_per_pflop_hour",
            "J/{PFLOP.h}",
            "Facility energy per delivered PFLOP-hour (3.6e6 J = 1 kWh; the "
            + _FACILITY
            + ")"
            + _CLASS
            + _WINDOW,
            coverage=False,
        ),
        Figure(
            "compute_carbon_per_pflop_hour",
            "greenwatch_compute_carbon_per_pflop_hour_grams",
            "grams",
            "greenwatch.compute.carbon_per_pflop_hour",
            "g/{PFLOP.h}",
            "Location-based CO2 of the facility energy per delivered PFLOP-hour" + _CLASS + _WINDOW,
            coverage=False,
        ),
        Figure(
            "compute_verification_age",
            "greenwatch_compute_verification_age_seconds",
            "seconds",
            "greenwatch.compute.verification.age",
            "s",
            "Time since the pool's latest verification record (passed or failed); none for a "
            "pool never verified" + _POOL,
            coverage=False,
        ),
        Figure(
            "compute_pool_verification",
            "greenwatch_compute_pool_verification",
            "",
            "greenwatch.compute.pool.verification",
            "1",
            "1 for the pool's verification state (label state: ok, stale (passed, over 90 days "
            "ago), failed, never), 0 for the others" + _POOL,
            coverage=False,
        ),
        Figure(
            "compute_devices_registered",
            "greenwatch_compute_devices_registered",
            "",
            "greenwatch.compute.devices.registered",
            "{device}",
            "Devices of a model registered in the site's pools in service (labels site, model, "
            "device_kind)",
            coverage=False,
        ),
        Figure(
            "compute_devices_missing",
            "greenwatch_compute_devices_missing",
            "",
            "greenwatch.compute.devices.missing",
            "{device}",
            "Registered minus seen devices of a model at a site, while the identify check finds a "
            "mismatch (negative: more seen than registered; labels site, model, device_kind)",
            coverage=False,
        ),
    )
}

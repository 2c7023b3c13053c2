"""The canonical metric registry: every metric greenwatch stores is declared here, once.

Names follow Prometheus/OpenTelemetry conventions (base unit in the name, counters end in
``_total``). Collectors map vendor fields onto these names; nothing downstream knows a vendor's
field names. Names starting with ``ext_`` are the namespace for data an ingest profile did not
map: kept, typed as gauges, with free labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MetricKind(StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"


@dataclass(frozen=True)
class MetricSpec:
    """One canonical metric: name, base unit, kind, help text and labels it carries."""

    name: str
    unit: str
    kind: MetricKind
    help: str
    labels: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    @property
    def is_counter(self) -> bool:
        return self.kind is MetricKind.COUNTER


# Labels any metric may carry besides ``site`` and its own: where in the site it was measured
# and which collector produced it.
COMMON_LABELS: tuple[str, ...] = ("hall", "rack", "source")
EXT_PREFIX = "ext_"

_G, _C = MetricKind.GAUGE, MetricKind.COUNTER
# Below the coldest air ever measured on Earth (-89.2 °C) there is no reading of a computing
# centre; above 200 °C no sensor of one survives (silicon junctions trip near 105 °C).
TEMPERATURE_RANGE_C = (-90.0, 200.0)

# Labels with a closed vocabulary: the values ingest accepts for them on canonical metrics.
# Metering points follow ISO/IEC 30134-2 (``meter`` of water: ``site_inflow``, ``cooling``);
# device kinds cover the collectors' profiles and the OpenTelemetry ``hw.type`` values.
VOCABULARIES: dict[str, frozenset[str]] = {
    "meter": frozenset(
        {
            "facility",
            "it_ups_output",
            "it_pdu_output",
            "it_input",
            "cooling",
            "generator",
            "renewable_onsite",
            "site_inflow",
        }
    ),
    "instrument": frozenset({"onsite", "ppa", "certificate"}),
    "resource": frozenset({"cpu", "gpu", "memory", "storage", "it_capacity"}),
    "device_kind": frozenset(
        {
            "cpu",
            "gpu",
            "npu",
            "fpga",
            "memory",
            "server",
            "host",
            "device",
            "pdu",
            "pdu_outlet",
            "pdu_phase",
            "psu",
            "power_supply",
            "transfer_switch",
            "switch",
            "storage",
            "battery",
            "disk_controller",
            "enclosure",
            "fan",
            "logical_disk",
            "network",
            "physical_disk",
            "tape_drive",
            "temperature",
            "voltage",
        }
    ),
}

_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("power_watts", "watts", _G, "Power at a metering point.", ("meter",), 0.0),
    MetricSpec("energy_joules_total", "joules", _C, "Energy at a metering point.", ("meter",), 0.0),
    MetricSpec(
        "water_litres_total", "litres", _C, "Water drawn (site inflow, cooling).", ("meter",), 0.0
    ),
    MetricSpec(
        "green_energy_joules_total",
        "joules",
        _C,
        "Renewable energy credited to the site (on-site, PPA, certificates).",
        ("instrument",),
        0.0,
    ),
    MetricSpec(
        "reused_energy_joules_total", "joules", _C, "Energy exported for reuse (heat).", (), 0.0
    ),
    MetricSpec(
        "utilisation_ratio",
        "ratio",
        _G,
        "Utilisation of a resource class, 0-1 (cpu, gpu, storage, it_capacity).",
        ("resource",),
        0.0,
        1.0,
    ),
    MetricSpec(
        "device_power_watts",
        "watts",
        _G,
        "Power of one device (server, GPU, PDU outlet).",
        ("device", "device_kind"),
        0.0,
    ),
    MetricSpec(
        "device_energy_joules_total",
        "joules",
        _C,
        "Energy of one device (server, GPU, PDU outlet).",
        ("device", "device_kind"),
        0.0,
    ),
    MetricSpec(
        "device_utilisation_ratio",
        "ratio",
        _G,
        "Utilisation of one device (GPU SMs, CPU), 0-1.",
        ("device", "device_kind", "resource"),
        0.0,
        1.0,
    ),
    MetricSpec(
        "device_memory_used_bytes",
        "bytes",
        _G,
        "Memory in use on one device.",
        ("device", "device_kind"),
        0.0,
    ),
    MetricSpec(
        "compute_devices",
        "devices",
        _G,
        "Computing devices of one model seen by a collector (NVML, DCGM, Redfish Processors).",
        ("device_kind", "model"),
        0.0,
    ),
    MetricSpec(
        "temperature_celsius",
        "celsius",
        _G,
        "Temperature at a sensor.",
        ("sensor",),
        TEMPERATURE_RANGE_C[0],
        TEMPERATURE_RANGE_C[1],
    ),
    MetricSpec(
        "link_transmit_bytes_total",
        "bytes",
        _C,
        "Bytes sent on an inter-centre link.",
        ("link", "interface"),
        0.0,
    ),
    MetricSpec(
        "link_receive_bytes_total",
        "bytes",
        _C,
        "Bytes received on an inter-centre link.",
        ("link", "interface"),
        0.0,
    ),
    MetricSpec(
        "link_capacity_bits_per_second",
        "bits_per_second",
        _G,
        "Nominal capacity of a link.",
        ("link", "interface"),
        0.0,
    ),
    MetricSpec("link_up", "ratio", _G, "Link state: 1 up, 0 down.", ("link", "interface"), 0, 1),
    MetricSpec("link_latency_seconds", "seconds", _G, "Probe round-trip latency.", ("link",), 0.0),
    MetricSpec("link_loss_ratio", "ratio", _G, "Probe loss, 0-1.", ("link",), 0.0, 1.0),
    MetricSpec(
        "collector_up",
        "ratio",
        _G,
        "1 when the last poll of a target succeeded, else 0 (label reason says why).",
        ("target", "profile", "reason"),
        0.0,
        1.0,
    ),
    MetricSpec(
        "collector_duration_seconds",
        "seconds",
        _G,
        "Duration of the last poll of a target.",
        ("target", "profile"),
        0.0,
    ),
)

REGISTRY: dict[str, MetricSpec] = {spec.name: spec for spec in _SPECS}


def metric_spec(name: str) -> MetricSpec | None:
    """The spec of a canonical metric; an ``ext_`` name gets a free-form gauge spec."""
    spec = REGISTRY.get(name)
    if spec is None and name.startswith(EXT_PREFIX) and len(name) > len(EXT_PREFIX):
        return MetricSpec(name, "", MetricKind.GAUGE, "Unmapped external data.")
    return spec

"""Collectors over real protocols: Redfish, SNMP, Modbus TCP, Prometheus, NVML, link probes.

A collector is configured by a profile (YAML in ``collectors/``) and a target, and returns a
canonical batch per poll or raises :class:`CollectorError` with a health reason. The
:class:`Scheduler` polls targets on their intervals and turns every outcome into samples
(``collector_up``, ``collector_duration_seconds``) sent with the data to a sink. ``collect``
never writes to a store.
"""

from greenwatch.collect._base import Collector
from greenwatch.collect._entry import (
    FAMILIES,
    build_collector,
    check_profile,
    collect_once,
    load_profile,
)
from greenwatch.collect._errors import REASONS, CollectorError
from greenwatch.collect._modbus import ModbusCollector, ModbusProfile
from greenwatch.collect._nvml import NvmlApi, NvmlCollector, NvmlProfile, PynvmlApi
from greenwatch.collect._probe import ProbeCollector, ProbeProfile
from greenwatch.collect._profile import ProfileBase, Rule, shipped_profiles
from greenwatch.collect._prom import PrometheusCollector, PrometheusProfile
from greenwatch.collect._redfish import RedfishCollector, RedfishProfile
from greenwatch.collect._scheduler import Scheduler, Sink, TargetHealth, health_batch
from greenwatch.collect._snmp import SnmpCollector, SnmpProfile
from greenwatch.collect._target import Credentials, Peer, Target, load_targets

__all__ = [
    "FAMILIES",
    "REASONS",
    "Collector",
    "CollectorError",
    "Credentials",
    "ModbusCollector",
    "ModbusProfile",
    "NvmlApi",
    "NvmlCollector",
    "NvmlProfile",
    "Peer",
    "ProbeCollector",
    "ProbeProfile",
    "ProfileBase",
    "PrometheusCollector",
    "PrometheusProfile",
    "PynvmlApi",
    "RedfishCollector",
    "RedfishProfile",
    "Rule",
    "Scheduler",
    "Sink",
    "SnmpCollector",
    "SnmpProfile",
    "Target",
    "TargetHealth",
    "build_collector",
    "check_profile",
    "collect_once",
    "health_batch",
    "load_profile",
    "load_targets",
    "shipped_profiles",
]

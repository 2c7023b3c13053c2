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
from greenwatch.collect._errors import CollectorError
from greenwatch.collect._nvml import NvmlApi
from greenwatch.collect._profile import ProfileBase, Rule, shipped_profiles
from greenwatch.collect._prom import PrometheusProfile
from greenwatch.collect._scheduler import Scheduler
from greenwatch.collect._target import Target, load_targets

__all__ = [
    "FAMILIES",
    "Collector",
    "CollectorError",
    "NvmlApi",
    "ProfileBase",
    "PrometheusProfile",
    "Rule",
    "Scheduler",
    "Target",
    "build_collector",
    "check_profile",
    "collect_once",
    "load_profile",
    "load_targets",
    "shipped_profiles",
]

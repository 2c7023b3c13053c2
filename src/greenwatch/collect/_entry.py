"""The family registry and the entry points the CLI and the service call.

``FAMILIES`` maps a profile's ``family`` to its collector class. A new device of a known
family is a new YAML profile in ``collectors/``; only a new protocol adds a class here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from greenwatch.collect._base import Collector
from greenwatch.collect._modbus import ModbusCollector
from greenwatch.collect._nvml import NvmlCollector
from greenwatch.collect._probe import ProbeCollector
from greenwatch.collect._profile import ProfileBase, read_profile
from greenwatch.collect._prom import PrometheusCollector
from greenwatch.collect._redfish import RedfishCollector
from greenwatch.collect._snmp import SnmpCollector
from greenwatch.collect._target import Target, target_from_spec
from greenwatch.model import Clock, utc_now

FAMILIES: dict[str, type[Collector]] = {
    cls.family: cls
    for cls in (
        RedfishCollector,
        SnmpCollector,
        ModbusCollector,
        PrometheusCollector,
        NvmlCollector,
        ProbeCollector,
    )
}


def load_profile(path_or_name: str | Path) -> ProfileBase:
    """A validated profile from a file path or a shipped profile name (``redfish``, …).

    Raises :class:`~greenwatch.model.ConfigError` naming file, line and key.
    """
    models = {family: cls.profile_model for family, cls in FAMILIES.items()}
    return read_profile(path_or_name, models)


def check_profile(path: str | Path) -> None:
    """Validate a profile file without polling anything (``greenwatch collect --check``).

    Raises :class:`~greenwatch.model.ConfigError` listing every problem with its line: unknown
    keys, unknown metrics or units, bad OIDs, bad register addresses or counts.
    """
    load_profile(path)


def build_collector(
    profile: ProfileBase | str | Path,
    target: Target | dict[str, Any],
    clock: Clock = utc_now,
    **inject: Any,
) -> Collector:
    """The collector for ``profile``'s family, polling ``target``.

    ``inject`` passes a family's side effects (``client=`` for HTTP families, ``nvml=`` for
    NVML). Raises ``ConfigError`` when the target does not fit the profile.
    """
    if not isinstance(profile, ProfileBase):
        profile = load_profile(profile)
    cls = FAMILIES[profile.family]
    return cls(profile, target_from_spec(target), clock, **inject)


def collect_once(
    profile_path_or_name: str | Path,
    target_spec: Target | dict[str, Any],
    *,
    clock: Clock = utc_now,
    **inject: Any,
) -> pd.DataFrame:
    """Poll one target once and return its batch (``greenwatch collect --once``).

    Raises ``ConfigError`` for a bad profile or target and
    :class:`~greenwatch.collect.CollectorError` (with ``reason``) when the poll fails.
    """
    with build_collector(profile_path_or_name, target_spec, clock, **inject) as collector:
        return collector.collect()

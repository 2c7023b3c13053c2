"""Deterministic simulator of the national computing-power network.

:class:`Simulator` advances an :class:`~greenwatch.inventory.Inventory` through time and
returns canonical batches (see :mod:`greenwatch.model`): per site, power and energy at every
metering point, water, green and reused energy, utilisation and temperatures; per link,
traffic counters, state, capacity, probe latency and loss. :class:`Scenario` scripts incidents
(chiller failure, meter dropout, counter reset, link flap or outage, collector outage).
:class:`SimulatedCentres` serves a live simulator on loopback over Prometheus, Redfish,
Modbus TCP and SNMP, so real collectors can poll it.
"""

from typing import TYPE_CHECKING

from greenwatch._lazy import lazy_face

if TYPE_CHECKING:
    from greenwatch.simulate._scenario import Scenario, ScenarioError, ScenarioKind
    from greenwatch.simulate._serve import SimulatedCentres, serving
    from greenwatch.simulate._serve_live import LIVE_STEP, LiveNetwork
    from greenwatch.simulate._simulator import Simulator


__all__ = [
    "LIVE_STEP",
    "LiveNetwork",
    "Scenario",
    "ScenarioError",
    "ScenarioKind",
    "SimulatedCentres",
    "Simulator",
    "serving",
]

__getattr__ = lazy_face(__name__, "_scenario", "_serve", "_serve_live", "_simulator")

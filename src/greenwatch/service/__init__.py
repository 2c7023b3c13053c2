"""Wiring: the serve process, the demo; the only stage (with cli) that imports every stage."""

from greenwatch.service._demo import DemoState, backfill, demo_scenarios
from greenwatch.service._serve import Service, run_until_stopped

__all__ = ["DemoState", "Service", "backfill", "demo_scenarios", "run_until_stopped"]

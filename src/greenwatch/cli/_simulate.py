"""``greenwatch simulate serve``, and the demo's live data collected over real protocols.

``simulate serve`` runs the simulated national network as devices on loopback: Prometheus
pages, a Redfish service per site, a Modbus TCP gateway of facility meters and an SNMP agent
per link, all reading one live simulator. The demo does the same in-process and points a
collect scheduler at those endpoints, so the live dashboard is fed by the real collectors.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pandas as pd
import yaml

from greenwatch.cli._common import say
from greenwatch.collect import build_collector
from greenwatch.inventory import Inventory, load_inventory
from greenwatch.service import Service, run_until_stopped, wait_for_stop
from greenwatch.simulate import LIVE_STEP, LiveNetwork, SimulatedCentres, Simulator
from greenwatch.store import Store


def first_sites(inventory: Inventory, count: int | None) -> Inventory:
    """The first ``count`` sites of ``inventory`` (all when None) and the links among them.

    The simulator draws each site's and link's constants from the seed and its own id, so a
    smaller network simulates those sites exactly as the whole one does.
    """
    if count is None or count >= len(inventory.sites):
        return inventory
    sites = inventory.sites[:count]
    kept = {s.id for s in sites}
    links = tuple(lk for lk in inventory.links if lk.a in kept and lk.b in kept)
    return inventory.model_copy(update={"sites": sites, "links": links})


def _cmd_serve(args: argparse.Namespace) -> int:
    inventory = first_sites(load_inventory(args.inventory), args.sites)
    start = pd.Timestamp.now(tz="UTC").floor(LIVE_STEP)
    sim = Simulator(inventory, seed=args.seed, start=start)
    centres = SimulatedCentres(
        LiveNetwork(sim), inventory, base_port=args.base_port, snmp=not args.no_snmp
    )
    with centres:
        say(
            f"greenwatch simulate: {len(inventory.sites)} sites, {len(inventory.links)} links, "
            f"{sim.series_count()} series, seed {args.seed}, new values every "
            f"{LIVE_STEP.total_seconds():g} s"
        )
        for endpoint in centres.endpoints():
            say(f"  {endpoint.protocol:<10} {endpoint.address:<22} {endpoint.serves}")
        specs = centres.target_specs()
        if args.targets_out is not None:
            args.targets_out.write_text(
                yaml.safe_dump({"targets": specs}, sort_keys=False), encoding="utf-8"
            )
            say(f"wrote {len(specs)} collector targets to {args.targets_out}; try:")
            first = specs[0]["name"]
            say(f"  greenwatch collect --once --targets {args.targets_out} --target {first}")
        say("serving until Ctrl-C")
        wait_for_stop()
    say("greenwatch simulate: stopped")
    return 0


def serve_demo_over_protocols(
    sim: Simulator,
    inventory: Inventory,
    store: Store,
    *,
    announce: Callable[[str], None] = say,
    **options: Any,
) -> int:
    """Serve the demo with live data collected from the simulator over real protocols.

    The simulator (already backfilled) is written up to now directly, then served on
    loopback; one collector per (site, protocol) and per link polls it every 15 s into the
    service's ingest, on the series the backfill wrote.
    """
    now = pd.Timestamp.now(tz="UTC").floor(LIVE_STEP)
    store.write(sim.advance(now, LIVE_STEP))
    centres = SimulatedCentres(LiveNetwork(sim), inventory)
    try:
        centres.start()
    except OSError as exc:  # no loopback ports: fall back to reading the simulator directly
        announce(f"cannot serve the simulated centres ({exc}); reading the simulator in-process")
        run_until_stopped(Service(store, inventory, live=sim, **options), announce)
        return 0
    try:
        specs = centres.target_specs()
        collectors = [build_collector(spec["profile"], spec) for spec in specs]
        service = Service(store, inventory, collectors=collectors, **options)
        protocols = sorted({e.protocol for e in centres.endpoints()})
        announce(
            f"live data: {len(collectors)} collectors poll the simulated centres over "
            f"{', '.join(protocols)} on loopback (every {LIVE_STEP.total_seconds():g} s, "
            "link routers every 60 s)"
        )
        run_until_stopped(service, announce)
    finally:
        centres.stop()
    return 0

"""Compute pools and verification records from a registry, for the report and KPI commands
and the server: light to import, so a command that opens the store need not load the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from greenwatch.inventory import Inventory
from greenwatch.query import ComputeSource, PoolsAndRecords
from greenwatch.resources import REGISTRY_FILE, ResourceRegistry, verification_frame


def registry_source(registry: ResourceRegistry) -> ComputeSource:
    """A :data:`~greenwatch.query.ComputeSource` reading the registry's current state."""

    def read() -> PoolsAndRecords:
        pools = [(v.site, v.pool) for v in registry.pools()]
        return pools, verification_frame(registry.verifications())

    return read


@contextmanager
def stored_source(data_dir: Path, inventory: Inventory) -> Iterator[ComputeSource | None]:
    """The registry a server keeps in ``data_dir`` as a source; None when there is none."""
    path = data_dir / REGISTRY_FILE
    if not path.exists():
        yield None
        return
    registry = ResourceRegistry(path, inventory)
    try:
        yield registry_source(registry)
    finally:
        registry.close()

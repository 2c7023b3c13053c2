"""Wiring: the serve process, the demo; the only stage (with cli) that imports every stage."""

from typing import TYPE_CHECKING

from greenwatch._lazy import lazy_face
from greenwatch.service._names import SCOPES

if TYPE_CHECKING:
    from greenwatch.service._backup import restore_backup, write_backup
    from greenwatch.service._context import ApiContext
    from greenwatch.service._demo import (
        DemoState,
        backfill,
        demo_scenarios,
        registered_inventory,
        seed_registry,
    )
    from greenwatch.service._local import LocalServer, running_server, stored_token
    from greenwatch.service._serve import Service, run_until_stopped, wait_for_stop
    from greenwatch.service._source import stored_source
    from greenwatch.service._tokens import (
        TokenStore,
    )


__all__ = [
    "SCOPES",
    "ApiContext",
    "DemoState",
    "LocalServer",
    "Service",
    "TokenStore",
    "backfill",
    "demo_scenarios",
    "registered_inventory",
    "restore_backup",
    "run_until_stopped",
    "running_server",
    "seed_registry",
    "stored_source",
    "stored_token",
    "wait_for_stop",
    "write_backup",
]

# Light modules first: a command asking a server or reading the registry loads only those.
__getattr__ = lazy_face(
    __name__, "_local", "_source", "_backup", "_context", "_demo", "_serve", "_tokens"
)

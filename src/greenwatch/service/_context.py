"""What HTTP API modules get from the service: the stores, inventory and pipeline they serve."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import flask
import pandas as pd

from greenwatch.alerts import AlertEngine
from greenwatch.ingest import Ingest
from greenwatch.inventory import Inventory
from greenwatch.store import Store

Clock = Callable[[], pd.Timestamp]


@dataclass
class ApiContext:
    """Shared by every ``service/_api_*.py`` module's ``register(app, ctx)``."""

    store: Store
    inventory: Inventory
    ingest: Ingest
    clock: Clock
    data_dir: Path | None = None
    alerts: AlertEngine | None = None


def bad_request(message: str, status: int = 400, **extra: object) -> tuple[flask.Response, int]:
    """A JSON error body (``{"code", "message", ...}``) with a 4xx status."""
    code = {
        400: "invalid",
        401: "unauthorized",
        403: "forbidden",
        404: "not found",
        413: "request too large",
        415: "unsupported media type",
    }.get(status, "invalid")
    return flask.jsonify(code=code, message=message, **extra), status

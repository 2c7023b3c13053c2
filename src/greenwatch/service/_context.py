"""What HTTP API modules get from the service: the stores, inventory and pipeline they serve."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flask

from greenwatch.alerts import AlertEngine, AuditLog
from greenwatch.export import KpiExports
from greenwatch.ingest import Boundary, Ingest
from greenwatch.inventory import Inventory
from greenwatch.model import Clock, FailureThrottle
from greenwatch.query import ComputeSource, inventory_source
from greenwatch.resources import ResourceRegistry
from greenwatch.service._source import registry_source
from greenwatch.service._tokens import TokenStore
from greenwatch.store import Store

FAILURE_LIMIT = 10  # failed authentications per client address and window
FAILURE_WINDOW_S = 60.0


@dataclass
class ApiContext:
    """Shared by every ``service/_api_*.py`` module's ``register(app, ctx)``: what the routes
    serve, the tokens they check, the request body limit (None: the ingest default) and the
    ``/metrics`` exports (None: the metrics module makes its own, health only)."""

    store: Store
    inventory: Inventory
    ingest: Ingest
    clock: Clock
    data_dir: Path | None = None
    alerts: AlertEngine | None = None
    resources: ResourceRegistry | None = None
    audit: AuditLog | None = None
    boundary: Boundary | None = None  # None: refuse unknown sites of ``inventory``
    tokens: TokenStore = field(default_factory=lambda: TokenStore(None))
    max_body_bytes: int | None = None
    exports: KpiExports | None = None
    render_pdf: Callable[[str], bytes] | None = None  # a report's PDF; None: in this process
    throttle: FailureThrottle = field(
        default_factory=lambda: FailureThrottle(FAILURE_LIMIT, FAILURE_WINDOW_S)
    )

    def log_action(self, action: str, target: str, detail: str = "") -> None:
        """Append a change made through the API to the audit log: the caller's token name and
        address (the dashboard logs its own)."""
        if self.audit is None:
            return
        token = flask.g.get("token")
        who = str(token.name) if token is not None else "-"
        client = flask.request.remote_addr or "-"
        self.audit.record(who, action, target, client, "api", detail)

    @property
    def compute_source(self) -> ComputeSource:
        """Pools and verification records: the registry's, else the inventory's pools."""
        if self.resources is None:
            return inventory_source(self.inventory)
        return registry_source(self.resources)


NOT_A_JSON_OBJECT = "send a JSON object (Content-Type: application/json)"


def ordered_json(**payload: object) -> flask.Response:
    """A JSON body with its fields in the order they were built (``flask.jsonify`` sorts
    them), so a command printing a server's answer prints what it prints from the store."""
    return flask.Response(json.dumps(payload), mimetype="application/json")


def json_object() -> dict[str, Any] | None:
    """The request's body when it is a JSON object, else None."""
    body = flask.request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def bad_request(message: str, status: int = 400, **extra: object) -> tuple[flask.Response, int]:
    """A JSON error body (``{"code", "message", ...}``) with a 4xx status."""
    code = {
        400: "invalid",
        401: "unauthorized",
        403: "forbidden",
        404: "not found",
        409: "conflict",
        413: "request too large",
        415: "unsupported media type",
        429: "too many requests",
    }.get(status, "invalid")
    return flask.jsonify(code=code, message=message, **extra), status

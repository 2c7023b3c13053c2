"""``GET /metrics``: greenwatch's KPIs and its own health in the Prometheus exposition format.

The page is rendered from the latest KPI snapshot (refreshed by a scheduler job, see
:class:`greenwatch.export.KpiExports`) and from counters the service keeps anyway, so a scrape
costs a few milliseconds whatever the network's size. OpenMetrics when the scraper sends
``Accept: application/openmetrics-text`` (Prometheus does), gzip on ``Accept-Encoding``.

``GET /metrics/samples`` holds the latest sample of each canonical series (see
:mod:`greenwatch.export._samples`), the input of the exported alert rules where Prometheus or
VictoriaMetrics scrapes greenwatch.

Open by default, like ``/healthz``: the pages hold aggregates and the latest readings (no
history, no labels beyond those of the canonical series). ``ExportSettings(metrics_token=True)``
makes them need a token with the ``read`` scope (Prometheus: ``authorization:
{credentials_file: …}``).
"""

from __future__ import annotations

from collections.abc import Sequence

import flask

from greenwatch.collect import Collector, Scheduler
from greenwatch.export import CollectorHealth, KpiExports, ServiceHealth, exposition
from greenwatch.ingest import BoundaryStats
from greenwatch.service._context import ApiContext


def service_health(
    ctx: ApiContext,
    collection: Scheduler | None = None,
    collectors: Sequence[Collector] = (),
    pending_batches: int = 0,
) -> ServiceHealth:
    """What ``/metrics`` reports about the service, read without waiting on any job's lock."""
    profiles = {c.target.name: (c.profile_name, c.target.site) for c in collectors}
    targets = []
    for name, h in sorted((collection.health() if collection else {}).items()):
        profile, site = profiles.get(name, ("", ""))
        last = h.last_success.timestamp() if h.last_success is not None else None
        targets.append(CollectorHealth(name, profile, site, h.up, h.duration_s, last))
    alerts = ctx.alerts
    evaluated = alerts.last_eval_at if alerts is not None else None
    boundary = ctx.boundary.stats.snapshot() if ctx.boundary is not None else BoundaryStats()
    return ServiceHealth(
        samples_received=ctx.ingest.received,
        samples_stored=ctx.ingest.stored,
        batches_rejected=ctx.ingest.rejected_batches,
        pending_batches=pending_batches,
        collectors=tuple(targets),
        alert_rules=len(alerts.rules.rules) if alerts is not None else None,
        alert_rule_errors=len(alerts.rule_errors) if alerts is not None else 0,
        alert_evaluation_s=alerts.last_eval_s if alerts and evaluated is not None else None,
        alert_last_evaluation=evaluated.timestamp() if evaluated is not None else None,
        boundary_refused_requests=boundary.refused_requests,
        boundary_refused=boundary.refused,
        boundary_flagged=boundary.flagged,
        unregistered_sources=len(boundary.sources),
    )


def register(app: flask.Flask, ctx: ApiContext) -> None:
    """``GET /metrics`` over the service's :class:`KpiExports` (else health only)."""
    if ctx.exports is None:  # an app without a service: no snapshot job, health from the context
        ctx.exports = KpiExports(
            ctx.store, ctx.inventory, ctx.clock, health=lambda: service_health(ctx)
        )
    exports = ctx.exports
    pages = {"/metrics": exports.registry, "/metrics/samples": exports.samples_registry}

    @app.get("/metrics")
    @app.get("/metrics/samples")
    def metrics() -> flask.Response | tuple[flask.Response, int]:
        request = flask.request
        body, headers = exposition(
            pages[request.path],
            request.headers.get("Accept", ""),
            request.headers.get("Accept-Encoding", ""),
        )
        return flask.Response(body, headers=headers)

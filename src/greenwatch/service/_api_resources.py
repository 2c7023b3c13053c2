"""Computing-resources API: the pool registry and verification records (JSON).

- ``POST /api/v1/resources`` (admin) ``{"site", "pool": {…}, "expected_version"?}`` registers
  the next version of a pool: 201 with it, 200 when identical to the current one, 400 with
  ``problems`` ``[{"key": "pool.count", "message": …}]``, 409 when ``expected_version`` is stale.
- ``DELETE /api/v1/resources/<site>/<pool>`` (admin) removes a pool (its history stays).
- ``GET /api/v1/resources`` ``?site=&hub=&region=&class=`` lists the current pools with their
  site's hub and region, ``precision`` and ``rated_flops``; ``GET /api/v1/resources/<site>/<pool>``
  shows one with its ``history``.
- ``POST /api/v1/resources/verifications`` (write; a token bound to sites records only
  those sites', else 403) records a benchmark result: 400 with the reason when it cannot be
  a real run (more devices than the pool has, a precision the pool's class is not verified
  at, measured FLOPS above 1.2 x rated peak per device x devices tested);
  ``GET /api/v1/resources/verifications`` ``?site=&pool=`` lists them.

The caller's token name is recorded as ``registered_by`` / ``recorded_by``; registrations and
removals also go to the audit log (``GET /api/v1/audit``).
"""

from __future__ import annotations

from typing import Any

import flask

from greenwatch.resources import (
    PoolNotFoundError,
    RegistrationError,
    ResourceRegistry,
    VersionConflictError,
)
from greenwatch.service._context import (
    NOT_A_JSON_OBJECT,
    ApiContext,
    bad_request,
    json_object,
    ordered_json,
)
from greenwatch.service._tokens import TokenInfo

Reply = flask.Response | tuple[flask.Response, int]
_BODY_KEYS = ("site", "pool", "expected_version")


def _invalid(problems: list[tuple[str, str]]) -> tuple[flask.Response, int]:
    message = "; ".join(f"{key}: {msg}" if key else msg for key, msg in problems)
    listed = [{"key": key, "message": msg} for key, msg in problems]
    return bad_request(message, problems=listed)


def _registration(body: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems with the shape of a registration body (the registry judges the pool)."""
    problems = [(key, "unknown key") for key in body if key not in _BODY_KEYS]
    if not isinstance(body.get("site"), str):
        problems.append(("site", "required: a site id"))
    if not isinstance(body.get("pool"), dict):
        problems.append(("pool", "required: a JSON object with the pool's fields"))
    version = body.get("expected_version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        problems.append(("expected_version", "must be an integer version"))
    return problems


def _caller() -> str:
    return str(flask.g.token.name)


def register(app: flask.Flask, ctx: ApiContext) -> None:
    def registry() -> ResourceRegistry:
        assert ctx.resources is not None, "the service creates the registry"
        return ctx.resources

    @app.post("/api/v1/resources")
    def register_pool() -> Reply:
        body = json_object()
        if body is None:
            return _invalid([("", NOT_A_JSON_OBJECT)])
        problems = _registration(body)
        if problems:
            return _invalid(problems)
        reg = registry()
        before = reg.get(body["site"], str(body["pool"].get("id", "")))
        try:
            version = reg.register(
                body["site"], body["pool"], _caller(), body.get("expected_version")
            )
        except RegistrationError as exc:
            return _invalid(exc.problems)
        except VersionConflictError as exc:
            return bad_request(str(exc), 409, current_version=exc.current)
        unchanged = before is not None and before.version == version.version
        if not unchanged:
            ctx.log_action("register", f"{version.site}/{version.pool.id}", f"v{version.version}")
        return flask.jsonify(reg.view(version)), 200 if unchanged else 201

    @app.delete("/api/v1/resources/<site>/<pool>")
    def remove_pool(site: str, pool: str) -> Reply:
        reg = registry()
        try:
            removed = reg.remove(site, pool, _caller())
        except PoolNotFoundError as exc:
            return bad_request(str(exc), 404)
        ctx.log_action("remove", f"{site}/{pool}", f"v{removed.version}")
        return flask.jsonify(reg.view(removed))

    @app.get("/api/v1/resources")
    def list_pools() -> Reply:
        args = flask.request.args
        reg = registry()
        pools = reg.pools(
            site=args.get("site"),
            hub=args.get("hub"),
            region=args.get("region"),
            compute_class=args.get("class"),
        )
        return ordered_json(pools=[reg.view(v) for v in pools])

    @app.get("/api/v1/resources/<site>/<pool>")
    def show_pool(site: str, pool: str) -> Reply:
        shown = registry().detail(site, pool)
        if shown is None:
            return bad_request(f"no pool {pool!r} at site {site!r}", 404)
        return ordered_json(**shown)

    @app.post("/api/v1/resources/verifications")
    def record_verification() -> Reply:
        body = json_object()
        if body is None:
            return _invalid([("", NOT_A_JSON_OBJECT)])
        token: TokenInfo = flask.g.token
        sites = token.writable_sites
        if sites is not None and body.get("site") not in sites:
            bound = ", ".join(token.sites) or "no site"
            message = f"token {token.name!r} may not record site {body.get('site')!r} ({bound})"
            return bad_request(message, 403)
        try:
            record = registry().record_verification(body, _caller())
        except RegistrationError as exc:
            return _invalid(exc.problems)
        return flask.jsonify(record.to_dict()), 201

    @app.get("/api/v1/resources/verifications")
    def list_verifications() -> Reply:
        args = flask.request.args
        records = registry().verifications(site=args.get("site"), pool=args.get("pool"))
        return flask.jsonify(verifications=[r.to_dict() for r in records])

"""Alerts API: ``GET /api/v1/alerts``, one alert, its acknowledgement, silences, maintenance.

- ``GET /api/v1/alerts`` — pending, firing and recently resolved alerts; filters ``state``,
  ``severity`` (comma-separated), ``silenced`` / ``inhibited`` (true|false) and any label
  (``?site=guian-1``); ``GET /api/v1/alerts/<fingerprint>``.
- ``POST /api/v1/alerts/<fingerprint>/ack`` ``{"by": …, "comment": …}`` — no repeat
  notifications for it while it fires.
- ``POST /api/v1/alerts/test`` ``{"at": ISO, "rules": {"source", "text"} | null,
  "config": {"source", "text"} | null}`` (read: it changes nothing) — what ``greenwatch alerts
  test`` answers: the rules (null: the shipped pack) replayed on this store up to ``at`` with
  the alerting config (null: the shipped one); nothing is sent, no state kept.
- ``GET /api/v1/alerts/status`` — last evaluation, rule errors, deliveries and failures per
  receiver integration (last error included).
- ``GET|POST /api/v1/silences``, ``GET|PUT|DELETE /api/v1/silences/<id>`` — silences with
  ``matchers`` (``["site=\\"guian-1\\""]`` or Alertmanager objects), ``createdBy``,
  ``comment``, ``startsAt`` and ``endsAt`` or ``duration`` (``2h``). DELETE expires.
- ``GET /api/v1/maintenance`` — the configured recurring maintenance windows.
- ``GET /api/v1/audit`` (admin: it names people and client addresses) — the newest 100
  operator actions (acknowledge, silence, expire; pool registrations and removals) from the
  dashboard and the API: ``at``, ``who``, ``action``, ``target``, ``client``, ``via``,
  ``detail``. Every change made here is logged there with the token's name.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import flask
import pandas as pd

from greenwatch.alerts import (
    AlertingConfig,
    AlertNotFoundError,
    RuleSet,
    Silence,
    load_config,
    load_rules,
    parse_rules,
    replay_rules,
)
from greenwatch.model import GreenwatchError, load_yaml, parse_duration, parse_model
from greenwatch.service._context import (
    NOT_A_JSON_OBJECT,
    ApiContext,
    bad_request,
    json_object,
    ordered_json,
)

Reply = flask.Response | tuple[flask.Response, int]
_LIST_ARGS = {"state", "severity", "silenced", "inhibited"}


def _off() -> tuple[flask.Response, int]:
    return flask.jsonify(code="unavailable", message="alerting is not enabled in this service"), 503


def _time(raw: object, name: str) -> pd.Timestamp | None:
    if raw in (None, ""):
        return None
    try:
        ts = pd.Timestamp(str(raw))
    except ValueError as exc:
        raise GreenwatchError(f"{name}: bad time {raw!r}: {exc}") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _body() -> dict[str, Any]:
    body = json_object()
    if body is None:
        raise GreenwatchError(NOT_A_JSON_OBJECT)
    return body


def _silence_from(body: dict[str, Any], now: pd.Timestamp, silence_id: str | None) -> Silence:
    duration = body.get("duration")
    try:
        span = parse_duration(duration) if duration not in (None, "") else None
    except ValueError as exc:
        raise GreenwatchError(f"duration: {exc}") from None
    return Silence.create(
        body.get("matchers"),
        created_by=str(body.get("createdBy", "")),
        comment=str(body.get("comment", "")),
        now=now,
        starts_at=_time(body.get("startsAt"), "startsAt"),
        ends_at=_time(body.get("endsAt"), "endsAt"),
        duration=span,
        silence_id=silence_id,
    )


def _keep(view: dict[str, Any], args: Any) -> bool:
    for name in ("state", "severity"):
        wanted = args.get(name)
        if wanted and view[name] not in wanted.split(","):
            return False
    for name in ("silenced", "inhibited"):
        wanted = args.get(name)
        if wanted in ("true", "false") and view[name] != (wanted == "true"):
            return False
    labels = view["labels"]
    return all(labels.get(k) == v for k, v in args.items() if k not in _LIST_ARGS)


def _sent_file(body: dict[str, Any], key: str) -> tuple[str, str] | None:
    """``(source, text)`` of a file sent as ``{"source", "text"}``; None for the shipped one."""
    sent = body.get(key)
    if sent is None:
        return None
    if not isinstance(sent, dict) or not isinstance(sent.get("text"), str):
        raise GreenwatchError(f"{key} must be null or {{'source': NAME, 'text': YAML}}")
    return str(sent.get("source") or f"<{key}>"), sent["text"]


def _test_inputs(body: dict[str, Any]) -> tuple[RuleSet, AlertingConfig, pd.Timestamp]:
    """The rule set, alerting config and time of a ``POST /api/v1/alerts/test`` body."""
    at = _time(body.get("at"), "at")
    if at is None:
        raise GreenwatchError("at is required (ISO time)")
    rules_file, config_file = _sent_file(body, "rules"), _sent_file(body, "config")
    rules = load_rules() if rules_file is None else parse_rules(load_yaml(*rules_file))
    config = (
        load_config()
        if config_file is None
        else parse_model(load_yaml(*config_file), AlertingConfig)
    )
    return rules, config, at


def register(app: flask.Flask, ctx: ApiContext) -> None:
    """The alert routes, then the silence and maintenance routes."""
    _register_alerts(app, ctx)
    _register_silences(app, ctx)

    @app.post("/api/v1/alerts/test")
    def test_rules() -> Reply:
        body = json_object()
        if body is None:
            return bad_request(NOT_A_JSON_OBJECT)
        try:
            rules, config, at = _test_inputs(body)
        except GreenwatchError as exc:
            return bad_request(str(exc))
        return ordered_json(data=replay_rules(ctx.store, ctx.inventory, rules, config, at))


def _register_alerts(app: flask.Flask, ctx: ApiContext) -> None:
    @app.get("/api/v1/audit")
    def audit_log() -> Reply:
        entries = ctx.audit.entries() if ctx.audit is not None else []
        return flask.jsonify(data=[asdict(e) for e in entries])

    @app.get("/api/v1/alerts")
    def list_alerts() -> Reply:
        alerts = ctx.alerts
        if alerts is None:
            return _off()
        views = [v for v in alerts.alerts(ctx.clock()) if _keep(v, flask.request.args)]
        return flask.jsonify(data=views)

    @app.get("/api/v1/alerts/status")
    def alerts_status() -> Reply:
        alerts = ctx.alerts
        return _off() if alerts is None else flask.jsonify(data=alerts.status())

    @app.get("/api/v1/alerts/<fingerprint>")
    def one_alert(fingerprint: str) -> Reply:
        alerts = ctx.alerts
        if alerts is None:
            return _off()
        try:
            return flask.jsonify(data=alerts.alert(fingerprint, ctx.clock()))
        except AlertNotFoundError as exc:
            return bad_request(str(exc), 404)

    @app.post("/api/v1/alerts/<fingerprint>/ack")
    def acknowledge(fingerprint: str) -> Reply:
        alerts = ctx.alerts
        if alerts is None:
            return _off()
        try:
            body = _body()
            by, comment = str(body.get("by", "")), str(body.get("comment", ""))
            view = alerts.acknowledge(fingerprint, by, comment)
        except AlertNotFoundError as exc:
            return bad_request(str(exc), 404)
        except GreenwatchError as exc:
            return bad_request(str(exc))
        ctx.log_action("ack", f"{view['alertname']} {fingerprint}", f"by {by}: {comment}")
        return flask.jsonify(data=view)


def _register_silences(app: flask.Flask, ctx: ApiContext) -> None:
    @app.get("/api/v1/silences")
    def list_silences() -> Reply:
        alerts = ctx.alerts
        if alerts is None:
            return _off()
        now = ctx.clock()
        wanted = flask.request.args.get("state")
        views = [s.to_api(now) for s in alerts.silences()]
        views = [v for v in views if not wanted or v["status"]["state"] in wanted.split(",")]
        return flask.jsonify(data=views)

    @app.post("/api/v1/silences")
    def create_silence() -> Reply:
        alerts = ctx.alerts
        if alerts is None:
            return _off()
        now = ctx.clock()
        try:
            silence = alerts.add_silence(_silence_from(_body(), now, None))
        except GreenwatchError as exc:
            return bad_request(str(exc))
        ctx.log_action("silence", silence.id, silence.comment)
        return flask.jsonify(data=silence.to_api(now)), 201

    @app.get("/api/v1/silences/<silence_id>")
    def one_silence(silence_id: str) -> Reply:
        alerts = ctx.alerts
        if alerts is None:
            return _off()
        try:
            return flask.jsonify(data=alerts.silence(silence_id).to_api(ctx.clock()))
        except AlertNotFoundError as exc:
            return bad_request(str(exc), 404)

    @app.put("/api/v1/silences/<silence_id>")
    def update_silence(silence_id: str) -> Reply:
        alerts = ctx.alerts
        if alerts is None:
            return _off()
        now = ctx.clock()
        try:
            alerts.silence(silence_id)
            silence = alerts.add_silence(_silence_from(_body(), now, silence_id))
        except AlertNotFoundError as exc:
            return bad_request(str(exc), 404)
        except GreenwatchError as exc:
            return bad_request(str(exc))
        ctx.log_action("silence", silence.id, silence.comment)
        return flask.jsonify(data=silence.to_api(now))

    @app.delete("/api/v1/silences/<silence_id>")
    def expire_silence(silence_id: str) -> Reply:
        alerts = ctx.alerts
        if alerts is None:
            return _off()
        try:
            expired = alerts.expire_silence(silence_id)
        except AlertNotFoundError as exc:
            return bad_request(str(exc), 404)
        ctx.log_action("expire", expired.id)
        return flask.jsonify(data=expired.to_api(ctx.clock()))

    @app.get("/api/v1/maintenance")
    def maintenance() -> Reply:
        alerts = ctx.alerts
        if alerts is None:
            return _off()
        windows = [w.model_dump(mode="json") for w in alerts.config.maintenance_windows]
        return flask.jsonify(data=windows)

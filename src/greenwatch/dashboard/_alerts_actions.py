"""The alerts page's actions: filters into the URL, picking an alert, acknowledging, silencing
and expiring silences, each through the alert engine's public API, for the operator role only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dash
import pandas as pd
from dash import ALL, Input, Output, State, ctx, html
from dash.exceptions import PreventUpdate

from greenwatch.alerts import AuditLog, Silence
from greenwatch.dashboard._alerts_page import DEFAULT_STATES, NOT_CONFIGURED, SEVERITIES, STATES
from greenwatch.dashboard._auth import User
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._view import with_params
from greenwatch.model import GreenwatchError


@dataclass(frozen=True)
class Action:
    """What an operator asked for: ``ack``, ``silence`` or ``expire``, with the form's fields."""

    kind: str
    selected: str | None = None
    matchers: str | None = None
    duration: str = "4h"
    comment: str | None = None
    silence_id: str | None = None


CSRF_REFUSED = "Refused: this action carries no valid CSRF token; reload the page."


def perform(
    engine: Any,
    user: User | None,
    action: Action,
    audit: AuditLog | None = None,
    client: str = "-",
) -> tuple[bool, str]:
    """Carry out ``action`` through the alert engine's public API; (done, message for the UI).

    Only the operator role may act; who acted is recorded as the user's name (``dashboard``
    when there is no login), and each action done goes to ``audit`` with ``client``.
    """
    if engine is None:
        return False, NOT_CONFIGURED
    if user is None or not user.can_operate:
        return False, "Only the operator role may acknowledge or silence alerts."
    who = user.name or "dashboard"

    def audited(target: str, detail: str, message: str) -> tuple[bool, str]:
        if audit is not None:
            audit.record(who, action.kind, target, client, "dashboard", detail)
        return True, message

    try:
        if action.kind == "ack":
            if not action.selected:
                raise GreenwatchError("pick an alert to acknowledge first")
            comment = (action.comment or "").strip()
            done = engine.acknowledge(action.selected, who, comment)
            return audited(
                f"{done['alertname']} {action.selected}",
                comment,
                f"Acknowledged {done['alertname']}.",
            )
        if action.kind == "silence":
            lines = [m.strip() for m in (action.matchers or "").splitlines() if m.strip()]
            silence = Silence.create(
                lines,
                created_by=who,
                comment=action.comment or "",
                now=engine.clock(),
                duration=pd.Timedelta(action.duration),
            )
            engine.add_silence(silence)
            return audited(
                silence.id,
                f"{'; '.join(lines)} for {action.duration}: {silence.comment}",
                f"Silence {silence.id[:8]} created until {silence.ends_at:%Y-%m-%d %H:%M} UTC.",
            )
        expired = engine.expire_silence(str(action.silence_id))
        return audited(expired.id, "", f"Silence {expired.id[:8]} expired.")
    except (GreenwatchError, ValueError) as exc:
        return False, str(exc)


def _filter_search(
    states: list[str] | None, severities: list[str] | None, text: str | None, search: str | None
) -> str:
    """The page's query string for the chosen filters (defaults left out)."""
    default_states = sorted(states or []) == sorted(DEFAULT_STATES)
    return with_params(
        search,
        state=None if default_states else ",".join(s for s in STATES if s in (states or [])),
        severity=None if len(severities or []) == len(SEVERITIES) else ",".join(severities or []),
        q=(text or "").strip() or None,
    )


def register(app: dash.Dash, env: Env) -> None:
    """Callbacks: filters to the URL, picking an alert, acknowledging, silencing, expiring."""

    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Input("alert-states", "value"),
        Input("alert-severities", "value"),
        Input("alert-text", "value"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def filters(
        states: list[str], severities: list[str], text: str | None, search: str | None
    ) -> str:
        return _filter_search(states, severities, text, search)

    @app.callback(
        Output("alert-selected", "data"),
        Output("silence-matchers", "value"),
        Input({"gw": "alert-pick", "fp": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def pick(_clicks: list[int | None]) -> tuple[str, str]:
        if not ctx.triggered_id or not ctx.triggered[0].get("value") or env.alerts is None:
            raise PreventUpdate
        fp = str(ctx.triggered_id["fp"])
        alert = next((a for a in env.alerts.alerts() if a["fingerprint"] == fp), None)
        if alert is None:
            raise PreventUpdate
        keep = [k for k in ("alertname", "site", "link") if k in alert["labels"]]
        return fp, "\n".join(f'{k}="{alert["labels"][k]}"' for k in keep)

    @app.callback(
        Output("alerts-version", "data"),
        Output("alert-action-result", "children"),
        Input("ack-button", "n_clicks"),
        Input("silence-button", "n_clicks"),
        Input({"gw": "silence-expire", "id": ALL}, "n_clicks"),
        State("alert-selected", "data"),
        State("silence-matchers", "value"),
        State("silence-duration", "value"),
        State("alert-comment", "value"),
        State("alerts-version", "data"),
        prevent_initial_call=True,
    )
    def act(
        _ack: int | None,
        _silence: int | None,
        _expires: list[int | None],
        selected: str | None,
        matchers: str | None,
        duration: str,
        comment: str | None,
        version: int | None,
    ) -> tuple[Any, Any]:
        trigger = ctx.triggered_id
        # Buttons drawn anew (a refreshed list) report n_clicks None: not a click.
        if trigger is None or not ctx.triggered[0].get("value"):
            raise PreventUpdate
        action = Action(
            "expire" if isinstance(trigger, dict) else str(trigger).removesuffix("-button"),
            selected=selected,
            matchers=matchers,
            duration=duration,
            comment=comment,
            silence_id=str(trigger["id"]) if isinstance(trigger, dict) else None,
        )
        if env.auth.csrf_ok():
            user = env.auth.current_user()
            client = env.auth.client_address()
            done, message = perform(env.alerts, user, action, env.audit, client)
        else:
            done, message = False, CSRF_REFUSED
        shown = html.Span(message, className="ok-note" if done else "bad")
        return ((version or 0) + 1 if done else dash.no_update), shown

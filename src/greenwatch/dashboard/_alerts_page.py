"""The alerts page: firing, pending and silenced alerts; acknowledge and silence from the UI.

Everything goes through the alert engine's public API (:class:`greenwatch.alerts.AlertEngine`:
``alerts``, ``acknowledge``, ``silences``, ``add_silence``, ``expire_silence``, ``status``), so
what the page does is what ``GET /api/v1/alerts`` shows. Filters live in the URL
(``?state=firing,pending&severity=critical&q=guian``) so a filtered view can be shared; ``q``
also matches an alert's fingerprint, which is how a notification's ``generatorURL`` links here. Only
the operator role may acknowledge or silence; the server checks, not just the buttons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from dash import dcc, html

from greenwatch.alerts import AuditEntry, Silence
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._view import View, parse_search, with_params

NOT_CONFIGURED = (
    "Alerting is not configured: greenwatch serve runs no alert engine, so there is nothing to "
    "show here. Start it with alert rules to see firing, pending and silenced alerts."
)
STATES = ("firing", "pending", "silenced", "resolved")
DEFAULT_STATES = ("firing", "pending", "silenced")
SEVERITIES = ("critical", "warning", "info")
DURATIONS = {
    "1h": "1 hour",
    "4h": "4 hours",
    "12h": "12 hours",
    "1d": "1 day",
    "3d": "3 days",
    "7d": "1 week",
}


def shown_state(alert: dict[str, Any]) -> str:
    """The state the page files an alert under: silenced (or inhibited) wins over firing."""
    if alert["state"] == "resolved":
        return "resolved"
    if alert.get("silenced") or alert.get("inhibited"):
        return "silenced"
    return str(alert["state"])


def _filters(search: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    params = parse_search(search)
    states = tuple(
        s for s in params.get("state", ",".join(DEFAULT_STATES)).split(",") if s in STATES
    )
    severities = tuple(
        s for s in params.get("severity", ",".join(SEVERITIES)).split(",") if s in SEVERITIES
    )
    return states, severities, params.get("q", "").strip().lower()


def controls(_panel: Any, view: View, env: Env) -> Any:
    """Filters and the action form: drawn once, so typing survives the list's refreshes."""
    if env.alerts is None:
        return html.Div()
    states, severities, text = _filters(with_params(None, **dict(view.params)))
    user = env.auth.current_user()
    may = user is not None and user.can_operate
    return html.Div([_filter_bar(states, severities, text), _action_form(may)])


def _filter_bar(states: Sequence[str], severities: Sequence[str], text: str) -> Any:
    return html.Div(
        [
            dcc.Checklist(
                id="alert-states",
                options=[{"label": s, "value": s} for s in STATES],
                value=list(states),
                inline=True,
            ),
            dcc.Checklist(
                id="alert-severities",
                options=[{"label": s, "value": s} for s in SEVERITIES],
                value=list(severities),
                inline=True,
            ),
            dcc.Input(
                id="alert-text",
                style={"width": "260px"},
                type="text",
                value=text,
                placeholder="filter: site, alert, text…",
                debounce=True,
            ),
        ],
        className="alert-filters",
    )


def _action_form(may: bool) -> Any:
    """Matchers, duration and comment; ack and silence buttons for the operator role only."""
    why = "" if may else "the operator role may acknowledge and silence"
    return html.Div(
        [
            dcc.Store(id="alert-selected"),
            html.Div(
                "Pick an alert below (ack / silence), or write matchers:",
                className="muted small",
            ),
            dcc.Textarea(
                id="silence-matchers",
                placeholder='one matcher a line, e.g. alertname="SitePueAboveTarget"'
                '\nsite="guian-1"',
                style={"width": "330px", "height": "54px"},
            ),
            dcc.Dropdown(
                id="silence-duration",
                options=[{"label": f"for {v}", "value": k} for k, v in DURATIONS.items()],
                value="4h",
                clearable=False,
                style={"width": "130px"},
            ),
            dcc.Input(
                id="alert-comment",
                type="text",
                placeholder="comment (required)",
                style={"width": "260px"},
            ),
            html.Button(
                "Acknowledge",
                id="ack-button",
                className="button",
                disabled=not may,
                title=why,
            ),
            html.Button(
                "Create silence",
                id="silence-button",
                className="button",
                disabled=not may,
                title=why,
            ),
            html.Span(id="alert-action-result", className="action-result"),
        ],
        className="silence-form",
    )


def _age(iso: str | None, now: pd.Timestamp) -> str:
    if not iso:
        return "—"
    seconds = (now - pd.Timestamp(iso)).total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 86400 else f"{seconds / 86400:.1f} d"


def _alert_row(alert: dict[str, Any], now: pd.Timestamp) -> html.Tr:
    state = shown_state(alert)
    labels = alert["labels"]
    ack = alert.get("acknowledged")
    fp = alert["fingerprint"]
    summary = alert["annotations"].get("summary") or alert["annotations"].get("description", "")
    return html.Tr(
        [
            html.Td(html.Span(state, className=f"state state-{state}")),
            html.Td(alert.get("severity", "")),
            html.Td(alert["alertname"], className="mono"),
            html.Td(labels.get("site", "—")),
            html.Td(summary),
            html.Td(_age(alert.get("firedAt") or alert.get("activeAt"), now)),
            html.Td(
                f"✓ {ack['by']}" + (f": {ack['comment']}" if ack.get("comment") else "")
                if ack
                else ""
            ),
            html.Td(
                html.Button(
                    "ack / silence…",
                    id={"gw": "alert-pick", "fp": fp},
                    className="button ghost small",
                )
                if state != "resolved"
                else ""
            ),
        ],
        className=f"alert-row alert-{state}",
        **{"data-fingerprint": fp},
    )


def _summary(counts: dict[str, int], status: dict[str, Any]) -> Any:
    """Counts by state, the rules and their last evaluation, rule errors."""
    errors = status.get("rule_errors") or {}
    return html.Div(
        [
            html.Span(
                f"{counts['firing']} firing · {counts['pending']} pending · "
                f"{counts['silenced']} silenced · {counts['resolved']} recently resolved"
            ),
            html.Span(
                f" · {status.get('rules', 0)} rules, last evaluated "
                f"{status.get('last_evaluation') or 'never'}",
                className="muted",
            ),
            html.Span(f" · {len(errors)} rule errors", className="bad") if errors else "",
            html.Ul([html.Li(f"{rule}: {why}", className="small") for rule, why in errors.items()])
            if errors
            else "",
        ],
        className="alert-summary",
    )


def _alert_table(rows: list[html.Tr]) -> Any:
    return (
        html.Table(
            [
                html.Thead(
                    html.Tr(
                        [
                            html.Th(h)
                            for h in (
                                "state",
                                "severity",
                                "alert",
                                "site",
                                "summary",
                                "for",
                                "ack",
                                "",
                            )
                        ]
                    )
                ),
                html.Tbody(rows),
            ],
            className="grid-table alerts-table",
        )
        if rows
        else html.Div("No alerts match the filters.", className="ok-note")
    )


def alert_list(_panel: Any, _view: View, env: Env, search: str) -> Any:
    """The filtered alerts, the silences and recent history."""
    engine = env.alerts
    if engine is None:
        return html.Div(NOT_CONFIGURED, className="muted not-configured")
    now = engine.clock()
    states, severities, text = _filters(search)
    alerts = engine.alerts()
    counts = {s: sum(1 for a in alerts if shown_state(a) == s) for s in STATES}

    def wanted(a: dict[str, Any]) -> bool:
        words = [a["fingerprint"], a["alertname"], *a["labels"].values()]
        hay = " ".join([*words, *a["annotations"].values()]).lower()
        return shown_state(a) in states and a.get("severity", "") in severities and text in hay

    shown = [a for a in alerts if wanted(a)]
    head = _summary(counts, engine.status())
    alert_table = _alert_table([_alert_row(a, now) for a in shown])
    silences = engine.silences()
    live = [s for s in silences if s.status(now) != "expired"]
    past = [s for s in silences if s.status(now) == "expired"][-20:]
    resolved = [a for a in alerts if a["state"] == "resolved"]
    return html.Div(
        [
            head,
            html.Div(alert_table, className="table-scroll"),
            html.H4("Silences"),
            _silence_table(live, now, expire=True)
            if live
            else html.Div("No active silences.", className="muted"),
            html.H4("History"),
            _history(resolved, past, now),
            html.H4("Audit log"),
            _audit_table(env.audit.entries(AUDIT_SHOWN) if env.audit is not None else []),
        ]
    )


AUDIT_SHOWN = 20


def _audit_table(entries: list[AuditEntry]) -> Any:
    """Who did what to the alerts, when and from where: newest first."""
    if not entries:
        return html.Div("No operator actions yet.", className="muted")
    head = ("when (UTC)", "who", "action", "target", "from", "via", "detail")
    rows = [
        html.Tr(
            [
                html.Td(f"{pd.Timestamp(e.at):%Y-%m-%d %H:%M:%S}"),
                html.Td(e.who),
                html.Td(e.action),
                html.Td(e.target, className="mono"),
                html.Td(e.client, className="mono"),
                html.Td(e.via),
                html.Td(e.detail),
            ],
            className="audit-row",
        )
        for e in entries
    ]
    return html.Div(
        html.Table(
            [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
            className="grid-table audit-table",
        ),
        className="table-scroll",
    )


def _silence_table(silences: list[Silence], now: pd.Timestamp, *, expire: bool) -> html.Table:
    rows = [
        html.Tr(
            [
                html.Td(s.status(now)),
                html.Td(", ".join(m.promql() for m in s.matchers), className="mono"),
                html.Td(f"{s.starts_at:%Y-%m-%d %H:%M}"),
                html.Td(f"{s.ends_at:%Y-%m-%d %H:%M}"),
                html.Td(s.created_by),
                html.Td(s.comment),
                html.Td(
                    html.Button(
                        "expire",
                        id={"gw": "silence-expire", "id": s.id},
                        className="button ghost small",
                    )
                    if expire
                    else ""
                ),
            ],
            className="silence-row",
        )
        for s in silences
    ]
    head = ("state", "matchers", "from (UTC)", "until", "by", "comment", "")
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="grid-table"
    )


def _history(resolved: list[dict[str, Any]], expired: list[Silence], now: pd.Timestamp) -> Any:
    if not resolved and not expired:
        return html.Div("Nothing resolved or expired recently.", className="muted")
    parts: list[Any] = []
    if resolved:
        parts.append(
            html.Table(
                [
                    html.Thead(
                        html.Tr(
                            [html.Th(h) for h in ("resolved", "alert", "site", "was active since")]
                        )
                    ),
                    html.Tbody(
                        [
                            html.Tr(
                                [
                                    html.Td(_age(a.get("resolvedAt"), now) + " ago"),
                                    html.Td(a["alertname"], className="mono"),
                                    html.Td(a["labels"].get("site", "—")),
                                    html.Td(a.get("activeAt") or "—"),
                                ]
                            )
                            for a in resolved
                        ]
                    ),
                ],
                className="grid-table",
            )
        )
    if expired:
        parts.append(_silence_table(expired, now, expire=False))
    return html.Div(parts)

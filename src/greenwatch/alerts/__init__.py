"""Alerting for on-call staff: rules over metrics, KPIs and compute pools, alert lifecycle,
notifications.

Rules (YAML, :func:`load_rules`; a national pack ships in ``rules/national.yaml``) are
evaluated by an :class:`AlertEngine` against a store; alerts move inactive -> pending -> firing
-> resolved, with state kept in SQLite across restarts; an :class:`AlertingConfig`
(:func:`load_config`) routes them by labels to receivers (webhook, e-mail, Alertmanager),
grouped, inhibited, silenced and muted in maintenance windows. :func:`prometheus_rules` exports
what PromQL can express. Fakes for tests live in :mod:`greenwatch.testing`.
"""

from greenwatch.alerts._audit import AUDIT_FILE, AuditEntry, AuditLog
from greenwatch.alerts._config import (
    AlertingConfig,
    InhibitRule,
    Receiver,
    Route,
    load_config,
)
from greenwatch.alerts._email import EmailNotifier
from greenwatch.alerts._engine import AlertEngine, AlertNotFoundError
from greenwatch.alerts._export import prometheus_rules
from greenwatch.alerts._integrations import build_dispatcher
from greenwatch.alerts._matchers import Matcher
from greenwatch.alerts._notify import (
    SIGNATURE_HEADER,
    Notification,
    NotifiedAlert,
    Notifier,
    NotifyError,
    WebhookNotifier,
    verify,
)
from greenwatch.alerts._replay import replay_rules
from greenwatch.alerts._rules import (
    AbsentRule,
    KpiRule,
    MetricRule,
    Rule,
    RuleSet,
    SubmeterRule,
    load_rules,
    parse_rules,
)
from greenwatch.alerts._silence import MaintenanceWindow, Silence, SilenceError
from greenwatch.alerts._state import AlertRecord, Transition, fingerprint

__all__ = [
    "AUDIT_FILE",
    "SIGNATURE_HEADER",
    "AbsentRule",
    "AlertEngine",
    "AlertNotFoundError",
    "AlertRecord",
    "AlertingConfig",
    "AuditEntry",
    "AuditLog",
    "EmailNotifier",
    "InhibitRule",
    "KpiRule",
    "MaintenanceWindow",
    "Matcher",
    "MetricRule",
    "Notification",
    "NotifiedAlert",
    "Notifier",
    "NotifyError",
    "Receiver",
    "Route",
    "Rule",
    "RuleSet",
    "Silence",
    "SilenceError",
    "SubmeterRule",
    "Transition",
    "WebhookNotifier",
    "build_dispatcher",
    "fingerprint",
    "load_config",
    "load_rules",
    "parse_rules",
    "prometheus_rules",
    "replay_rules",
    "verify",
]

"""Alerting configuration: receivers, the routing tree, inhibition, maintenance windows.

Alertmanager's model, in greenwatch's typed YAML: an alert walks the ``route`` tree (a child
route whose matchers match takes it; ``continue: true`` lets the next sibling take it too; a
node no child takes keeps it), lands in a group per route, receiver integration and values of
``group_by``, and is notified after ``group_wait``, on changes at most every
``group_interval``, and again every ``repeat_interval`` while it fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from greenwatch.alerts._matchers import Matcher, Matchers, matches_all
from greenwatch.alerts._silence import MaintenanceWindow
from greenwatch.model import Duration, SecretRef, StrictModel, load_yaml, parse_model

LabelName = Annotated[str, Field(pattern=r"^([A-Za-z_][A-Za-z0-9_]*|\.\.\.)$")]


class WebhookConfig(StrictModel):
    """POST of Alertmanager's webhook payload (version 4), HMAC-SHA256 signed with ``secret``."""

    url: str = Field(pattern=r"^https?://")
    secret: SecretRef | None = None
    send_resolved: bool = True
    timeout: Duration = timedelta(seconds=10)
    max_attempts: int = Field(default=3, ge=1, le=10)
    backoff: Duration = timedelta(milliseconds=500)


class EmailConfig(StrictModel):
    """Mail through an SMTP smarthost, STARTTLS (verified) and optional auth."""

    model_config = ConfigDict(populate_by_name=True)

    to: tuple[str, ...] = Field(min_length=1)
    sender: str = Field(alias="from", min_length=3)
    smarthost: str = Field(pattern=r"^[^:\s]+:\d+$")
    starttls: bool = True
    auth_username: str | None = None
    auth_password: SecretRef | None = None
    ca_file: Path | None = None
    send_resolved: bool = True
    timeout: Duration = timedelta(seconds=30)
    max_attempts: int = Field(default=2, ge=1, le=10)

    @model_validator(mode="after")
    def _auth(self) -> EmailConfig:
        if (self.auth_username is None) != (self.auth_password is None):
            raise ValueError("give both auth_username and auth_password, or neither")
        return self


class AlertmanagerTarget(StrictModel):
    """A real Alertmanager; alerts are pushed (``POST /api/v2/alerts``) every ``resend_interval``
    while they fire, each valid for four intervals, as Prometheus does."""

    url: str = Field(pattern=r"^https?://")
    resend_interval: Duration = timedelta(minutes=1)
    timeout: Duration = timedelta(seconds=10)
    max_attempts: int = Field(default=3, ge=1, le=10)


class Receiver(StrictModel):
    name: str = Field(min_length=1, max_length=128)
    webhook_configs: tuple[WebhookConfig, ...] = ()
    email_configs: tuple[EmailConfig, ...] = ()
    alertmanager_configs: tuple[AlertmanagerTarget, ...] = ()


class Route(StrictModel):
    model_config = ConfigDict(populate_by_name=True)

    receiver: str | None = None
    matchers: Matchers = ()
    group_by: tuple[LabelName, ...] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: tuple[Route, ...] = ()


class InhibitRule(StrictModel):
    """Firing alerts matching ``source_matchers`` mute alerts matching ``target_matchers`` that
    carry the same values of the ``equal`` labels."""

    source_matchers: Matchers = Field(min_length=1)
    target_matchers: Matchers = Field(min_length=1)
    equal: tuple[LabelName, ...] = ()


_ROOT_DEFAULTS: dict[str, Any] = {
    "group_by": ("alertname", "site"),
    "group_wait": timedelta(seconds=30),
    "group_interval": timedelta(minutes=5),
    "repeat_interval": timedelta(hours=4),
}


DEFAULT_EXTERNAL_URL = "http://127.0.0.1:8050"


class AlertingConfig(StrictModel):
    # The dashboard's address in notifications; None: what the service says (greenwatch serve
    # --external-url, else http://HOST:PORT it listens on).
    external_url: str | None = Field(default=None, pattern=r"^https?://")
    evaluation_interval: Duration = timedelta(minutes=1)
    route: Route = Route(receiver="default")
    receivers: tuple[Receiver, ...] = (Receiver(name="default"),)
    inhibit_rules: tuple[InhibitRule, ...] = ()
    maintenance_windows: tuple[MaintenanceWindow, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> AlertingConfig:
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError("receiver names must be unique")
        if self.route.receiver is None:
            raise ValueError("the root route needs a receiver")
        if self.route.matchers:
            raise ValueError("the root route matches every alert; it takes no matchers")
        stack = [self.route]
        while stack:
            node = stack.pop()
            if node.receiver is not None and node.receiver not in names:
                raise ValueError(f"route names unknown receiver {node.receiver!r}")
            stack.extend(node.routes)
        windows = [w.name for w in self.maintenance_windows]
        if len(set(windows)) != len(windows):
            raise ValueError("maintenance window names must be unique")
        return self


@dataclass(frozen=True)
class RoutePlan:
    """A route with its inherited settings filled in; ``id`` is its path (``0``, ``0.2``)."""

    id: str
    receiver: str
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    continue_: bool
    children: tuple[RoutePlan, ...]

    def group_labels(self, labels: dict[str, str]) -> dict[str, str]:
        if "..." in self.group_by:
            return dict(labels)
        return {k: labels.get(k, "") for k in self.group_by}


def plan(route: Route, parent: RoutePlan | None = None, path: str = "0") -> RoutePlan:
    """The routing tree with every setting inherited from the parent where not given."""

    def pick(name: str) -> Any:
        own = getattr(route, name)
        if own is not None:
            return own
        return getattr(parent, name) if parent is not None else _ROOT_DEFAULTS[name]

    node = RoutePlan(
        id=path,
        receiver=route.receiver or (parent.receiver if parent else "default"),
        matchers=route.matchers,
        group_by=tuple(pick("group_by")),
        group_wait=pick("group_wait"),
        group_interval=pick("group_interval"),
        repeat_interval=pick("repeat_interval"),
        continue_=route.continue_,
        children=(),
    )
    children = tuple(plan(child, node, f"{path}.{i}") for i, child in enumerate(route.routes))
    return RoutePlan(**{**node.__dict__, "children": children})


def match_routes(node: RoutePlan, labels: dict[str, str]) -> list[RoutePlan]:
    """The routes that take an alert (Alertmanager's first-match with ``continue``)."""
    taken: list[RoutePlan] = []
    for child in node.children:
        if matches_all(child.matchers, labels):
            taken.extend(match_routes(child, labels))
            if not child.continue_:
                break
    return taken or [node]


def load_config(path: str | Path | None = None) -> AlertingConfig:
    """Load an alerting config; ``None`` loads the shipped default (``rules/alerting.yaml``:
    one receiver with no integration, inhibitions for the national rule pack)."""
    if path is None:
        ref = resources.files("greenwatch.alerts") / "rules" / "alerting.yaml"
        doc = load_yaml("<builtin>/alerts/alerting.yaml", ref.read_text(encoding="utf-8"))
        return parse_model(doc, AlertingConfig)
    return parse_model(load_yaml(path), AlertingConfig)

"""The alerts page's actions go through the alert engine's public API, for operators only; the
page says so when the service runs no alert engine."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from greenwatch.alerts import AlertEngine
from greenwatch.dashboard._alerts_actions import Action, perform
from greenwatch.dashboard._alerts_page import NOT_CONFIGURED, alert_list, shown_state
from greenwatch.dashboard._auth import Auth, User
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._spec import AuthSettings, load_dashboards
from greenwatch.dashboard._view import parse_view
from greenwatch.inventory import load_inventory
from greenwatch.model import shipped_dir
from greenwatch.store import DuckDBStore

NOW = pd.Timestamp("2026-07-01T12:00:00Z")
OPERATOR = User("olga", "operator")
VIEWER = User("victor", "viewer")


@pytest.fixture
def engine() -> Iterator[AlertEngine]:
    store = DuckDBStore(":memory:")
    alerts = AlertEngine(store, load_inventory(), clock=lambda: NOW)
    yield alerts
    alerts.close()
    store.close()


def test_operators_silence_and_viewers_may_not(engine: AlertEngine) -> None:
    ask = Action(
        "silence", matchers='site="guian-1"\nalertname="SitePueAboveTarget"', comment="works"
    )
    done, message = perform(engine, VIEWER, ask)
    assert not done
    assert "operator" in message
    assert engine.silences() == []
    done, message = perform(engine, OPERATOR, ask)
    assert done, message
    [silence] = engine.silences()
    assert silence.created_by == "olga"
    assert silence.comment == "works"
    assert silence.ends_at - silence.starts_at == pd.Timedelta(hours=4)
    done, _ = perform(engine, OPERATOR, Action("expire", silence_id=silence.id))
    assert done
    assert engine.silences()[0].status(NOW) == "expired"


def test_bad_requests_say_why(engine: AlertEngine) -> None:
    assert perform(engine, OPERATOR, Action("silence", matchers="", comment="x")) == (
        False,
        "a silence needs at least one matcher",
    )
    done, message = perform(engine, OPERATOR, Action("silence", matchers='site="a"', comment=""))
    assert not done
    assert "comment" in message
    assert perform(engine, OPERATOR, Action("ack")) == (
        False,
        "pick an alert to acknowledge first",
    )
    done, message = perform(engine, OPERATOR, Action("ack", selected="0123456789abcdef"))
    assert not done
    assert "no pending or firing alert" in message
    assert perform(None, OPERATOR, Action("ack", selected="x")) == (False, NOT_CONFIGURED)


def test_the_page_degrades_without_an_alert_engine() -> None:
    dashboards = load_dashboards(shipped_dir("dashboards"))
    env = Env(
        DuckDBStore(":memory:"),
        load_inventory(),
        dashboards,
        lambda: NOW,
        auth=Auth(AuthSettings()),
        alerts=None,
    )
    view = parse_view("/alerts", "", dashboards, NOW, pd.Timedelta(minutes=1))
    body = alert_list(view.page.panels[0], view, env, "")
    assert NOT_CONFIGURED in str(body)
    assert "Alerting is not configured" in NOT_CONFIGURED


def test_silenced_wins_over_firing() -> None:
    assert shown_state({"state": "firing", "silenced": True}) == "silenced"
    assert shown_state({"state": "firing", "silenced": False, "inhibited": True}) == "silenced"
    assert shown_state({"state": "resolved", "silenced": True}) == "resolved"
    assert shown_state({"state": "pending"}) == "pending"

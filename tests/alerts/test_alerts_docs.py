"""The README's alerting configuration reference: its example loads and routes as it says,
and every field of the configuration models is in its table."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from greenwatch.alerts import AlertingConfig, load_config
from tests.conftest import ROOT

SECTION = "### Alerting configuration reference"


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start)
    return text[start:end]


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """``model`` and every model its fields hold, however nested (tuples, optionals)."""
    if model in seen:
        return seen
    seen.add(model)
    for info in model.model_fields.values():
        stack: list[object] = [info.annotation]
        while stack:
            kind = stack.pop()
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                _models(kind, seen)
            stack += typing.get_args(kind)
    return seen


def test_the_documented_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (example,) = re.findall(r"```yaml\n(.*?)```", _section(), flags=re.DOTALL)
    path = tmp_path / "alerting.yaml"
    path.write_text(example, encoding="utf-8")
    monkeypatch.setenv("GREENWATCH_NOC_HOOK_SECRET", "s3cret")
    config = load_config(path)
    assert config.external_url == "https://greenwatch.noc.example.cn"
    assert [r.name for r in config.receivers] == ["noc", "oncall", "efficiency"]
    oncall = config.receivers[1]
    assert [e.starttls for e in oncall.email_configs] == [True, False]
    assert config.receivers[0].webhook_configs[0].secret is not None
    assert [w.schedule for w in config.maintenance_windows] == ["weekly", "monthly"]
    assert config.route.routes[1].continue_


def test_every_field_of_the_configuration_is_documented() -> None:
    table = _section().split("| key |", 1)[1]
    documented = set(re.findall(r"`([a-z_]+)`", table))
    fields = {
        info.alias or name
        for model in _models(AlertingConfig, set())
        for name, info in model.model_fields.items()
    }
    assert fields - documented == set()

"""The agent's configuration file (YAML, validated; errors name file, line and key).

.. code-block:: yaml

    central:
      url: http://greenwatch.example:8050     # the central greenwatch serve
      token: {env: GREENWATCH_TOKEN}          # or {file: /etc/greenwatch/agent.token}
      timeout_s: 10
    buffer:
      path: /var/lib/greenwatch-agent/buffer.sqlite
      max_samples: 10000000                   # oldest evicted (and counted) beyond this
    forward:
      backoff_initial_s: 0.5
      backoff_max_s: 60
      batch_samples: 50000                    # samples per request at most
    targets:                                  # greenwatch.collect targets, each with a profile
      - {name: pdu-a1, site: guian-1, profile: apc-rpdu2, address: 10.0.0.5, interval_s: 15}

A relative ``buffer.path`` is taken from the configuration file's folder.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from greenwatch.collect import Target
from greenwatch.model import ConfigError, SecretRef, StrictModel, load_yaml, parse_model


class Central(StrictModel):
    """Where batches go: the central greenwatch's base URL and a write token."""

    url: str = Field(pattern=r"^https?://[^\s/]+(/.*)?$")
    token: SecretRef
    timeout_s: float = Field(default=10.0, gt=0)


class BufferSettings(StrictModel):
    path: Path = Path("agent-buffer.sqlite")
    max_samples: int = Field(default=10_000_000, gt=0)


class ForwardSettings(StrictModel):
    backoff_initial_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=60.0, gt=0)
    batch_samples: int = Field(default=50_000, gt=0, le=1_000_000)
    flush_s: float = Field(default=10.0, ge=0)


class AgentConfig(StrictModel):
    """An edge agent: what it polls, where it buffers, where it forwards."""

    central: Central
    buffer: BufferSettings = BufferSettings()
    forward: ForwardSettings = ForwardSettings()
    targets: tuple[Target, ...] = ()

    @field_validator("targets")
    @classmethod
    def _profiles(cls, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        names = [t.name for t in targets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate target names {duplicates}")
        missing = [t.name for t in targets if not t.profile]
        if missing:
            raise ValueError(f"targets {missing} need a profile")
        return targets


def load_agent_config(path: str | Path) -> AgentConfig:
    """A validated agent configuration; raises :class:`ConfigError` naming file:line:key."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError(doc.source, [(1, "", "an agent configuration is a mapping")])
    config = parse_model(doc, AgentConfig)
    buffer_path = config.buffer.path
    if not buffer_path.is_absolute():
        buffer_path = Path(path).resolve().parent / buffer_path
        config = config.model_copy(
            update={"buffer": config.buffer.model_copy(update={"path": buffer_path})}
        )
    return config

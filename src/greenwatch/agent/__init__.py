"""The edge agent: collectors at a centre, a bounded disk buffer, forwarding to the centre.

A stage between ``ingest`` and ``store`` in rank: it uses ``collect`` (collectors, scheduler)
and ``ingest`` (line-protocol encoding), never a store — the central server stores.
"""

from greenwatch.agent._agent import Agent, Source
from greenwatch.agent._buffer import DiskBuffer, Entry
from greenwatch.agent._config import AgentConfig, load_agent_config
from greenwatch.agent._forward import Forwarder

__all__ = [
    "Agent",
    "AgentConfig",
    "DiskBuffer",
    "Entry",
    "Forwarder",
    "Source",
    "load_agent_config",
]

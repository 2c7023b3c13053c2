"""Link probe: TCP connect latency and loss to each of a target's peers.

Each peer (``link`` id and ``host:port``) gets ``attempts`` TCP connects, each bounded by
``connect_timeout_s``. The readings are ``latency_s`` (mean of the successful connects'
handshake times; absent when none succeeded), ``loss_ratio`` (failed / attempts) and ``up``
(1 when any connect succeeded). A refused or silent peer is data, not a failed poll. Peers are
probed concurrently so one dead peer does not delay the others' results.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar, Literal

from pydantic import Field

from greenwatch.collect._base import Collector
from greenwatch.collect._profile import ProfileBase, Rule
from greenwatch.collect._rows import BatchBuilder
from greenwatch.collect._target import Peer, Target, split_host_port
from greenwatch.model import Clock, ConfigError, utc_now

ProbeField = Literal["latency_s", "loss_ratio", "up"]


class ProbeRule(Rule):
    """``field``: ``latency_s``, ``loss_ratio`` or ``up``; templates may use ``link``, ``peer``."""

    field: ProbeField


class ProbeProfile(ProfileBase):
    family: Literal["probe"]
    attempts: int = Field(default=3, ge=1, le=100)
    connect_timeout_s: float = Field(default=1.0, gt=0, le=60)
    pause_s: float = Field(default=0.0, ge=0, le=10, description="between attempts")
    rules: tuple[ProbeRule, ...] = Field(min_length=1)

    def all_rules(self) -> tuple[ProbeRule, ...]:
        return self.rules


def tcp_connect_seconds(
    host: str, port: int, timeout: float, timer: Callable[[], float] = time.perf_counter
) -> float | None:
    """Seconds a TCP handshake to ``host:port`` took, or None if it failed."""
    start = timer()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return timer() - start
    except OSError:
        return None


class ProbeCollector(Collector):
    """Probes the target's ``peers``; ``connect`` may be injected (default a TCP connect)."""

    family: ClassVar[str] = "probe"
    profile_model: ClassVar[type[ProfileBase]] = ProbeProfile

    def __init__(
        self,
        profile: ProfileBase,
        target: Target,
        clock: Clock = utc_now,
        *,
        connect: Callable[[str, int, float], float | None] = tcp_connect_seconds,
    ) -> None:
        super().__init__(profile, target, clock)
        assert isinstance(profile, ProbeProfile)
        if not target.peers:
            raise ConfigError(f"target {target.name}", [(None, "peers", "a probe needs peers")])
        self.probe = profile
        self.connect = connect

    def _measure(self, peer: Peer) -> Mapping[str, float | None]:
        host, port = split_host_port(peer.address, 0)
        times: list[float] = []
        for attempt in range(self.probe.attempts):
            if attempt and self.probe.pause_s:
                time.sleep(self.probe.pause_s)
            took = self.connect(host, port, self.probe.connect_timeout_s)
            if took is not None:
                times.append(took)
        return {
            "latency_s": sum(times) / len(times) if times else None,
            "loss_ratio": 1 - len(times) / self.probe.attempts,
            "up": 1.0 if times else 0.0,
        }

    def _poll(self, out: BatchBuilder) -> None:
        peers = self.target.peers
        with ThreadPoolExecutor(max_workers=min(8, len(peers))) as pool:
            results = list(pool.map(self._measure, peers))
        for peer, readings in zip(peers, results, strict=True):
            variables = {"link": peer.link, "peer": peer.address}
            for rule in self.probe.rules:
                out.add(rule, readings[rule.field], variables)

"""The edge agent: collect at a centre, buffer on disk, forward to the central ingest API.

Sources are the collectors of the configured targets, run by :class:`greenwatch.collect.
Scheduler` (health samples included), or any ``Callable[[], DataFrame]`` polled every
``interval_s`` (the simulator, a script, a test). Every batch goes to the disk buffer first,
so collecting never waits for the network; the forwarder drains the buffer to the centre.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import pandas as pd

from greenwatch.agent._buffer import DiskBuffer
from greenwatch.agent._config import AgentConfig
from greenwatch.agent._forward import Forwarder
from greenwatch.collect import Scheduler, build_collector

log = logging.getLogger("greenwatch.agent")
Source = Callable[[], pd.DataFrame]


class Agent:
    """Runs sources into a :class:`DiskBuffer` drained by a :class:`Forwarder`."""

    def __init__(
        self,
        buffer: DiskBuffer,
        forwarder: Forwarder,
        *,
        scheduler: Scheduler | None = None,
        sources: Sequence[Source] = (),
        interval_s: float = 15.0,
        batch_samples: int = 50_000,
        flush_s: float = 10.0,
    ) -> None:
        self.buffer = buffer
        self.forwarder = forwarder
        self.scheduler = scheduler
        self.sources = list(sources)
        self.interval_s = interval_s
        self.batch_samples = batch_samples
        self.flush_s = flush_s
        self.source_errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(cls, config: AgentConfig) -> Agent:
        """An agent polling the configured targets with their profiles."""
        buffer = DiskBuffer(config.buffer.path, config.buffer.max_samples)
        central = config.central
        forwarder = Forwarder(
            buffer,
            central.url,
            central.token.reveal(),
            timeout_s=central.timeout_s,
            backoff_initial_s=config.forward.backoff_initial_s,
            backoff_max_s=config.forward.backoff_max_s,
            batch_samples=config.forward.batch_samples,
        )
        agent = cls(
            buffer,
            forwarder,
            batch_samples=config.forward.batch_samples,
            flush_s=config.forward.flush_s,
        )
        scheduler = Scheduler(agent.accept)
        for target in config.targets:
            assert target.profile is not None  # checked when the config was loaded
            scheduler.add(build_collector(target.profile, target))
        agent.scheduler = scheduler
        return agent

    def accept(self, batch: pd.DataFrame) -> None:
        """Buffer one batch (the scheduler's sink)."""
        if len(batch):
            self.buffer.put(batch, self.batch_samples)

    def poll_sources(self) -> int:
        """Poll every callable source once; returns samples buffered."""
        total = 0
        for source in self.sources:
            try:
                batch = source()
            except Exception:  # a failing source must not stop the agent
                self.source_errors += 1
                log.exception("source %r failed", source)
                continue
            self.accept(batch)
            total += len(batch)
        return total

    def _run_sources(self) -> None:
        while not self._stop.is_set():
            self.poll_sources()
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        """Start forwarding, the scheduler and the source loop."""
        self.forwarder.start()
        if self.scheduler is not None:
            self.scheduler.start()
        if self.sources:
            self._thread = threading.Thread(
                target=self._run_sources, name="greenwatch-agent-sources", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop collecting, flush what the centre takes within ``flush_s``, close the buffer."""
        self._stop.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.forwarder.stop(self.flush_s)
        self.buffer.close()

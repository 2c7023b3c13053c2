"""The collection scheduler: one interval job per target, health as samples, never stuck.

Each target gets an APScheduler interval job (its interval and jitter). A job runs the
collector's ``read`` on a thread of its own (an idle one reused, else a new daemon thread) and
waits at most the target's timeout, so a hanging device holds one worker for at most that long
and never delays other targets; while its stuck call is still running, later polls of that
target report ``timeout`` without starting another. At most ``max_workers`` polls run at
once. Every poll, good or bad, sends the data batch plus two health samples — ``collector_up``
(with ``reason`` on failure) and ``collector_duration_seconds``, the time of the read — to
``sink``, as one batch built once (what ``collect`` returns followed by the health rows). Polls
are traced (one span each) and counted with the OpenTelemetry providers given, else the global
(no-op unless configured) ones.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Status, StatusCode

from greenwatch.collect._base import Collector, Reading
from greenwatch.collect._errors import TIMEOUT, CollectorError, reason_of
from greenwatch.collect._rows import BatchBuilder, ExtraRow
from greenwatch.model import Clock, utc_now

log = logging.getLogger("greenwatch.collect")
Sink = Callable[[pd.DataFrame], None]


@dataclass
class TargetHealth:
    """The last poll of one target: when it last succeeded, how long it took, what failed."""

    up: bool = False
    reason: str | None = None
    error: str | None = None
    duration_s: float = 0.0
    last_poll: datetime | None = None
    last_success: datetime | None = None
    problems: tuple[str, ...] = ()  # readings skipped in the last good poll (partial failure)


class _Run:
    """One read of a target on its own thread; ``done`` is set when it returns or raises."""

    def __init__(self, collect: Callable[[], Reading]) -> None:
        self.done = threading.Event()
        self.result: Reading | None = None
        self.error: BaseException | None = None
        self._collect = collect

    def __call__(self) -> None:
        try:
            self.result = self._collect()
        except BaseException as exc:  # reported as health, never re-raised
            self.error = exc
        finally:
            self.done.set()


RUNNER_IDLE_S = 60.0  # a read thread with no read to run for this long ends


class _Runners:
    """Threads that run reads and then wait for the next, so a poll seldom starts a thread.

    A read goes to an idle thread, or to a new daemon thread when none is idle; a read that
    hangs keeps its thread to itself, as a fresh thread per read would. A thread idle for
    :data:`RUNNER_IDLE_S` ends; :meth:`close` ends the idle ones now.
    """

    def __init__(self) -> None:
        self._idle: list[queue.SimpleQueue[tuple[_Run, str] | None]] = []
        self._lock = threading.Lock()

    def start(self, run: _Run, name: str) -> None:
        """Run ``run`` on a thread named after target ``name``."""
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), daemon=True).start()
        inbox.put((run, name))

    def _serve(self, inbox: queue.SimpleQueue[tuple[_Run, str] | None]) -> None:
        while True:
            try:
                job = inbox.get(timeout=RUNNER_IDLE_S)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:  # else a read is on its way here
                        self._idle.remove(inbox)
                        return
                continue
            if job is None:
                return
            threading.current_thread().name = f"greenwatch-poll-{job[1]}"
            job[0]()
            with self._lock:
                self._idle.append(inbox)

    def close(self) -> None:
        """End the idle threads (busy ones go on with their read, then wait)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for inbox in idle:
            inbox.put(None)


def health_rows(
    ts: pd.Timestamp, target: str, profile: str, reason: str | None, duration_s: float
) -> list[ExtraRow]:
    """``collector_up`` (1, or 0 with ``reason``) and ``collector_duration_seconds``."""
    labels = {"target": target, "profile": profile}
    return [
        (ts, "collector_up", 0.0 if reason else 1.0, {**labels, "reason": reason}),
        (ts, "collector_duration_seconds", max(duration_s, 0.0), {**labels, "reason": None}),
    ]


class Scheduler:
    """Polls collectors on their targets' intervals and hands every batch to ``sink``."""

    def __init__(
        self,
        sink: Sink,
        collectors: Iterable[Collector] = (),
        *,
        clock: Clock = utc_now,
        max_workers: int = 8,
        tracer_provider: otel_trace.TracerProvider | None = None,
        meter_provider: otel_metrics.MeterProvider | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.clock = clock
        self.monotonic = monotonic
        self._collectors: dict[str, Collector] = {}
        self._running: dict[str, _Run] = {}
        self._health: dict[str, TargetHealth] = {}
        self._lock = threading.Lock()
        self._runners = _Runners()
        self._aps = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._tracer = otel_trace.get_tracer("greenwatch.collect", tracer_provider=tracer_provider)
        meter = otel_metrics.get_meter("greenwatch.collect", meter_provider=meter_provider)
        self._polls = meter.create_counter(
            "greenwatch.collect.polls", unit="{poll}", description="Polls of collection targets."
        )
        self._failures = meter.create_counter(
            "greenwatch.collect.failures", unit="{poll}", description="Polls that failed."
        )
        self._durations = meter.create_histogram(
            "greenwatch.collect.duration", unit="s", description="Duration of polls."
        )
        for collector in collectors:
            self.add(collector)

    def add(self, collector: Collector) -> None:
        """Schedule a collector (its target's name must be new); jobs start with ``start``."""
        name = collector.target.name
        if name in self._collectors:
            raise ValueError(f"target {name!r} is already scheduled")
        self._collectors[name] = collector
        self._health[name] = TargetHealth()
        target = collector.target
        trigger = IntervalTrigger(
            seconds=target.interval_s, jitter=target.jitter_s or None, timezone=UTC
        )
        self._aps.add_job(
            self.poll, trigger, args=[name], id=name, name=name, next_run_time=datetime.now(UTC)
        )

    def remove(self, name: str) -> None:
        """Stop polling a target and close its collector."""
        collector = self._collectors.pop(name)
        if self._aps.get_job(name) is not None:
            self._aps.remove_job(name)
        with self._lock:
            self._health.pop(name, None)
        collector.close()

    def targets(self) -> list[str]:
        return list(self._collectors)

    def health(self) -> dict[str, TargetHealth]:
        """A snapshot of every target's health."""
        with self._lock:
            return {k: TargetHealth(**vars(v)) for k, v in self._health.items()}

    def _run(self, name: str, collector: Collector) -> tuple[Reading | None, Any]:
        with self._lock:
            previous = self._running.get(name)
            if previous is not None and not previous.done.is_set():
                return None, (TIMEOUT, "previous poll still running")
            run = _Run(collector.read)
            self._running[name] = run
        self._runners.start(run, name)
        if not run.done.wait(collector.target.timeout_s):
            return None, (TIMEOUT, f"no result within {collector.target.timeout_s:g} s")
        if run.error is not None:
            return None, (reason_of(run.error), str(run.error) or type(run.error).__name__)
        return run.result, None

    def poll(self, name: str) -> pd.DataFrame:
        """Poll one target now (bounded by its timeout); send and return data plus health."""
        collector = self._collectors[name]
        target, profile = collector.target, collector.profile_name
        attributes = {"target": name, "profile": profile, "site": target.site}
        ts, start = self.clock(), self.monotonic()
        with self._tracer.start_as_current_span(
            "greenwatch.collect.poll", attributes=attributes
        ) as span:
            reading, failure = self._run(name, collector)
            duration = self.monotonic() - start
            out, failure = self._batch(collector, reading, failure, ts, duration)
            if failure:
                span.set_attribute("reason", failure[0])
                span.set_status(Status(StatusCode.ERROR, failure[1]))
        self._record(name, ts, duration, failure)
        try:
            self.sink(out)
        except Exception:  # a failing sink must not stop collection
            log.exception("sink failed for target %s", name)
        return out

    @staticmethod
    def _batch(
        collector: Collector, reading: Reading | None, failure: Any, ts: datetime, took: float
    ) -> tuple[pd.DataFrame, Any]:
        """The poll's batch, data then health, built at once; a reading that makes no valid
        batch fails the poll as ``malformed`` (data dropped), as ``Collector.collect`` does."""
        target, profile, ts = collector.target, collector.profile_name, pd.Timestamp(ts)
        if reading is not None:
            try:
                health = health_rows(ts, target.name, profile, None, took)
                return collector.batch(reading, health), None
            except CollectorError as exc:
                failure = (reason_of(exc), str(exc))
        health = health_rows(ts, target.name, profile, failure[0], took)
        return BatchBuilder(target, ()).build(ts, health), failure

    def _record(
        self, name: str, ts: datetime, duration: float, failure: tuple[str, str] | None
    ) -> None:
        collector = self._collectors[name]
        attributes = {"target": name, "profile": collector.profile_name}
        self._polls.add(1, attributes)
        self._durations.record(duration, attributes)
        with self._lock:
            health = self._health[name]
            health.duration_s, health.last_poll = duration, ts
            health.up = failure is None
            health.reason, health.error = failure if failure else (None, None)
            if failure is None:
                health.last_success = ts
                health.problems = tuple(collector.problems)
        if failure:
            self._failures.add(1, {**attributes, "reason": failure[0]})
            log.warning("poll of %s failed: %s: %s", name, failure[0], failure[1])

    def start(self) -> None:
        """Start polling in the background (each target at once, then every interval)."""
        self._aps.start()

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling, then close every collector."""
        if self._aps.running:
            self._aps.shutdown(wait=wait)
        self._runners.close()
        for collector in self._collectors.values():
            try:
                collector.close()
            except Exception:  # shutting down; report and go on
                log.exception("closing collector %s failed", collector.target.name)

    @property
    def running(self) -> bool:
        return bool(self._aps.running)

"""Scheduler and faults: a target that is down, silent, malformed or refuses our credentials
becomes a health sample with its reason; other targets and the scheduler carry on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from greenwatch.collect import CollectorError, Scheduler, build_collector
from greenwatch.collect import _scheduler as scheduler_module
from greenwatch.collect._rows import BatchBuilder
from greenwatch.collect._scheduler import _Run, _Runners
from greenwatch.model import concat_batches, make_batch, validate_batch
from tests.collect.conftest import T0, fixed_clock
from tests.collect.servers import SilentServer, StaticServer
from tests.conftest import free_port

TEXT = "text/plain; version=0.0.4"


class Recorder:
    """A sink that keeps every batch (thread-safe)."""

    def __init__(self) -> None:
        self.batches: list[pd.DataFrame] = []
        self._lock = threading.Lock()

    def __call__(self, batch: pd.DataFrame) -> None:
        validate_batch(batch)
        with self._lock:
            self.batches.append(batch)

    def health(self, target: str) -> list[tuple[float, str | None]]:
        with self._lock:
            batches = list(self.batches)
        out = []
        for batch in batches:
            rows = batch[(batch.metric == "collector_up") & (batch.target == target)]
            out += [(float(v), r) for v, r in zip(rows.value, rows.reason, strict=True)]
        return out


@pytest.fixture
def dcgm(shared_data: Path) -> Iterator[StaticServer]:
    page = (shared_data / "prometheus" / "dcgm-exporter-nvidia-l4.prom").read_bytes()
    routes = {
        "/metrics": (200, TEXT, page),
        "/garbage/metrics": (200, TEXT, b"}}} not an exposition {{{\n"),
    }
    with StaticServer(routes=routes) as server:
        yield server


def _target(name: str, url: str, **extra: object) -> dict[str, object]:
    return {"name": name, "site": "s1", "url": url, "timeout_s": 1, "interval_s": 0.3, **extra}


def test_each_fault_becomes_a_reason_and_good_targets_carry_on(
    dcgm: StaticServer, redfish_tree: StaticServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GW_TEST_PASSWORD", "wrong")
    sink = Recorder()
    with SilentServer() as silent, StaticServer(redfish_tree.root, users={"a": "right"}) as locked:
        collectors = [
            build_collector("dcgm-exporter", _target("good", dcgm.url), fixed_clock),
            build_collector("dcgm-exporter", _target("down", f"http://127.0.0.1:{free_port()}")),
            build_collector("dcgm-exporter", _target("silent", f"http://127.0.0.1:{silent.port}")),
            build_collector("dcgm-exporter", _target("garbage", f"{dcgm.url}/garbage/metrics")),
            build_collector(
                "redfish",
                _target(
                    "locked",
                    locked.url,
                    credentials={"username": "a", "password": {"env": "GW_TEST_PASSWORD"}},
                ),
            ),
        ]
        scheduler = Scheduler(sink, collectors, clock=fixed_clock)
        for name in scheduler.targets():
            scheduler.poll(name)
        scheduler.shutdown()
    assert sink.health("good") == [(1.0, None)]
    assert sink.health("down") == [(0.0, "connection refused")]
    assert sink.health("silent") == [(0.0, "timeout")]
    assert sink.health("garbage") == [(0.0, "malformed response")]
    assert sink.health("locked") == [(0.0, "auth failed")]
    good = sink.batches[0]
    assert (good.ts == pd.Timestamp(T0)).all()
    assert "device_power_watts" in set(good.metric)
    duration = good[good.metric == "collector_duration_seconds"]
    assert duration.profile.tolist() == ["dcgm-exporter"]
    health = scheduler.health()
    assert health["good"].up
    assert health["good"].last_success == T0
    assert health["silent"].reason == "timeout"
    assert health["silent"].last_success is None


def _hanging(release: threading.Event) -> object:
    def connect(host: str, port: int, timeout: float) -> float | None:
        release.wait(30)
        return None

    target = {
        "name": "hung",
        "site": "s1",
        "timeout_s": 0.4,
        "interval_s": 0.2,
        "peers": [{"link": "a--b", "address": "127.0.0.1:9"}],
    }
    return build_collector("tcp-probe", target, connect=connect)


def test_hanging_target_never_delays_the_others(dcgm: StaticServer) -> None:
    sink = Recorder()
    release = threading.Event()
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    scheduler = Scheduler(
        sink,
        [
            _hanging(release),
            build_collector("dcgm-exporter", _target("gpu-a", dcgm.url, interval_s=0.2)),
            build_collector("dcgm-exporter", _target("gpu-b", dcgm.url, interval_s=0.2)),
        ],
        max_workers=2,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    scheduler.start()
    try:
        # Wait (bounded) for several good polls: a fixed sleep is flaky on a loaded machine.
        deadline = time.monotonic() + 20
        while (
            time.monotonic() < deadline
            and min(len(sink.health("gpu-a")), len(sink.health("gpu-b"))) < 4
        ):
            time.sleep(0.1)
        assert scheduler.running
    finally:
        release.set()
        scheduler.shutdown()
    hung = sink.health("hung")
    assert hung
    assert all(h == (0.0, "timeout") for h in hung)
    for name in ("gpu-a", "gpu-b"):
        good = sink.health(name)
        # every 0.2 s, with one of two workers tied up 0.4 s at a time by "hung"
        assert len(good) >= 4, (name, good)
        assert all(h == (1.0, None) for h in good)
    finished = spans.get_finished_spans()
    assert {s.attributes["target"] for s in finished} == {"hung", "gpu-a", "gpu-b"}
    assert any(s.attributes.get("reason") == "timeout" for s in finished)
    data = reader.get_metrics_data()
    counted = {
        m.name: sum(p.value for p in m.data.data_points)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name in ("greenwatch.collect.polls", "greenwatch.collect.failures")
    }
    assert counted["greenwatch.collect.polls"] == len(finished)
    assert counted["greenwatch.collect.failures"] == len(hung)


def test_a_failing_sink_does_not_stop_polling(dcgm: StaticServer) -> None:
    calls = []

    def sink(batch: pd.DataFrame) -> None:
        calls.append(len(batch))
        raise RuntimeError("store is down")

    scheduler = Scheduler(sink, [build_collector("dcgm-exporter", _target("g", dcgm.url))])
    scheduler.poll("g")
    scheduler.poll("g")
    assert len(calls) == 2
    assert scheduler.health()["g"].up


def test_duplicate_target_names_are_refused(dcgm: StaticServer) -> None:
    collector = build_collector("dcgm-exporter", _target("g", dcgm.url))
    scheduler = Scheduler(Recorder(), [collector])
    with pytest.raises(ValueError, match="already scheduled"):
        scheduler.add(build_collector("dcgm-exporter", _target("g", dcgm.url)))
    scheduler.remove("g")
    assert scheduler.targets() == []
    scheduler.add(build_collector("dcgm-exporter", _target("g", dcgm.url)))
    assert scheduler.targets() == ["g"]


def test_a_poll_sends_the_collectors_batch_then_its_health(dcgm: StaticServer) -> None:
    collector = build_collector("dcgm-exporter", _target("g", dcgm.url), fixed_clock)
    out = Scheduler(Recorder(), [collector], clock=fixed_clock).poll("g")
    took = out[out.metric == "collector_duration_seconds"].value.tolist()
    health = make_batch(
        pd.Timestamp(T0),
        ["collector_up", "collector_duration_seconds"],
        [1.0, *took],
        {"site": "s1", "target": "g", "profile": "dcgm-exporter", "reason": None},
    )
    pd.testing.assert_frame_equal(out, concat_batches([collector.collect(), health]))


def test_readings_that_make_no_valid_batch_fail_the_poll_as_malformed(
    dcgm: StaticServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = build_collector("dcgm-exporter", _target("g", dcgm.url), fixed_clock)
    monkeypatch.setattr(BatchBuilder, "_plausible", lambda *_: -1.0)
    with pytest.raises(CollectorError, match="malformed response") as error:
        collector.collect()
    sink = Recorder()
    scheduler = Scheduler(sink, [collector], clock=fixed_clock)
    out = scheduler.poll("g")
    assert out.metric.tolist() == ["collector_up", "collector_duration_seconds"]
    assert sink.health("g") == [(0.0, "malformed response")]
    assert scheduler.health()["g"].error == str(error.value)


def _on_runner(
    runners: _Runners, read: Callable[[], object]
) -> tuple[_Run, list[threading.Thread]]:
    """A read started on ``runners``, and (once it ran) the thread it ran on."""
    ran: list[threading.Thread] = []

    def call() -> object:
        ran.append(threading.current_thread())
        return read()

    run = _Run(call)  # type: ignore[arg-type]
    runners.start(run, "t")
    return run, ran


def _wait_idle(runners: _Runners, count: int) -> None:
    deadline = time.monotonic() + 10  # bounded: a loaded machine may be slow to switch
    while len(runners._idle) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(runners._idle) == count


def _started(ran: list[threading.Thread]) -> list[threading.Thread]:
    """``ran`` once its read has begun on a thread (a loaded machine may be slow to switch)."""
    deadline = time.monotonic() + 10
    while not ran and time.monotonic() < deadline:
        time.sleep(0.01)
    return ran


def test_reads_reuse_idle_threads_and_a_hanging_read_keeps_its_own() -> None:
    runners, release = _Runners(), threading.Event()
    first, first_ran = _on_runner(runners, lambda: None)
    assert first.done.wait(10)
    _wait_idle(runners, 1)  # the thread is back before the next read is started
    second, second_ran = _on_runner(runners, lambda: release.wait(10))
    third, third_ran = _on_runner(runners, lambda: None)
    try:
        assert third.done.wait(10)  # not held up by the hanging second read
        assert not second.done.is_set()
        assert _started(second_ran) == first_ran
        assert third_ran != second_ran
        assert third_ran[0].name == "greenwatch-poll-t"
    finally:
        release.set()
        assert second.done.wait(10)
    _wait_idle(runners, 2)
    runners.close()
    for thread in (*second_ran, *third_ran):
        thread.join(10)
        assert not thread.is_alive()


def test_a_runner_idle_for_long_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "RUNNER_IDLE_S", 0.05)
    run, ran = _on_runner(_Runners(), lambda: None)
    assert run.done.wait(10)
    ran[0].join(10)
    assert not ran[0].is_alive()

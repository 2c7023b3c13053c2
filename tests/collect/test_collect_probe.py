"""Link probe: TCP connects to a listening loopback socket and to a closed port."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from greenwatch.collect import build_collector, collect_once
from greenwatch.model import ConfigError
from tests.collect.conftest import assert_golden, fixed_clock
from tests.conftest import free_port


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


def test_open_and_closed_peers(listener: int) -> None:
    closed = free_port()
    target = {
        "name": "probe-guian",
        "site": "guian-1",
        "peers": [
            {"link": "guian-1--chongqing-1", "address": f"127.0.0.1:{listener}"},
            {"link": "guian-1--wuhu-1", "address": f"127.0.0.1:{closed}"},
        ],
    }
    batch = collect_once("tcp-probe", target, clock=fixed_clock)
    up = batch[batch.link == "guian-1--chongqing-1"].set_index("metric").value
    assert up["link_up"] == 1.0
    assert up["link_loss_ratio"] == 0.0
    assert 0 < up["link_latency_seconds"] < 0.5
    down = batch[batch.link == "guian-1--wuhu-1"].set_index("metric").value
    assert down.to_dict() == {"link_loss_ratio": 1.0, "link_up": 0.0}  # no latency without replies
    # Latency varies run to run: the golden keeps loss and state only.
    assert_golden(batch[batch.metric != "link_latency_seconds"], "probe/loopback.expected")


def test_partial_loss_with_injected_connect() -> None:
    answers = iter([0.010, None, 0.030, None, None])
    calls = []

    def connect(host: str, port: int, timeout: float) -> float | None:
        calls.append((host, port, timeout))
        return next(answers)

    collector = build_collector(
        "tcp-probe",
        {"name": "p", "site": "s1", "peers": [{"link": "a--b", "address": "127.0.0.1:9"}]},
        connect=connect,
    )
    values = collector.collect().set_index("metric").value
    assert values["link_loss_ratio"] == pytest.approx(0.6)
    assert values["link_latency_seconds"] == pytest.approx(0.020)
    assert values["link_up"] == 1.0
    assert calls == [("127.0.0.1", 9, 1.0)] * 5


def test_probe_needs_peers() -> None:
    with pytest.raises(ConfigError, match="peers"):
        build_collector("tcp-probe", {"name": "p", "site": "s1"})

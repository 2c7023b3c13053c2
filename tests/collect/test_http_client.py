"""The HTTP collectors' client on loopback: kept connections, bodies, errors as reasons."""

from __future__ import annotations

import gzip
import socket
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenwatch.collect import CollectorError, build_collector, collect_once
from greenwatch.collect._http import HttpClient, _decoded, tls_context
from tests.collect.conftest import fixed_clock
from tests.collect.servers import LOOPBACK, StaticServer, self_signed
from tests.conftest import need_binary

TEXT = "text/plain; version=0.0.4; charset=utf-8"


@pytest.fixture(params=["http", "https"])
def kept(request: pytest.FixtureRequest, shared_data: Path, tmp_path: Path) -> Iterator[dict]:
    """The rack-mount mockup on a server that keeps connections open, and a target for it."""
    target = {"name": "bmc-1", "site": "guian-1"}
    tls = None
    if request.param == "https":
        cert, tls = self_signed(need_binary("openssl"), tmp_path)
        target["ca_file"] = str(cert)
    root = shared_data / "redfish" / "dmtf-public-rackmount1"
    with StaticServer(root, tls=tls, keep_alive=True) as server:
        yield {"server": server, "target": target | {"url": server.url}}


def test_polls_share_one_kept_connection(kept: dict) -> None:
    server, target = kept["server"], kept["target"]
    with build_collector("redfish", target, fixed_clock) as collector:
        polls = [collector.collect() for _ in range(3)]
    assert len(server.connections) == 1
    assert len(server.requests) > 3
    for batch in polls[1:]:
        assert batch.equals(polls[0])


def test_a_closed_kept_connection_is_opened_again_and_a_dropped_get_retried(kept: dict) -> None:
    server, target = kept["server"], kept["target"]
    with build_collector("redfish", target, fixed_clock) as collector:
        first = collector.collect()
        server.close_idle()  # seen before the next request: a new connection, no error
        assert collector.collect().equals(first)
        assert len(server.connections) == 2
        server.drop = 1  # closed as the request went out on the kept one: sent again, once
        assert collector.collect().equals(first)
        assert len(server.connections) == 3
        server.close_idle()
        server.drop = 1  # on a new connection: not sent again, the poll fails
        with pytest.raises(CollectorError) as err:
            collector.collect()
        assert err.value.reason == "unreachable"
        assert "Server disconnected without sending a response." in str(err.value)
        assert collector.collect().equals(first)


@contextmanager
def raw_server(reply: bytes) -> Iterator[str]:
    """A TCP server that answers every request with ``reply`` and closes the connection."""
    sock = socket.create_server((LOOPBACK, 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        sock.close()


REDIRECT = b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"  # not followed
BAD_GZIP = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nabcde"


@pytest.mark.parametrize(
    ("reply", "reason", "message"),
    [
        (b"", "unreachable", "Server disconnected without sending a response."),
        (b"garbage\r\n\r\n", "unreachable", "illegal status line: 'garbage'"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}",
            "unreachable",
            "peer closed connection without sending complete message body "
            "(received 2 bytes, expected 100)",
        ),
        (REDIRECT, "malformed response", "HTTP 302"),
        (BAD_GZIP, "error", "incorrect header check"),
    ],
)
@pytest.mark.parametrize("profile", ["redfish", "dcgm-exporter"])
def test_replies_that_fail_a_poll_give_the_reasons_httpx_gave(
    profile: str, reply: bytes, reason: str, message: str
) -> None:
    with raw_server(reply) as url, pytest.raises(CollectorError) as err:
        collect_once(profile, {"name": "t", "site": "s1", "url": url, "timeout_s": 5})
    assert err.value.reason == reason
    assert message in str(err.value)


def test_refused_and_untrusted_tls(shared_data: Path, tmp_path: Path) -> None:
    with socket.create_server((LOOPBACK, 0)) as sock:
        url = f"http://{LOOPBACK}:{sock.getsockname()[1]}"
    with pytest.raises(CollectorError) as err:
        collect_once("redfish", {"name": "t", "site": "s1", "url": url})
    assert err.value.reason == "connection refused"
    _, tls = self_signed(need_binary("openssl"), tmp_path)
    root = shared_data / "redfish" / "dmtf-public-rackmount1"
    with StaticServer(root, tls=tls, keep_alive=True) as server:
        target = {"name": "t", "site": "s1", "url": server.url.replace(LOOPBACK, "localhost")}
        with pytest.raises(CollectorError) as err:
            collect_once("redfish", target)
    assert err.value.reason == "tls error"
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)


def _deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


ENCODERS = {"gzip": gzip.compress, "deflate": zlib.compress, "raw": _deflate_raw}


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw"])
def test_encoded_pages_read_as_plain_ones(shared_data: Path, encoding: str) -> None:
    page = (shared_data / "prometheus" / "dcgm-exporter-nvidia-l4.prom").read_bytes()
    name = "deflate" if encoding == "raw" else encoding
    routes = {
        "/plain/metrics": (200, TEXT, page),
        "/packed/metrics": (200, TEXT, ENCODERS[encoding](page), {"Content_Encoding": name}),
    }
    with StaticServer(routes=routes) as server:
        base = {"name": "gpu-node-1", "site": "wuhu-1"}
        plain = collect_once("dcgm-exporter", base | {"url": f"{server.url}/plain/metrics"})
        packed = collect_once("dcgm-exporter", base | {"url": f"{server.url}/packed/metrics"})
    assert len(plain) > 0
    assert packed.drop(columns="ts").equals(plain.drop(columns="ts"))


@given(
    body=st.binary(max_size=2000),
    encodings=st.lists(st.sampled_from(["gzip", "deflate", "raw", "identity"]), max_size=3),
)
def test_decoded_undoes_every_encoding_in_order(body: bytes, encodings: list[str]) -> None:
    packed = body
    for name in encodings:
        packed = ENCODERS.get(name, lambda data: data)(packed)
    names = ["deflate" if name == "raw" else name for name in encodings]
    assert _decoded(packed, [", ".join(names)]) == body


def test_request_targets_charsets_and_headers() -> None:
    routes = {
        "/a%20b": (200, "text/plain; charset=iso-8859-1", "café".encode("latin-1")),
        "/odd": (200, "text/plain; charset=no-such-charset", b"caf\xc3\xa9 \xff"),
    }
    with StaticServer(routes=routes, keep_alive=True) as server:
        client = HttpClient(5.0, tls_context(True, None))
        try:
            reply = client.get(server.url + "/a b", {"Accept": "text/plain"})
            assert reply.status_code == 200
            assert reply.text == "café"
            assert reply.headers.get("content-type") == "text/plain; charset=iso-8859-1"
            assert client.get(server.url + "/odd", {}).text == "café \ufffd"
            assert client.get(server.url + "/nothing", {}).status_code == 404
        finally:
            client.close()
    assert server.requests == ["/a%20b", "/odd", "/nothing"]
    assert len(server.connections) == 1


def test_a_post_after_the_server_closed_the_kept_connection_goes_out_on_a_new_one() -> None:
    """A POST is never sent twice, so a kept connection the server closed is noticed before."""
    sessions = "/redfish/v1/SessionService/Sessions"
    with StaticServer(users={"admin": "s3cret"}, keep_alive=True) as server:
        client = HttpClient(5.0, tls_context(True, None))
        try:
            assert client.get(server.url + "/redfish/v1", {}).status_code == 401
            server.close_idle()
            body = {"UserName": "admin", "Password": "s3cret"}
            reply = client.post_json(server.url + sessions, body, {})
            assert reply.status_code == 201
            assert reply.headers.get("x-auth-token") == "token-1"
            assert client.delete(server.url + sessions + "/1", {}).status_code == 204
        finally:
            client.close()
    assert server.deleted == [sessions + "/1"]
    assert len(server.connections) == 2

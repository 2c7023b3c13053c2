"""Real servers on loopback for collector tests: static HTTP trees, silent TCP listeners,
net-snmp's snmpd, snmpsim, prometheus-node-exporter and a pymodbus server.

Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"


class Handler(BaseHTTPRequestHandler):
    server: StaticServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        srv = self.server
        if srv.keep_alive:
            self.protocol_version = "HTTP/1.1"  # the connection stays open between requests
            # Headers and body go out as two writes: without this, Nagle's algorithm holds the
            # body until the client's delayed ACK of the headers (40 ms a request).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with srv.lock:
            srv.connections.append(self.connection)

    def _dropped(self) -> bool:
        """Close the connection without an answer (the server's ``drop`` requests)."""
        srv = self.server
        with srv.lock:
            if srv.drop <= 0:
                return False
            srv.drop -= 1
        self.close_connection = True
        return True

    def _send(
        self, status: int, body: bytes, ctype: str = "application/json", **extra: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in extra.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _authorised(self) -> bool:
        srv = self.server
        if srv.users is None:
            return True
        token = self.headers.get("X-Auth-Token")
        if token is not None:
            return token in srv.sessions
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic ") and srv.allow_basic:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return srv.users.get(user) == password
        return False

    def do_GET(self) -> None:
        srv = self.server
        if self._dropped():
            return
        srv.requests.append(self.path)
        path = self.path.split("?", 1)[0].split("#", 1)[0].rstrip("/") or "/"
        if path in srv.routes:
            status, ctype, body, *headers = srv.routes[path]
            self._send(status, body, ctype, **(headers[0] if headers else {}))
            return
        if not self._authorised():
            self._send(401, b'{"error": "unauthorised"}')
            return
        if srv.root is None:
            self._send(404, b"{}")
            return
        file = srv.root / path.lstrip("/") / "index.json"
        if not file.is_file():
            self._send(404, b'{"error": "not found"}')
            return
        self._send(200, file.read_bytes())

    def do_POST(self) -> None:
        srv = self.server
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.rstrip("/").endswith("/SessionService/Sessions") or srv.users is None:
            self._send(405, b"{}")
            return
        if srv.users.get(body.get("UserName")) != body.get("Password"):
            self._send(401, b'{"error": "bad credentials"}')
            return
        token = f"token-{len(srv.sessions) + 1}"
        srv.sessions.add(token)
        location = f"/redfish/v1/SessionService/Sessions/{len(srv.sessions)}"
        self._send(201, b"{}", X_Auth_Token=token, Location=location)

    def do_DELETE(self) -> None:
        self.server.deleted.append(self.path)
        self.server.sessions.discard(self.headers.get("X-Auth-Token", ""))
        self._send(204, b"")


class StaticServer(ThreadingHTTPServer):
    """Serves ``root/<path>/index.json`` for GET ``<path>`` (a Redfish mockup tree), plus
    fixed ``routes`` (path -> status, content type, body, optionally more headers as
    ``{"Content_Encoding": "gzip"}``). With ``users``, requests need basic auth or a session
    token from POST ``…/SessionService/Sessions``.

    HTTP/1.0 (a connection per request) unless ``keep_alive``; ``connections`` lists the
    connections accepted, ``drop`` is how many next GETs to answer by closing the connection,
    and :meth:`close_idle` closes every connection from the server's side."""

    daemon_threads = True

    def __init__(
        self,
        root: Path | None = None,
        routes: Mapping[str, tuple[Any, ...]] | None = None,
        users: dict[str, str] | None = None,
        allow_basic: bool = True,
        tls: ssl.SSLContext | None = None,
        keep_alive: bool = False,
    ) -> None:
        super().__init__((LOOPBACK, 0), Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.root = root
        self.routes = dict(routes or {})
        self.users = users
        self.allow_basic = allow_basic
        self.sessions: set[str] = set()
        self.deleted: list[str] = []
        self.requests: list[str] = []
        self.keep_alive = keep_alive
        self.connections: list[socket.socket] = []
        self.drop = 0
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    def close_idle(self) -> None:
        """Close every connection accepted so far, as a server ending idle keep-alives does."""
        with self.lock:
            for conn in self.connections:
                with suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.server_address[1]}"

    def __enter__(self) -> StaticServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class SilentServer:
    """A TCP listener that accepts connections and never answers (a hung device)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self.held:
            conn.close()
        self.sock.close()


def self_signed(openssl: str, folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A certificate for 127.0.0.1 made with the openssl CLI, and a server context using it."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    args = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    args += ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    args += ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(args, check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


def wait_port(
    port: int, timeout: float = 10.0, udp_probe: Callable[[], bool] | None = None
) -> None:
    """Wait until something listens on ``port`` (TCP), or ``udp_probe`` says yes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if udp_probe is not None:
            if udp_probe():
                return
        else:
            with socket.socket() as sock:
                sock.settimeout(0.2)
                if sock.connect_ex((LOOPBACK, port)) == 0:
                    return
        time.sleep(0.1)
    raise TimeoutError(f"nothing answered on 127.0.0.1:{port} within {timeout} s")


def snmp_answers(port: int, community: str) -> Callable[[], bool]:
    """A probe: does an SNMPv2c agent on ``port`` answer a sysUpTime GET (raw UDP)?"""
    # A minimal GetRequest for 1.3.6.1.2.1.1.3.0, BER-encoded by hand so the readiness check
    # depends on no SNMP library.
    oid = bytes([0x06, 0x08, 0x2B, 6, 1, 2, 1, 1, 3, 0])
    varbind = bytes([0x30, len(oid) + 2]) + oid + b"\x05\x00"
    vbl = bytes([0x30, len(varbind)]) + varbind
    pdu_body = b"\x02\x01\x01\x02\x01\x00\x02\x01\x00" + vbl
    pdu = bytes([0xA0, len(pdu_body)]) + pdu_body
    comm = bytes([0x04, len(community)]) + community.encode()
    msg_body = b"\x02\x01\x01" + comm + pdu
    message = bytes([0x30, len(msg_body)]) + msg_body

    def probe() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            sock.sendto(message, (LOOPBACK, port))
            try:
                return bool(sock.recv(2048))
            except OSError:
                return False

    return probe


@contextmanager
def process(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process for the duration of the block; stop it by its own pid."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


SNMPD_CONF = """\
agentAddress udp:127.0.0.1:{port}
rocommunity public 127.0.0.1
createUser {user} SHA {auth} AES {priv}
rouser {user} priv
sysLocation greenwatch-test
"""


@contextmanager
def snmpd(binary: str, workdir: Path, port: int, user: str, auth: str, priv: str) -> Iterator[int]:
    """net-snmp's snmpd on 127.0.0.1:``port`` (v2c ``public``, v3 authPriv SHA/AES user)."""
    conf = workdir / "snmpd.conf"
    conf.write_text(SNMPD_CONF.format(port=port, user=user, auth=auth, priv=priv))
    persist = workdir / "persist"
    persist.mkdir()
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist), "MIBS": "", "MIBDIRS": ""}
    args = [binary, "-f", "-Lf", str(workdir / "snmpd.log"), "-C", "-c", str(conf)]
    args += ["-p", str(workdir / "snmpd.pid")]
    with process(args, workdir / "snmpd.out", env):
        wait_port(port, udp_probe=snmp_answers(port, "public"))
        yield port


LAUNCHER = """\
import dbm.dumb, encodings.idna, encodings.latin_1  # noqa: F401 - imported before privileges drop
import sys
from snmpsim.commands.responder import main
sys.exit(main())
"""


@contextmanager
def snmpsim(python: str, records: Mapping[str, Path], port: int) -> Iterator[int]:
    """snmpsim serving each ``records`` file (.snmprec or .snmpwalk) as community ``key``.

    As root, snmpsim drops to nobody/nogroup, so its data and cache live in a fresh folder under
    the system temp dir that they can read and write (pytest's own temp dirs are root-only);
    a launcher imports the codecs and dbm module snmpsim needs before privileges drop.
    """
    workdir = Path(tempfile.mkdtemp(prefix="greenwatch-snmpsim-"))
    data, cache = workdir / "data", workdir / "cache"
    data.mkdir()
    cache.mkdir()
    for community, src in records.items():
        shutil.copyfile(src, data / f"{community}{src.suffix}")
    launcher = workdir / "launch_snmpsim.py"
    launcher.write_text(LAUNCHER)
    for path in (workdir, data, cache, *data.iterdir(), launcher):
        path.chmod(0o777 if path.is_dir() else 0o644)
    args = [python, str(launcher), f"--data-dir={data}", f"--cache-dir={cache}"]
    args += [f"--agent-udpv4-endpoint={LOOPBACK}:{port}", "--log-level=error"]
    if os.geteuid() == 0:
        args += ["--process-user=nobody", "--process-group=nogroup"]
    first = next(iter(records))
    try:
        with process(args, workdir / "snmpsim.log"):
            wait_port(port, timeout=30, udp_probe=snmp_answers(port, first))
            yield port
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def node_exporter(binary: str, workdir: Path, port: int, sysfs: Path) -> Iterator[str]:
    """prometheus-node-exporter on 127.0.0.1:``port`` with the rapl, hwmon and cpu collectors
    only, reading ``sysfs`` (a powercap fixture tree) instead of /sys."""
    args = [binary, f"--web.listen-address={LOOPBACK}:{port}", f"--path.sysfs={sysfs}"]
    args += ["--collector.disable-defaults", "--collector.rapl", "--collector.hwmon"]
    args += ["--collector.cpu"]
    with process(args, workdir / "node_exporter.log"):
        wait_port(port)
        yield f"http://{LOOPBACK}:{port}"


@contextmanager
def modbus_server(
    input_registers: Mapping[int, int], port: int, device_id: int = 1
) -> Iterator[int]:
    """A pymodbus TCP server (its own thread and event loop) holding ``input_registers``."""
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    top = max(input_registers) + 1
    values = [input_registers.get(a, 0) for a in range(top)]
    blocks = (
        [SimData(0, values=[False], datatype=DataType.BITS)],
        [SimData(0, values=[False], datatype=DataType.BITS)],
        [SimData(0, values=[0], datatype=DataType.REGISTERS)],
        [SimData(0, values=values, datatype=DataType.REGISTERS)],
    )
    device = SimDevice(device_id, simdata=blocks)
    loop = asyncio.new_event_loop()
    servers: list[ModbusTcpServer] = []
    started = threading.Event()

    async def serve() -> None:
        server = ModbusTcpServer(device, address=(LOOPBACK, port))
        servers.append(server)
        started.set()
        await server.serve_forever()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    started.wait(5)
    wait_port(port)
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(servers[0].shutdown(), loop).result(5)
        thread.join(5)
        loop.close()

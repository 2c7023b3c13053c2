"""A real VictoriaMetrics with a data directory holding one token, and ``greenwatch serve``
processes on it: what the scale-out tests start."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import daemon, free_port, need_binary
from tests.export.servers import victoriametrics

from greenwatch.service import TokenStore


@dataclass
class Engine:
    vm: str  # VictoriaMetrics's URL
    data: Path  # the data directory the serve processes share
    token: str  # read, write, admin, any site
    tmp: Path

    @contextmanager
    def serve(self, name: str, *options: str) -> Iterator[str]:
        """``greenwatch serve`` on this VictoriaMetrics with ``options``; its URL once ready."""
        port = free_port()
        args = [sys.executable, "-m", "greenwatch.cli", "serve", "--port", str(port)]
        args += ["--data-dir", str(self.data), "--store", "victoriametrics"]
        args += ["--store-write-url", self.vm, *options]
        url = f"http://127.0.0.1:{port}"
        with daemon(args, self.tmp / f"{name}.log", f"{url}/readyz"):
            yield url


@contextmanager
def engine(tmp: Path) -> Iterator[Engine]:
    """VictoriaMetrics on loopback (skips, or fails under CI, without the binary)."""
    binary = need_binary("victoria-metrics", "/usr/bin/victoria-metrics")
    data = tmp / "data"
    token = TokenStore.for_data_dir(data).create(["read", "write", "admin"], "test", any_site=True)
    with victoriametrics(binary, tmp) as vm:
        yield Engine(vm, data, token, tmp)

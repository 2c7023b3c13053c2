"""Every error a user can cause is a ``GreenwatchError`` of the right kind: 2 for bad input, 1
for a failure of the system; the CLI's one handler turns each into one sentence and that status.

Where a real entry point raises the error cheaply (a parser given bad bytes, a store given a
bad query or an unreachable engine), the case comes from it; the others are built as their
module raises them.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import free_port

import greenwatch
from greenwatch.agent import GpuCheckError, VerificationPostError
from greenwatch.alerts import AlertNotFoundError, NotifyError, SilenceError
from greenwatch.cli import _one_sentence
from greenwatch.collect import CollectorError
from greenwatch.ingest import (
    IngestClosedError,
    PushError,
    parse_lines,
)
from greenwatch.ingest._otlp import decode_request
from greenwatch.ingest._remote import decode_write_request
from greenwatch.inventory import ScopeError
from greenwatch.model import (
    ConfigError,
    GreenwatchError,
    SecretRef,
    make_batch,
)
from greenwatch.reports import DeliveryError, ReportError, parse_period
from greenwatch.resources import PoolNotFoundError, RegistrationError, VersionConflictError
from greenwatch.service._api_ingest import BodyError
from greenwatch.service._backup import BackupError
from greenwatch.service._http import ListenError
from greenwatch.service._tokens import SiteForbiddenError, TokenInfo
from greenwatch.simulate import ScenarioError
from greenwatch.store import (
    DuckDBStore,
    StoreMissingError,
    StoreUnavailableError,
    VictoriaMetricsStore,
)
from greenwatch.store._retention import RetentionError

INPUT, SYSTEM = 2, 1
# Exceptions that are signals between two parts of the code, never shown to a user.
SIGNALS = {"NvmlUnavailable", "WireError"}
TOKEN = TokenInfo("t1", "guian", ("write",), "0" * 64, "2026-06-01", sites=("guian-1",))


def _raised(call: Callable[[], object]) -> Exception:
    with pytest.raises(GreenwatchError) as caught:
        call()
    return caught.value


def _line_error() -> Exception:
    parsed = parse_lines("power_watts,site=a value=x 1\n")
    assert parsed.errors
    return parsed.errors[0]


def _store_error() -> Exception:
    start = pd.Timestamp("2026-06-01", tz="UTC")
    return _raised(lambda: DuckDBStore().query("power_watts", start, start))


def _unreachable_engine() -> Exception:
    store = VictoriaMetricsStore(f"http://127.0.0.1:{free_port()}", max_retries=0)
    start = pd.Timestamp("2026-06-01", tz="UTC")
    return _raised(lambda: store.query("power_watts", start, start + pd.Timedelta(hours=1)))


def _missing_secret() -> Exception:
    return _raised(lambda: SecretRef(file=Path("/nonexistent/secret")).reveal())


def _bad_batch() -> Exception:
    at = pd.Timestamp("2026-06-01", tz="UTC")
    return _raised(lambda: make_batch([at], ["no_such_metric"], [1.0], {"site": ["a"]}))


CASES: dict[str, tuple[Callable[[], Exception], int]] = {
    "ConfigError": (lambda: ConfigError("sites.yaml", [(3, "sites.0.id", "bad id")]), INPUT),
    "BatchError": (_bad_batch, INPUT),
    "SecretError": (_missing_secret, INPUT),
    "LineError": (_line_error, INPUT),
    "OtlpError": (lambda: _raised(lambda: decode_request(b"\xff\xff", False)), INPUT),
    "RemoteWriteError": (lambda: _raised(lambda: decode_write_request(b"nope")), INPUT),
    "BodyError": (lambda: BodyError(415, "the body is not gzip"), INPUT),
    "PushError": (lambda: PushError([(1, "unknown site 'x'")]), INPUT),
    "ScopeError": (lambda: ScopeError("unknown site 'x'"), INPUT),
    "PeriodError": (lambda: _raised(lambda: parse_period("2026-13")), INPUT),
    "ReportError": (lambda: ReportError("unknown format 'doc'"), INPUT),
    "SilenceError": (lambda: SilenceError("no matchers"), INPUT),
    "AlertNotFoundError": (lambda: AlertNotFoundError("no alert abc"), INPUT),
    "CollectorError": (lambda: CollectorError("bmc-1", "bad profile", "config"), INPUT),
    "GpuCheckError": (lambda: GpuCheckError("size and seconds must be positive"), INPUT),
    "ScenarioError": (lambda: ScenarioError("x", "unknown scenario"), INPUT),
    "RegistrationError": (lambda: RegistrationError([("pool.count", "must be positive")]), INPUT),
    "PoolNotFoundError": (lambda: PoolNotFoundError("guian-1", "p"), INPUT),
    "VersionConflictError": (lambda: VersionConflictError("guian-1", "p", 2, 3), INPUT),
    "SiteForbiddenError": (lambda: SiteForbiddenError(TOKEN, [(1, "x")], "power_watts"), INPUT),
    "BackupError": (lambda: BackupError("x.tar.gz is not a greenwatch backup"), INPUT),
    "RetentionError": (lambda: RetentionError("raw retention 0d"), INPUT),
    "StoreMissingError": (lambda: StoreMissingError("no store at /x"), INPUT),
    "StoreError": (_store_error, SYSTEM),
    "StoreError (engine down)": (_unreachable_engine, SYSTEM),
    "StoreUnavailableError": (lambda: StoreUnavailableError("the store is locked"), SYSTEM),
    "IngestClosedError": (lambda: IngestClosedError("greenwatch is shutting down"), SYSTEM),
    "NotifyError": (lambda: NotifyError("webhook", "HTTP 503"), SYSTEM),
    "DeliveryError": (lambda: DeliveryError("127.0.0.1:25", ConnectionRefusedError()), SYSTEM),
    "VerificationPostError": (
        lambda: VerificationPostError("http://127.0.0.1:1", "refused", 0, 2),
        SYSTEM,
    ),
    "ListenError": (lambda: ListenError("127.0.0.1", 80, PermissionError(13, "denied")), SYSTEM),
}


@pytest.mark.parametrize(("name", "case"), CASES.items(), ids=list(CASES))
def test_each_error_reaches_the_cli_handler_with_its_kind(
    name: str, case: tuple[Callable[[], Exception], int]
) -> None:
    build, code = case
    error = build()
    assert type(error).__name__ == name.split(" ", maxsplit=1)[0]
    assert isinstance(error, GreenwatchError)
    assert error.exit_code == code
    detail, status = _one_sentence(error)
    assert status == code
    assert detail
    assert "Traceback" not in detail


def _defined_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in pkgutil.walk_packages(greenwatch.__path__, "greenwatch."):
        if module.name.endswith("__main__"):
            continue
        loaded = importlib.import_module(module.name)
        for name, value in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.name:
                found[name] = value
    return found


def test_every_error_class_is_a_greenwatch_error_and_has_a_case() -> None:
    defined = _defined_exceptions()
    outside = {n for n, c in defined.items() if not issubclass(c, GreenwatchError)}
    assert outside == SIGNALS
    named = {n.split(" ")[0] for n in CASES}
    assert set(defined) - SIGNALS - named <= {"GreenwatchError", "SystemFailureError"}

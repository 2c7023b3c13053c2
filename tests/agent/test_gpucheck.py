"""The GPU matmul check: no-GPU path, the method on NumPy, verification records, posting.

There is no GPU here: the measuring pipeline runs on :class:`NumpyBackend` (the same code path
with a CPU array library), and posting goes to a real loopback HTTP server that records what
it gets.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import numpy as np
import pytest

from greenwatch.agent import (
    BENCHMARK,
    GpuCheckError,
    GpuCheckResult,
    GpuMeasurement,
    NumpyBackend,
    VerificationPostError,
    check_gpus,
    post_verifications,
    run_gpu_check,
    to_verifications,
)
from greenwatch.cli import build_parser, main
from tests.conftest import free_port, http_handler_server

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RECORD_KEYS = {
    "site",
    "pool",
    "benchmark",
    "precision",
    "measured_flops",
    "devices",
    "passed",
    "at",
    "detail",
}
NO_GPU_REASON = "no CUDA device: torch not installed and cupy not installed"


@dataclass
class Recorder:
    """What a loopback HTTP server received, and what it answers."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 201
    answer: dict[str, Any] = field(default_factory=lambda: {"status": "accepted"})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                rec.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(body) if body else None,
                    }
                )
            reply = json.dumps(rec.answer).encode()
            self.send_response(rec.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = do_PUT = _record  # noqa: N815 - http.server's handler names

        def log_message(self, *args: object) -> None:
            pass

    with http_handler_server(Handler) as port:
        rec.port = port
        yield rec


@pytest.fixture
def no_gpu_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if neither torch nor cupy were installed (a None entry makes ``import`` fail)."""
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "cupy", None)


class PerturbedBackend(NumpyBackend):
    """Returns a product 1 % off: the check must see it."""

    def matmul(self, a: Any, b: Any) -> Any:
        return (super().matmul(a, b) * 1.01).astype(a.dtype)


class FailingBackend(NumpyBackend):
    """Warms up, then fails the way a GPU does after a fault (PyTorch: a RuntimeError)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def matmul(self, a: Any, b: Any) -> Any:
        self.calls += 1
        if self.calls > 2:
            raise RuntimeError("CUDA error: an illegal memory access was encountered\nmore text")
        return super().matmul(a, b)


def _check(backend: NumpyBackend, **options: Any) -> GpuCheckResult:
    return run_gpu_check(backend, **{"size": 96, "seconds": 0.05, **options})


# --- no GPU ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_gpu_stack")
def test_without_torch_and_cupy_the_result_is_no_gpu_with_the_reason() -> None:
    result = check_gpus()
    assert result.status == "no_gpu"
    assert result.reason == NO_GPU_REASON
    assert result.measurements == ()
    assert result.measured_flops == {}
    assert to_verifications(result, "guian-1", "gpu-a") == []


@pytest.mark.usefixtures("no_gpu_stack")
def test_each_backend_named_explains_itself() -> None:
    assert check_gpus("torch").reason == "no CUDA device: torch not installed"
    assert check_gpus("cupy").reason == "no CUDA device: cupy not installed"


@pytest.mark.usefixtures("no_gpu_stack")
def test_cli_without_gpu_says_so_exits_3_and_posts_nothing(
    recorder: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["gpu-check", "--site", "guian-1", "--pool", "gpu-a", "--url", recorder.url]
    code = main([*argv, "--token", "secret"])
    out, err = capsys.readouterr()
    assert code == 3
    assert out == f"gpu-check: no GPU ({NO_GPU_REASON})\n"
    assert err == ""
    assert recorder.requests == []


@pytest.mark.usefixtures("no_gpu_stack")
def test_cli_without_gpu_in_json_keeps_stdout_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["gpu-check", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 3
    assert json.loads(out)["status"] == "no_gpu"
    assert err == f"gpu-check: no GPU ({NO_GPU_REASON})\n"


def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["gpu-check", "--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert "exit status:" in out
    assert "  3  no GPU" in out
    assert "  4  the verification API refused" in out


def test_agent_command_is_unchanged() -> None:
    args = build_parser().parse_args(["agent", "--config", "agent.yaml"])
    assert args.config == "agent.yaml"
    assert args.handler.__name__ == "_cmd_agent"


# --- the method, on NumPy -------------------------------------------------------------------


def test_numpy_backend_measures_flops_and_passes_the_correctness_check() -> None:
    result = _check(NumpyBackend())
    assert result.status == "ok", result.reason
    assert [m.precision for m in result.measurements] == ["fp16", "fp64"]
    for m in result.measurements:
        assert m.flops > 0
        assert m.runs >= 3
        assert m.matmuls_per_run >= 1
        assert m.size == 96
        assert 0 <= m.error <= m.tolerance
        assert m.passed
    assert result.devices == [
        {
            "index": 0,
            "name": "CPU (numpy)",
            "tflops": {m.precision: m.flops / 1e12 for m in result.measurements},
        }
    ]
    assert result.measured_flops == {m.precision: m.flops for m in result.measurements}


def test_a_wrong_product_fails_the_check() -> None:
    result = _check(PerturbedBackend())
    assert result.status == "failed"
    for m in result.measurements:
        assert not m.passed
        assert m.error > m.tolerance
        assert m.flops > 0  # the speed was measured; the product is what is wrong
        assert f"{m.precision} product wrong: error" in m.reason
    assert result.reason.startswith("CPU 0: fp16 product wrong")
    records = to_verifications(result, "guian-1", "gpu-a")
    assert [r["passed"] for r in records] == [False, False]
    assert "; failed: CPU 0: fp16 product wrong" in records[0]["detail"]


def test_a_device_error_fails_the_measurement_with_its_message() -> None:
    result = _check(FailingBackend(), precisions=["fp64"])
    assert result.status == "failed"
    (m,) = result.measurements
    assert not m.passed
    assert m.reason == "RuntimeError: CUDA error: an illegal memory access was encountered"
    assert m.flops == 0.0
    assert math.isnan(m.error)
    assert json.dumps(result.as_dict())  # NaN is not JSON: the error is None there
    assert result.as_dict()["measurements"][0]["error"] is None


def test_unsupported_precision_is_skipped_not_failed() -> None:
    result = _check(NumpyBackend(), precisions=["fp64", "bf16"])
    assert result.status == "ok"
    assert [m.precision for m in result.measurements] == ["fp64"]
    assert result.skipped == ("CPU 0: bf16 not supported",)


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"precisions": ["fp8"]}, "fp8"),
        ({"devices": [1]}, "devices [1]: 1 visible"),
        ({"seconds": 0}, "positive"),
    ],
)
def test_bad_settings_are_errors(options: dict[str, Any], needle: str) -> None:
    with pytest.raises(GpuCheckError, match=needle.replace("[", r"\[")):
        _check(NumpyBackend(), **options)


def test_tolerances_sit_between_rounding_and_a_wrong_result() -> None:
    """A right fp16 product stays well inside; a product off by 1 % is far outside."""
    result = _check(NumpyBackend(), precisions=["fp16"], size=256)
    (m,) = result.measurements
    assert m.error < m.tolerance / 4
    assert m.tolerance < 0.01 / 2


# --- verification records -------------------------------------------------------------------


def _measurement(device: int, precision: str, tflops: float, **extra: Any) -> GpuMeasurement:
    fields: dict[str, Any] = {
        "device": device,
        "name": "NVIDIA H100 80GB HBM3",
        "precision": precision,
        "size": 8192 if precision == "fp16" else 4096,
        "flops": tflops * 1e12,
        "runs": 37,
        "matmuls_per_run": 12,
        "error": 1e-4,
        "tolerance": 4e-3,
        "passed": True,
        "reason": "",
        "finished_at": T0 + timedelta(seconds=3 * device + (10 if precision == "fp64" else 0)),
    }
    return GpuMeasurement(**{**fields, **extra})


def test_verification_records_have_the_api_shape() -> None:
    result = GpuCheckResult(
        status="ok",
        reason="",
        backend="torch 2.4.0",
        started_at=T0 - timedelta(seconds=1),
        duration_s=14.0,
        measurements=(
            _measurement(0, "fp16", 712.25),
            _measurement(1, "fp16", 700.0, runs=36),
            _measurement(0, "fp64", 51.0),
            _measurement(1, "fp64", 50.0),
        ),
    )
    records = to_verifications(result, "guian-1", "gpu-a")
    assert records == [
        {
            "site": "guian-1",
            "pool": "gpu-a",
            "benchmark": BENCHMARK,
            "precision": "fp16",
            "measured_flops": 1412.25e12,
            "devices": 2,
            "passed": True,
            "at": "2026-03-01T12:00:03Z",
            "detail": "torch 2.4.0 on NVIDIA H100 80GB HBM3 x2, n=8192, "
            "median of 36-37 runs of 12 matmuls",
        },
        {
            "site": "guian-1",
            "pool": "gpu-a",
            "benchmark": "gpu-matmul",
            "precision": "fp64",
            "measured_flops": 101e12,
            "devices": 2,
            "passed": True,
            "at": "2026-03-01T12:00:13Z",
            "detail": "torch 2.4.0 on NVIDIA H100 80GB HBM3 x2, n=4096, "
            "median of 37 runs of 12 matmuls",
        },
    ]
    assert json.loads(json.dumps(records)) == records


def test_records_from_a_real_run_parse_back() -> None:
    result = _check(NumpyBackend())
    records = to_verifications(result, "guian-1", "gpu-a")
    assert [r["precision"] for r in records] == ["fp16", "fp64"]
    for record in records:
        assert set(record) == RECORD_KEYS
        assert isinstance(record["measured_flops"], float)
        assert record["measured_flops"] > 0
        assert record["devices"] == 1
        assert record["passed"] is True
        assert record["at"].endswith("Z")
        at = datetime.fromisoformat(record["at"])
        assert at.tzinfo is not None
        assert at.utcoffset() == timedelta(0)
        assert record["detail"].startswith(f"numpy {np.__version__} on CPU (numpy) x1, n=96")


# --- posting ---------------------------------------------------------------------------------


def _records() -> list[dict[str, Any]]:
    result = GpuCheckResult(
        "ok", "", "torch 2.4.0", T0, 5.0, measurements=(_measurement(0, "fp16", 700.0),)
    )
    return to_verifications(result, "guian-1", "gpu-a") * 2


def test_records_are_posted_with_the_token(recorder: Recorder) -> None:
    records = _records()
    assert post_verifications(records, recorder.url + "/", "secret") == 2
    assert [r["method"] for r in recorder.requests] == ["POST", "POST"]
    assert {r["path"] for r in recorder.requests} == {"/api/v1/resources/verifications"}
    assert {r["headers"]["authorization"] for r in recorder.requests} == {"Token secret"}
    assert [r["body"] for r in recorder.requests] == records


def test_a_refused_record_names_the_field(recorder: Recorder) -> None:
    recorder.status = 422
    recorder.answer = {
        "code": "invalid",
        "message": "bad verification record",
        "problems": [{"key": "pool", "message": "no pool 'gpu-a' at site 'guian-1'"}],
    }
    with pytest.raises(VerificationPostError) as refused:
        post_verifications(_records(), recorder.url, "secret")
    text = str(refused.value)
    assert "fp16 record refused: HTTP 422 invalid: bad verification record" in text
    assert "(pool: no pool 'gpu-a' at site 'guian-1')" in text
    assert "(0 of 2 records posted)" in text
    assert len(recorder.requests) == 1  # stops at the first refusal


def test_an_unreachable_server_is_a_post_error() -> None:
    with pytest.raises(VerificationPostError, match="not sent: ConnectError"):
        post_verifications(_records(), f"http://127.0.0.1:{free_port()}", "secret", timeout_s=2)


# --- the command ----------------------------------------------------------------------------


def test_cli_numpy_sanity_run_prints_table_and_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["gpu-check", "--backend", "numpy", "--size", "64", "--seconds", "0.02"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].split() == ["device", "name", "precision", "TFLOPS", "runs", "error", "result"]
    assert [line.split()[3] for line in lines[1:3]] == ["fp16", "fp64"]  # "CPU (numpy)"
    assert lines[3].startswith("gpu-check: 1 CPU, fp16 ")
    assert " TFLOPS, fp64 " in lines[3]
    assert lines[3].endswith(f" TFLOPS (numpy {np.__version__}, CPU (numpy))")


def test_cli_json_includes_the_records(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["gpu-check", "--backend", "numpy", "--size", "64", "--seconds", "0.02"]
    code = main([*argv, "--format", "json", "--site", "s", "--pool", "p", "--precision", "fp64"])
    out, err = capsys.readouterr()
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "ok"
    assert [set(r) for r in doc["verifications"]] == [RECORD_KEYS]
    assert err.startswith("gpu-check: 1 CPU, fp64 ")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--backend", "numpy", "--site", "s", "--pool", "p"], "CPU sanity run"),
        (["--site", "s"], "needs --pool, --token or $GREENWATCH_TOKEN"),
    ],
)
def test_cli_refuses_to_post_without_what_it_needs(
    recorder: Recorder,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    needle: str,
) -> None:
    monkeypatch.delenv("GREENWATCH_TOKEN", raising=False)
    token = ["--token", "t"] if "--backend" in extra else []
    code = main(["gpu-check", "--url", recorder.url, *token, *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert recorder.requests == []


def test_cli_rejects_an_unknown_precision(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["gpu-check", "--precision", "fp16,fp8"])
    assert exited.value.code == 2
    assert "a comma-separated list of fp16, bf16, fp64" in capsys.readouterr().err

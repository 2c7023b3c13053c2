"""A short GPU matmul check: achieved FLOPS per GPU, checked for correctness, as verification
records of a compute pool (``POST /api/v1/resources/verifications``).

Method, for each precision (fp16 and fp64 by default; bf16 on request) and each GPU in turn:

* two n x n matrices with entries uniform in [-1, 1) are made on the GPU (n = 8192 for
  fp16/bf16, 4096 for fp64 unless ``size`` is given);
* :data:`WARMUP` matmuls (cuBLAS picks its kernel, clocks ramp up), then one timed matmul that
  sets ``k``, the matmuls per run, so that a run lasts about :data:`RUN_S`;
* timed runs until ``seconds`` have passed (at least :data:`MIN_RUNS`): a run is ``k``
  back-to-back matmuls between two device synchronisations, timed with ``perf_counter``, so
  launch and synchronisation overheads are a small share of it;
* a matmul is 2 n^3 floating-point operations; a GPU's figure is the median over its runs, in
  FLOPS. GPUs are measured one after another; the pool's measured FLOPS at a precision is the
  sum over the GPUs tested.

Correctness: :data:`SAMPLE` rows of A and columns of B, and the product's entries where they
cross, are copied back; the reference is their float64 product on the CPU (the inputs convert
to float64 exactly). The error is ``max |c - ref| / max |ref|`` over the sampled entries and
must not exceed ``8 u_out + 4 sqrt(n) u_acc``: rounding the result to the output precision
(unit roundoff u_out: 2^-11 fp16, 2^-8 bf16, 2^-53 fp64), with margin, plus a generous
statistical bound on the accumulation error (fp16 and bf16 accumulate in fp32, as cuBLAS's
``CUBLAS_COMPUTE_32F`` does in torch and CuPy). A wrong kernel, a corrupted tile, zeros or
NaNs give an error of order 1.

Backends implement :class:`MatmulBackend` and are imported lazily; none is a dependency:
PyTorch (``torch.cuda``) first, then CuPy. Without either, or without a CUDA device, the result
is ``status="no_gpu"`` with the reason. :class:`NumpyBackend` runs the same pipeline on the CPU:
a sanity run of the method (``greenwatch gpu-check --backend numpy``) and the tests' seam; its
figures are CPU figures and are never posted by the CLI.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import numpy as np

from greenwatch.agent._gpubackends import GpuCheckError, MatmulBackend, find_backend, first_line
from greenwatch.agent._names import DEFAULT_SIZES, PRECISIONS
from greenwatch.model import Clock, SystemFailureError, utc_now

DEFAULT_PRECISIONS = ("fp16", "fp64")
BENCHMARK = "gpu-matmul"
VERIFICATIONS_PATH = "/api/v1/resources/verifications"
DETAIL_MAX = 4000
WARMUP = 3
MIN_RUNS = 3
RUN_S = 0.05
SAMPLE = 16
SEED_A, SEED_B = 1, 2
UNIT_ROUNDOFF = {"fp16": 2.0**-11, "bf16": 2.0**-8, "fp64": 2.0**-53}
ACCUMULATION = {"fp16": 2.0**-24, "bf16": 2.0**-24, "fp64": 2.0**-53}  # fp32 for 16-bit
Status = Literal["ok", "failed", "no_gpu"]


class VerificationPostError(SystemFailureError):
    """The verification API did not take a record (or could not be reached)."""

    def __init__(self, endpoint: str, problem: str, posted: int, total: int) -> None:
        self.endpoint = endpoint
        self.problem = problem
        self.posted = posted
        super().__init__(f"{endpoint}: {problem} ({posted} of {total} records posted)")


@dataclass(frozen=True)
class GpuMeasurement:
    """One device at one precision. ``flops`` is the median over runs (0 if none finished)."""

    device: int
    name: str
    precision: str
    size: int
    flops: float
    runs: int
    matmuls_per_run: int
    error: float  # max |c - ref| / max |ref| over the sampled entries; nan if not checked
    tolerance: float
    passed: bool
    reason: str
    finished_at: datetime


@dataclass(frozen=True)
class GpuCheckResult:
    """The outcome of a check: ``ok`` (all passed), ``failed`` or ``no_gpu`` (with a reason)."""

    status: Status
    reason: str
    backend: str
    started_at: datetime
    duration_s: float
    kind: str = "GPU"
    measurements: tuple[GpuMeasurement, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def devices(self) -> list[dict[str, Any]]:
        """Per device: ``index``, ``name`` and ``tflops`` by precision."""
        out: dict[int, dict[str, Any]] = {}
        for m in self.measurements:
            entry = out.setdefault(m.device, {"index": m.device, "name": m.name, "tflops": {}})
            entry["tflops"][m.precision] = m.flops / 1e12
        return list(out.values())

    @property
    def measured_flops(self) -> dict[str, float]:
        """FLOPS by precision, summed over the devices tested."""
        out: dict[str, float] = {}
        for m in self.measurements:
            out[m.precision] = out.get(m.precision, 0.0) + m.flops
        return out

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (times as RFC 3339 UTC, an error not measured as None)."""
        return {
            "status": self.status,
            "reason": self.reason,
            "backend": self.backend,
            "kind": self.kind,
            "started_at": rfc3339(self.started_at),
            "duration_s": self.duration_s,
            "devices": self.devices,
            "measured_flops": self.measured_flops,
            "measurements": [
                {
                    **asdict(m),
                    "error": m.error if math.isfinite(m.error) else None,  # JSON has no NaN
                    "finished_at": rfc3339(m.finished_at),
                }
                for m in self.measurements
            ],
            "skipped": list(self.skipped),
        }


def rfc3339(at: datetime) -> str:
    """``at`` as RFC 3339 UTC with a ``Z``, microseconds kept."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def tolerance(precision: str, n: int) -> float:
    """Largest accepted sampled error of an n x n product (see the module docstring)."""
    return 8 * UNIT_ROUNDOFF[precision] + 4 * math.sqrt(n) * ACCUMULATION[precision]


def _sampled_error(backend: MatmulBackend, a: Any, b: Any, c: Any, n: int) -> float:
    """max |c - ref| / max |ref| over SAMPLE x SAMPLE entries, ref in float64 on the CPU."""
    rng = np.random.default_rng(0)
    k = min(SAMPLE, n)
    rows = sorted(int(i) for i in rng.choice(n, k, replace=False))
    cols = sorted(int(j) for j in rng.choice(n, k, replace=False))
    ref = backend.block(a, rows, None) @ backend.block(b, None, cols)
    got = backend.block(c, rows, cols)
    scale = float(np.max(np.abs(ref)))
    if not scale > 0:
        return math.inf
    return float(np.max(np.abs(got - ref))) / scale


def _timed_runs(
    backend: MatmulBackend, index: int, a: Any, b: Any, seconds: float
) -> tuple[list[float], int, Any]:
    """Seconds per matmul of each timed run, matmuls per run, and the last product."""
    for _ in range(WARMUP):
        backend.matmul(a, b)
    backend.synchronize(index)
    start = time.perf_counter()
    c = backend.matmul(a, b)
    backend.synchronize(index)
    one = time.perf_counter() - start
    reps = max(1, min(10_000, math.ceil(min(RUN_S, seconds / MIN_RUNS) / max(one, 1e-9))))
    per_matmul: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(per_matmul) < MIN_RUNS or time.perf_counter() < deadline:
        start = time.perf_counter()  # the device is idle here: the last run ended synchronised
        for _ in range(reps):
            c = backend.matmul(a, b)
        backend.synchronize(index)
        per_matmul.append((time.perf_counter() - start) / reps)
    return per_matmul, reps, c


def _measure(
    backend: MatmulBackend, index: int, precision: str, n: int, seconds: float
) -> dict[str, Any]:
    """Median FLOPS, runs, matmuls per run, sampled error and the failure reason, if any."""
    out: dict[str, Any] = {"flops": 0.0, "runs": 0, "matmuls_per_run": 0, "error": math.nan}
    tol = tolerance(precision, n)
    try:
        a = backend.random(index, n, precision, SEED_A)
        b = backend.random(index, n, precision, SEED_B)
        per_matmul, out["matmuls_per_run"], c = _timed_runs(backend, index, a, b, seconds)
        out["runs"] = len(per_matmul)
        out["flops"] = 2.0 * n**3 / statistics.median(per_matmul)
        out["error"] = _sampled_error(backend, a, b, c, n)
    except Exception as exc:  # a CUDA error fails this measurement, not the whole check
        return {**out, "passed": False, "reason": first_line(exc)}
    if out["error"] <= tol:  # False for nan
        return {**out, "passed": True, "reason": ""}
    reason = f"{precision} product wrong: error {out['error']:.3g} > {tol:.3g}"
    return {**out, "passed": False, "reason": reason}


def run_gpu_check(
    backend: MatmulBackend,
    *,
    precisions: Sequence[str] = DEFAULT_PRECISIONS,
    size: int | None = None,
    seconds: float = 2.0,
    devices: Sequence[int] | None = None,
    clock: Clock = utc_now,
) -> GpuCheckResult:
    """Measure and check every precision on every device (all by default) of ``backend``."""
    unknown = sorted(set(precisions) - set(PRECISIONS))
    if unknown or not precisions:
        raise GpuCheckError(f"precisions {unknown or '[]'}: use some of {', '.join(PRECISIONS)}")
    if (size is not None and size < 1) or not seconds > 0:
        raise GpuCheckError("size and seconds must be positive")
    started_at, start = clock(), time.perf_counter()
    count = backend.device_count()
    if count == 0:
        reason = f"{backend.label}: no device"
        return GpuCheckResult("no_gpu", reason, backend.label, started_at, 0.0, backend.kind)
    chosen = list(range(count)) if devices is None else list(dict.fromkeys(devices))
    missing = [i for i in chosen if not 0 <= i < count]
    if missing or not chosen:
        raise GpuCheckError(f"devices {missing or '[]'}: {count} visible (0..{count - 1})")
    measurements: list[GpuMeasurement] = []
    skipped: list[str] = []
    names = {i: backend.device_name(i) for i in chosen}
    for precision in dict.fromkeys(precisions):
        n = size or DEFAULT_SIZES[precision]
        for i in chosen:
            if not backend.supports(i, precision):
                skipped.append(f"{backend.kind} {i}: {precision} not supported")
                continue
            figures = _measure(backend, i, precision, n, seconds)
            measurements.append(
                GpuMeasurement(
                    device=i,
                    name=names[i],
                    precision=precision,
                    size=n,
                    tolerance=tolerance(precision, n),
                    finished_at=clock(),
                    **figures,
                )
            )
    failed = [f"{backend.kind} {m.device}: {m.reason}" for m in measurements if not m.passed]
    if not measurements:
        failed = [f"nothing measured ({'; '.join(skipped)})"]
    return GpuCheckResult(
        status="failed" if failed else "ok",
        reason="; ".join(failed),
        backend=backend.label,
        started_at=started_at,
        duration_s=time.perf_counter() - start,
        kind=backend.kind,
        measurements=tuple(measurements),
        skipped=tuple(skipped),
    )


def check_gpus(
    backend: str = "auto",
    *,
    precisions: Sequence[str] = DEFAULT_PRECISIONS,
    size: int | None = None,
    seconds: float = 2.0,
    devices: Sequence[int] | None = None,
    clock: Clock = utc_now,
) -> GpuCheckResult:
    """:func:`run_gpu_check` on the backend named (``auto``: torch, else cupy), or ``no_gpu``."""
    found, reason = find_backend(backend)
    if found is None:
        return GpuCheckResult("no_gpu", reason, "", clock(), 0.0)
    return run_gpu_check(
        found, precisions=precisions, size=size, seconds=seconds, devices=devices, clock=clock
    )


def _span(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def to_verifications(result: GpuCheckResult, site: str, pool: str) -> list[dict[str, Any]]:
    """One verification record per precision measured (none without a GPU)."""
    if result.status == "no_gpu":
        return []
    by_precision: dict[str, list[GpuMeasurement]] = {}
    for m in result.measurements:
        by_precision.setdefault(m.precision, []).append(m)
    records = []
    for precision, group in by_precision.items():
        names = ", ".join(f"{name} x{k}" for name, k in Counter(m.name for m in group).items())
        detail = (
            f"{result.backend} on {names}, n={group[0].size}, median of "
            f"{_span([m.runs for m in group])} runs of "
            f"{_span([m.matmuls_per_run for m in group])} matmuls"
        )
        failed = [f"{result.kind} {m.device}: {m.reason}" for m in group if not m.passed]
        if failed:
            detail += "; failed: " + "; ".join(failed)
        if len(detail) > DETAIL_MAX:  # the API's limit; many failing GPUs could pass it
            detail = detail[: DETAIL_MAX - 1] + "…"
        records.append(
            {
                "site": site,
                "pool": pool,
                "benchmark": BENCHMARK,
                "precision": precision,
                "measured_flops": sum(m.flops for m in group),
                "devices": len(group),
                "passed": not failed,
                "at": rfc3339(max(m.finished_at for m in group)),
                "detail": detail,
            }
        )
    return records


def _refusal(answer: httpx.Response) -> str:
    """``HTTP 422 invalid: message (key: problem; …)`` from the API's error body."""
    try:
        body = answer.json()
    except ValueError:
        return f"HTTP {answer.status_code}: {answer.text.strip()[:200]}"
    if not isinstance(body, dict):
        return f"HTTP {answer.status_code}: {str(body)[:200]}"
    text = f"HTTP {answer.status_code} {body.get('code', '')}: {body.get('message', '')}".strip()
    problems = [
        f"{p.get('key', '?')}: {p.get('message', '')}"
        for p in body.get("problems") or []
        if isinstance(p, dict)
    ]
    return f"{text} ({'; '.join(problems)})" if problems else text


def post_verifications(
    records: Sequence[dict[str, Any]],
    url: str,
    token: str,
    *,
    client: httpx.Client | None = None,
    timeout_s: float = 30.0,
) -> int:
    """POST each record to ``url``'s verification API; returns how many were accepted (201).

    Stops at the first refusal or connection error with :class:`VerificationPostError`.
    """
    endpoint = url.rstrip("/") + VERIFICATIONS_PATH
    http = client or httpx.Client(timeout=timeout_s)
    headers = {"Authorization": f"Token {token}"}
    try:
        for done, record in enumerate(records):
            what = f"{record.get('precision')} record"
            try:
                answer = http.post(endpoint, json=record, headers=headers)
            except httpx.HTTPError as exc:
                raise VerificationPostError(
                    endpoint, f"{what} not sent: {first_line(exc)}", done, len(records)
                ) from exc
            if answer.status_code != 201:
                raise VerificationPostError(
                    endpoint, f"{what} refused: {_refusal(answer)}", done, len(records)
                )
    finally:
        if client is None:
            http.close()
    return len(records)

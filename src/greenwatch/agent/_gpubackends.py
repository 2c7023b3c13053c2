"""Matrix-multiply backends of the GPU check: PyTorch and CuPy on CUDA devices, NumPy on the
CPU (a sanity run of the method and the tests' seam). Imported lazily; none is a dependency."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from greenwatch.agent._names import BACKENDS
from greenwatch.model import GreenwatchError


class GpuCheckError(GreenwatchError):
    """The check's settings are invalid (unknown precision, device index out of range…)."""


class MatmulBackend(Protocol):
    """The array operations the check needs; arrays are the backend's own (device) arrays."""

    label: str  # library and version, e.g. "torch 2.4.0"
    kind: str  # what a device is: "GPU", or "CPU" for NumpyBackend

    def device_count(self) -> int: ...

    def device_name(self, index: int) -> str: ...

    def supports(self, index: int, precision: str) -> bool: ...

    def random(self, index: int, n: int, precision: str, seed: int) -> Any:
        """An n x n matrix on device ``index``, entries uniform in [-1, 1)."""
        ...

    def matmul(self, a: Any, b: Any) -> Any: ...

    def synchronize(self, index: int) -> None:
        """Wait until device ``index`` has finished the work queued on it."""
        ...

    def block(self, x: Any, rows: Sequence[int] | None, cols: Sequence[int] | None) -> Any:
        """``x[rows][:, cols]`` (None: all) copied to the host as a float64 NumPy array."""
        ...


class TorchBackend:
    """:class:`MatmulBackend` over PyTorch on CUDA devices."""

    kind = "GPU"

    def __init__(self, torch: Any) -> None:
        self._torch = torch
        self._dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp64": torch.float64}
        self.label = f"torch {torch.__version__}"

    def device_count(self) -> int:
        return int(self._torch.cuda.device_count())

    def device_name(self, index: int) -> str:
        return str(self._torch.cuda.get_device_name(index))

    def supports(self, index: int, precision: str) -> bool:
        if precision == "bf16":  # bf16 tensor cores arrived with Ampere (sm_80)
            return tuple(self._torch.cuda.get_device_capability(index)) >= (8, 0)
        return True

    def random(self, index: int, n: int, precision: str, seed: int) -> Any:
        device = f"cuda:{index}"
        generator = self._torch.Generator(device=device).manual_seed(seed)
        x = self._torch.rand(
            (n, n), generator=generator, device=device, dtype=self._dtypes[precision]
        )
        return x.mul_(2).sub_(1)

    def matmul(self, a: Any, b: Any) -> Any:
        return self._torch.matmul(a, b)

    def synchronize(self, index: int) -> None:
        self._torch.cuda.synchronize(index)

    def block(self, x: Any, rows: Sequence[int] | None, cols: Sequence[int] | None) -> Any:
        if rows is not None:
            x = x[list(rows)]
        if cols is not None:
            x = x[:, list(cols)]
        return x.to(self._torch.float64).cpu().numpy()


class CupyBackend:
    """:class:`MatmulBackend` over CuPy (fp16 and fp64; CuPy has no bfloat16 arrays)."""

    kind = "GPU"

    def __init__(self, cupy: Any) -> None:
        self._cp = cupy
        self.label = f"cupy {cupy.__version__}"

    def device_count(self) -> int:
        return int(self._cp.cuda.runtime.getDeviceCount())

    def device_name(self, index: int) -> str:
        name = self._cp.cuda.runtime.getDeviceProperties(index)["name"]
        return name.decode() if isinstance(name, bytes) else str(name)

    def supports(self, index: int, precision: str) -> bool:  # noqa: ARG002 - any GPU
        return precision in ("fp16", "fp64")

    def random(self, index: int, n: int, precision: str, seed: int) -> Any:
        cp = self._cp
        with cp.cuda.Device(index):
            x = cp.random.default_rng(seed).random((n, n), dtype=cp.float64)
            return (x * 2 - 1).astype(_NUMPY_DTYPES[precision])

    def matmul(self, a: Any, b: Any) -> Any:
        with a.device:
            return self._cp.matmul(a, b)

    def synchronize(self, index: int) -> None:
        self._cp.cuda.Device(index).synchronize()

    def block(self, x: Any, rows: Sequence[int] | None, cols: Sequence[int] | None) -> Any:
        cp = self._cp
        with x.device:
            if rows is not None:
                x = x[cp.asarray(rows)]
            if cols is not None:
                x = x[:, cp.asarray(cols)]
            return cp.asnumpy(x.astype(cp.float64))


_NUMPY_DTYPES: dict[str, Any] = {"fp16": np.float16, "fp64": np.float64}


class NumpyBackend:
    """:class:`MatmulBackend` over NumPy on the CPU, one device: a sanity run of the method.

    fp16 products are computed in float32 and rounded to float16, as GPUs accumulate fp16 in
    fp32 (NumPy has no fast float16 matmul); bf16 is not supported.
    """

    kind = "CPU"

    def __init__(self) -> None:
        self.label = f"numpy {np.__version__}"

    def device_count(self) -> int:
        return 1

    @staticmethod
    def _one(index: int) -> None:
        if index != 0:
            raise IndexError(f"device {index}: NumpyBackend has one device, 0")

    def device_name(self, index: int) -> str:
        self._one(index)
        return "CPU (numpy)"

    def supports(self, index: int, precision: str) -> bool:
        self._one(index)
        return precision in _NUMPY_DTYPES

    def random(self, index: int, n: int, precision: str, seed: int) -> Any:
        self._one(index)
        values = np.random.default_rng(seed).uniform(-1.0, 1.0, (n, n))
        return values.astype(_NUMPY_DTYPES[precision])

    def matmul(self, a: Any, b: Any) -> Any:
        if a.dtype == np.float16:
            return (a.astype(np.float32) @ b.astype(np.float32)).astype(np.float16)
        return a @ b

    def synchronize(self, index: int) -> None:
        """Nothing to wait for: NumPy computes before it returns."""

    def block(self, x: Any, rows: Sequence[int] | None, cols: Sequence[int] | None) -> Any:
        if rows is not None:
            x = x[np.asarray(rows)]
        if cols is not None:
            x = x[:, np.asarray(cols)]
        return np.asarray(x, dtype=np.float64)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _torch_backend() -> tuple[MatmulBackend | None, str]:
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None, "torch not installed"
    except Exception as exc:  # a broken install (missing CUDA libraries) is "no GPU", not a crash
        return None, f"torch: {first_line(exc)}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # torch explains a driver problem in a warning
        available = bool(torch.cuda.is_available())
    if not available:
        why = f" ({str(caught[0].message).strip().splitlines()[0]})" if caught else ""
        return None, f"torch: CUDA not available{why}"
    return TorchBackend(torch), ""


def _cupy_backend() -> tuple[MatmulBackend | None, str]:
    try:
        cupy = importlib.import_module("cupy")
    except ImportError:
        return None, "cupy not installed"
    except Exception as exc:
        return None, f"cupy: {first_line(exc)}"
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # CUDARuntimeError: no driver, no device
        return None, f"cupy: {first_line(exc)}"
    if count == 0:
        return None, "cupy: no CUDA device"
    return CupyBackend(cupy), ""


def find_backend(name: str = "auto") -> tuple[MatmulBackend | None, str]:
    """The backend ``name`` (``auto``: torch, else cupy), or None and why there is none."""
    if name == "numpy":
        return NumpyBackend(), ""
    finders: dict[str, Callable[[], tuple[MatmulBackend | None, str]]] = {
        "torch": _torch_backend,
        "cupy": _cupy_backend,
    }
    if name not in BACKENDS:
        raise GpuCheckError(f"unknown backend {name!r} (one of {', '.join(BACKENDS)})")
    reasons = []
    for each in finders if name == "auto" else [name]:
        backend, reason = finders[each]()
        if backend is not None:
            return backend, ""
        reasons.append(reason)
    return None, "no CUDA device: " + " and ".join(reasons)

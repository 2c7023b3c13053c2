"""NVML collector: per-GPU power, energy, utilisation, memory and temperature, and GPU counts.

The NVML calls go through an :class:`NvmlApi` object — :class:`PynvmlApi` (nvidia-ml-py) by
default — that returns each GPU's readings as raw NVML units (mW, mJ, %, bytes, °C); the
profile scales them. The collector adds the field ``present`` (1 for every GPU NVML
enumerates), which a profile sums per model name into ``compute_devices``. A test passes an
object that replays a recorded trace. A host without the NVIDIA driver or library fails the
poll with reason ``no NVIDIA driver``; it never crashes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, Protocol, get_args

from pydantic import Field

from greenwatch.collect._base import Collector
from greenwatch.collect._errors import ERROR, NO_DRIVER, CollectorError
from greenwatch.collect._profile import ProfileBase, Rule
from greenwatch.collect._rows import BatchBuilder
from greenwatch.collect._target import Target
from greenwatch.model import Clock, utc_now

NvmlField = Literal[
    "power_mw", "energy_mj", "util_gpu_pct", "util_mem_pct", "mem_used_bytes", "temp_c",
    "sm_clock_mhz", "present",
]  # fmt: skip
FIELDS: tuple[str, ...] = get_args(NvmlField)


class NvmlUnavailable(Exception):  # noqa: N818 - a state, not a bug
    """NVML cannot be used on this host (no driver or no library)."""


class NvmlApi(Protocol):
    """The NVML calls a poll makes; readings are raw NVML units, None when not supported."""

    def init(self) -> None: ...

    def device_count(self) -> int: ...

    def identity(self, index: int) -> Mapping[str, str]:
        """``uuid`` and ``name`` of GPU ``index``."""
        ...

    def read(self, index: int) -> Mapping[str, float | None]:
        """Readings of GPU ``index`` keyed by :data:`FIELDS`, all but ``present`` (added later)."""
        ...

    def shutdown(self) -> None: ...


class PynvmlApi:
    """:class:`NvmlApi` over nvidia-ml-py (``pynvml``)."""

    def __init__(self) -> None:
        try:
            import pynvml  # type: ignore[import-untyped]  # noqa: PLC0415 - optional at runtime
        except ImportError as exc:
            raise NvmlUnavailable("nvidia-ml-py is not installed") from exc
        self._nv: Any = pynvml

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except self._nv.NVMLError as exc:
            if isinstance(exc, self._nv.NVMLError_NotSupported | self._nv.NVMLError_NoData):
                return None
            raise

    def init(self) -> None:
        nv = self._nv
        try:
            nv.nvmlInit()
        except (nv.NVMLError_LibraryNotFound, nv.NVMLError_DriverNotLoaded) as exc:
            raise NvmlUnavailable(str(exc)) from exc

    def device_count(self) -> int:
        return int(self._nv.nvmlDeviceGetCount())

    def identity(self, index: int) -> Mapping[str, str]:
        handle = self._nv.nvmlDeviceGetHandleByIndex(index)
        return {
            "uuid": str(self._call(self._nv.nvmlDeviceGetUUID, handle) or ""),
            # An unreadable name still counts the GPU, under a model no registry lists.
            "name": str(self._call(self._nv.nvmlDeviceGetName, handle) or "unknown NVIDIA GPU"),
        }

    def read(self, index: int) -> Mapping[str, float | None]:
        nv = self._nv
        handle = nv.nvmlDeviceGetHandleByIndex(index)
        util = self._call(nv.nvmlDeviceGetUtilizationRates, handle)
        memory = self._call(nv.nvmlDeviceGetMemoryInfo, handle)
        return {
            "power_mw": self._call(nv.nvmlDeviceGetPowerUsage, handle),
            "energy_mj": self._call(nv.nvmlDeviceGetTotalEnergyConsumption, handle),
            "util_gpu_pct": util.gpu if util is not None else None,
            "util_mem_pct": util.memory if util is not None else None,
            "mem_used_bytes": memory.used if memory is not None else None,
            "temp_c": self._call(nv.nvmlDeviceGetTemperature, handle, nv.NVML_TEMPERATURE_GPU),
            "sm_clock_mhz": self._call(nv.nvmlDeviceGetClockInfo, handle, nv.NVML_CLOCK_SM),
        }

    def shutdown(self) -> None:
        self._nv.nvmlShutdown()


class NvmlRule(Rule):
    """``field``: one of :data:`FIELDS`; templates may use ``index``, ``uuid``, ``name``."""

    field: NvmlField


class NvmlProfile(ProfileBase):
    family: Literal["nvml"]
    rules: tuple[NvmlRule, ...] = Field(min_length=1)

    def all_rules(self) -> tuple[NvmlRule, ...]:
        return self.rules


class NvmlCollector(Collector):
    """Reads every GPU of the local host through ``nvml`` (default :class:`PynvmlApi`)."""

    family: ClassVar[str] = "nvml"
    profile_model: ClassVar[type[ProfileBase]] = NvmlProfile

    def __init__(
        self,
        profile: ProfileBase,
        target: Target,
        clock: Clock = utc_now,
        *,
        nvml: NvmlApi | None = None,
    ) -> None:
        super().__init__(profile, target, clock)
        assert isinstance(profile, NvmlProfile)
        self.nvml_profile = profile
        self._api = nvml
        self._ready = False

    def _open(self) -> NvmlApi:
        try:
            api = self._api if self._api is not None else PynvmlApi()
            if not self._ready:
                api.init()
        except NvmlUnavailable as exc:
            raise CollectorError(self.target.name, exc, NO_DRIVER) from exc
        except Exception as exc:
            raise CollectorError(self.target.name, f"NVML init: {exc}", ERROR) from exc
        self._api, self._ready = api, True
        return api

    def _poll(self, out: BatchBuilder) -> None:
        api = self._open()
        for index in range(api.device_count()):
            ident = api.identity(index)
            readings = {**api.read(index), "present": 1.0}
            variables = {"index": str(index), **ident}
            for rule in self.nvml_profile.rules:
                out.add(rule, readings.get(rule.field), variables)

    def close(self) -> None:
        if self._api is not None and self._ready:
            self._ready = False
            with contextlib.suppress(Exception):  # telemetry never crashes its host
                self._api.shutdown()

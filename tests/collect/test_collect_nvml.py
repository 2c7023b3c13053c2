"""NVML collector: the real H100 NVML trace replayed through the injectable NVML interface, and
the real nvidia-ml-py binding (a GPU host reports GPUs; any other host says "no NVIDIA driver")."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from greenwatch.collect import CollectorError, NvmlApi, build_collector, collect_once
from greenwatch.model import concat_batches
from tests.collect.conftest import assert_golden
from tests.collect.nvml_trace import TraceNvml


def test_trace_replay_batches(trace: TraceNvml) -> None:
    api: NvmlApi = trace
    trace.stride = 10  # every 10th sample (1 s apart) keeps the test fast
    target = {"name": "h100-host", "site": "wuhu-1"}
    with build_collector("nvml", target, trace.clock, nvml=api) as collector:
        batches = [collector.collect() for _ in range(1 + (len(trace.rows) - 1) // 10)]
    assert trace.initialised == 1  # NVML is initialised once, at the first poll
    first = batches[0].set_index("metric")
    assert first.loc["device_power_watts", "value"] == 76.11
    assert first.loc["device_energy_joules_total", "value"] == pytest.approx(2720.008)
    assert first.loc["temperature_celsius", "value"] == 54
    one_per_phase = [batches[i] for i in (0, 1, 30, 80, 150, len(batches) - 1)]
    assert_golden(concat_batches(one_per_phase), "nvml/h100-trace.expected")

    # The energy counter (mJ -> J) agrees with power integrated over the trace.
    all_rows = concat_batches(batches)
    power = all_rows[all_rows.metric == "device_power_watts"].set_index("ts").value
    energy = all_rows[all_rows.metric == "device_energy_joules_total"].set_index("ts").value
    seconds = (power.index - power.index[0]).total_seconds().to_numpy()
    integrated = float(np.trapezoid(power.to_numpy(), seconds))
    counted = float(energy.iloc[-1] - energy.iloc[0])
    assert integrated == pytest.approx(counted, rel=0.02), (integrated, counted)
    util = all_rows[all_rows.metric == "device_utilisation_ratio"].value
    assert util.between(0, 1).all()
    assert isinstance(all_rows.ts.dtype, pd.DatetimeTZDtype)


def _devices(batch: pd.DataFrame) -> dict[str, float]:
    rows = batch[batch.metric == "compute_devices"]
    assert set(rows.device_kind) == {"gpu"}
    assert set(rows.source) == {"nvml:gpu-host"}
    return dict(zip(rows.model, rows.value, strict=True))


def test_gpus_are_counted_per_model(trace: TraceNvml) -> None:
    h100 = str(trace.meta["name"])
    target = {"name": "gpu-host", "site": "wuhu-1"}
    trace.names = [h100] * 4
    batch = collect_once("nvml", target, clock=trace.clock, nvml=trace)
    assert _devices(batch) == {h100: 4.0}
    assert len(batch[batch.metric == "device_power_watts"]) == 4  # still one series per GPU
    trace.names = [h100, "NVIDIA L40S", h100, " NVIDIA L40S"]
    batch = collect_once("nvml", target, clock=trace.clock, nvml=trace)
    assert _devices(batch) == {h100: 2.0, "NVIDIA L40S": 2.0}


class NoDriver:
    """An NVML that fails to load, as pynvml does without libnvidia-ml."""

    def init(self) -> None:
        from greenwatch.collect._nvml import NvmlUnavailable

        raise NvmlUnavailable("NVML Shared Library Not Found")

    def device_count(self) -> int:
        raise AssertionError("not reached")

    def identity(self, index: int) -> Mapping[str, str]:
        raise AssertionError(f"not reached ({index})")

    def read(self, index: int) -> Mapping[str, float | None]:
        raise AssertionError(f"not reached ({index})")

    def shutdown(self) -> None:
        raise AssertionError("not reached")


def test_missing_driver_is_a_health_reason_not_a_crash() -> None:
    with pytest.raises(CollectorError) as err:
        collect_once("nvml", {"name": "cpu-host", "site": "s1"}, nvml=NoDriver())
    assert err.value.reason == "no NVIDIA driver"


def test_real_nvml_binding() -> None:
    """With the real nvidia-ml-py: GPUs where there is a driver, else "no NVIDIA driver"."""
    try:
        batch = collect_once("nvml", {"name": "this-host", "site": "s1"})
    except CollectorError as err:
        reason = err.reason
    else:
        reason = None
    if reason is not None:
        assert reason == "no NVIDIA driver"
        return
    power = batch[batch.metric == "device_power_watts"]
    assert len(power) >= 1
    assert power.value.between(1, 5000).all()
    assert set(batch.device_kind.dropna()) == {"gpu"}

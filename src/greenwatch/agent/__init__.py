"""The edge agent: collectors at a centre, a bounded disk buffer, forwarding to the centre;
and a short GPU matmul check that turns achieved FLOPS into verification records of a pool.

A stage between ``ingest`` and ``store`` in rank: it uses ``collect`` (collectors, scheduler)
and ``ingest`` (line-protocol encoding), never a store — the central server stores.
"""

from typing import TYPE_CHECKING

from greenwatch._lazy import lazy_face
from greenwatch.agent._names import BACKENDS, DEFAULT_SIZES, PRECISIONS

if TYPE_CHECKING:
    from greenwatch.agent._agent import Agent
    from greenwatch.agent._buffer import DiskBuffer
    from greenwatch.agent._config import load_agent_config
    from greenwatch.agent._forward import Forwarder
    from greenwatch.agent._gpubackends import (
        GpuCheckError,
        MatmulBackend,
        NumpyBackend,
    )
    from greenwatch.agent._gpucheck import (
        BENCHMARK,
        GpuCheckResult,
        GpuMeasurement,
        VerificationPostError,
        check_gpus,
        post_verifications,
        run_gpu_check,
        to_verifications,
    )


__all__ = [
    "BACKENDS",
    "BENCHMARK",
    "DEFAULT_SIZES",
    "PRECISIONS",
    "Agent",
    "DiskBuffer",
    "Forwarder",
    "GpuCheckError",
    "GpuCheckResult",
    "GpuMeasurement",
    "MatmulBackend",
    "NumpyBackend",
    "VerificationPostError",
    "check_gpus",
    "load_agent_config",
    "post_verifications",
    "run_gpu_check",
    "to_verifications",
]

__getattr__ = lazy_face(
    __name__, "_agent", "_buffer", "_config", "_forward", "_gpubackends", "_gpucheck"
)

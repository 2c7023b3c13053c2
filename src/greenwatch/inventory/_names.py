"""The inventory's light names: what the command line offers before anything is loaded."""

from __future__ import annotations

from enum import StrEnum

BUILTIN = "national"


class Precision(StrEnum):
    FP64 = "fp64"
    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8 = "fp8"


class ComputeClass(StrEnum):
    """The national classes of computing power: general, AI ("smart") and supercomputing."""

    GENERAL = "general"
    AI = "ai"
    SUPERCOMPUTING = "supercomputing"

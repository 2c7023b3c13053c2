"""Computing resources: device models (the catalogue) and a site's compute pools.

A *pool* is a homogeneous set of devices at a site — CPU sockets, GPUs, NPUs — of one catalogued
model, counted in one of the national classes of computing power: ``general`` and
``supercomputing`` are counted in FP64, ``ai`` in FP16 (:data:`CLASS_PRECISION`). Its rated
peak is ``count x`` the model's per-device dense peak at that precision. The catalogue is
shipped (``data/device-models.yaml``, vendor datasheet figures with their source) and an
inventory may add models under ``device_models:``.

:func:`pool_problems` holds the rules a pool must satisfy beyond its schema (a known model, a
peak at the class's precision, in-service before retired, devices whose rated power fits the
site's IT capacity); the inventory loader and the registration API both use it, so a pool is
judged the same way however it arrives.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from importlib import resources
from typing import Annotated

from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from greenwatch.inventory._names import ComputeClass, Precision
from greenwatch.model import Slug, StrictModel, load_yaml, parse_model

PoolId = Slug
ModelId = Slug
MAX_DEVICES_PER_POOL = 10_000_000
# No single device reaches 100 PFLOPS at any precision; a larger per-device peak is a unit slip.
MAX_DEVICE_FLOPS = 1.0e17


CLASS_PRECISION: Mapping[ComputeClass, Precision] = {
    ComputeClass.GENERAL: Precision.FP64,
    ComputeClass.AI: Precision.FP16,
    ComputeClass.SUPERCOMPUTING: Precision.FP64,
}


class DeviceKind(StrEnum):
    CPU = "cpu"
    GPU = "gpu"
    NPU = "npu"
    FPGA = "fpga"


Flops = Annotated[float, Field(gt=0, le=MAX_DEVICE_FLOPS)]


class DeviceModel(StrictModel):
    """One catalogued device model: per-device dense peak FLOPS by precision, rated power."""

    id: ModelId
    vendor: str = Field(min_length=1)
    kind: DeviceKind
    names: tuple[str, ...] = Field(
        default=(), description="names devices report (NVML, DCGM modelName, Redfish Model)"
    )
    peak_flops: dict[Precision, Flops] = Field(min_length=1)
    rated_power_w: float = Field(gt=0, le=100_000)
    memory_bytes: float | None = Field(default=None, ge=0)
    source: str = Field(min_length=1)

    def matches(self, name: str) -> bool:
        """True when ``name`` (an id or a reported name, any case and spacing) is this model."""
        key = normalise_name(name)
        return key == self.id or key in {normalise_name(n) for n in self.names}


class ComputePool(StrictModel):
    """Devices of one model at a site, counted in one class of computing power."""

    model_config = ConfigDict(populate_by_name=True)

    id: PoolId
    compute_class: ComputeClass = Field(alias="class")
    model: str = Field(min_length=1, description="a catalogue id or a name it lists")
    count: int = Field(ge=1, le=MAX_DEVICES_PER_POOL, description="devices (GPUs, CPU sockets)")
    nodes: int | None = Field(default=None, ge=1, le=MAX_DEVICES_PER_POOL)
    memory_bytes: float | None = Field(default=None, ge=0)
    storage_bytes: float | None = Field(default=None, ge=0)
    in_service: dt.date | None = None
    retired: dt.date | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _nodes_and_dates(self) -> ComputePool:
        if self.nodes is not None and self.nodes > self.count:
            raise ValueError(f"nodes ({self.nodes}) exceeds count ({self.count}) devices")
        if self.in_service and self.retired and self.retired <= self.in_service:
            raise ValueError(f"retired {self.retired} is not after in_service {self.in_service}")
        return self

    def in_service_at(self, day: dt.date) -> bool:
        started = self.in_service is None or self.in_service <= day
        return started and (self.retired is None or day < self.retired)


class Catalogue(StrictModel):
    device_models: tuple[DeviceModel, ...] = Field(min_length=1)
    _index: dict[str, DeviceModel] = PrivateAttr(default_factory=dict)

    def model_post_init(self, _context: object, /) -> None:
        for model in self.device_models:
            for key in (model.id, *model.names):
                self._index.setdefault(normalise_name(key), model)

    def find(self, name: str) -> DeviceModel | None:
        """The model an id or reported name refers to, or None."""
        return self._index.get(normalise_name(name))

    def extended(self, models: Iterable[DeviceModel]) -> Catalogue:
        """This catalogue plus ``models`` (an id already present is replaced)."""
        extra = {m.id: m for m in models}
        kept = [m for m in self.device_models if m.id not in extra]
        return Catalogue(device_models=(*kept, *extra.values()))


def normalise_name(name: str) -> str:
    return " ".join(name.lower().split())


@functools.cache
def builtin_catalogue() -> Catalogue:
    """The shipped device-model catalogue (``inventory/data/device-models.yaml``)."""
    ref = resources.files("greenwatch.inventory") / "data" / "device-models.yaml"
    doc = load_yaml("<builtin>/device-models.yaml", ref.read_text(encoding="utf-8"))
    return parse_model(doc, Catalogue)


def pool_peak_flops(pool: ComputePool, model: DeviceModel) -> float:
    """Rated peak of the whole pool at its class's precision, in FLOPS (0 if the model has none)."""
    return pool.count * model.peak_flops.get(CLASS_PRECISION[pool.compute_class], 0.0)


def pool_problems(
    pool: ComputePool,
    catalogue: Catalogue,
    it_capacity_kw: float,
    site_pools: Sequence[ComputePool] = (),
) -> list[tuple[str, str]]:
    """``(key, problem)`` for every rule ``pool`` breaks; keys are relative to the pool.

    ``site_pools`` are the site's other pools (any with the same id are ignored): their rated
    device power plus this pool's may not exceed the site's IT capacity.
    """
    model = catalogue.find(pool.model)
    if model is None:
        known = ", ".join(m.id for m in catalogue.device_models)
        return [
            (
                "model",
                f"unknown device model {pool.model!r}: add it under device_models (known: {known})",
            )
        ]
    problems: list[tuple[str, str]] = []
    precision = CLASS_PRECISION[pool.compute_class]
    if precision not in model.peak_flops:
        problems.append(
            (
                "class",
                f"class {pool.compute_class.value} is counted in {precision.value}, and "
                f"{model.id} has no {precision.value} peak",
            )
        )
    others = [p for p in site_pools if p.id != pool.id]
    power_kw = pool.count * model.rated_power_w / 1000
    other_kw = sum(
        p.count * m.rated_power_w / 1000
        for p in others
        if (m := catalogue.find(p.model)) is not None
    )
    if power_kw + other_kw > it_capacity_kw:
        problems.append(
            (
                "count",
                f"{pool.count} x {model.id} at {model.rated_power_w:g} W is {power_kw:,.0f} kW"
                f"{f' (site total {power_kw + other_kw:,.0f} kW)' if other_kw else ''}, more "
                f"than the site's IT capacity of {it_capacity_kw:,.0f} kW",
            )
        )
    return problems

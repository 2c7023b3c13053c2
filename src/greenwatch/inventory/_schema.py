"""Typed inventory: sites, devices and links of the national network (DESIGN.md, Inventory).

Every model forbids unknown keys; cross-record rules (unique ids, links to known sites) are
checked after parsing and reported with the file, line and key of the offending value.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from greenwatch.inventory._compute_pools import (
    Catalogue,
    ComputePool,
    DeviceModel,
    builtin_catalogue,
)
from greenwatch.model import Slug, StrictModel

SiteId = Slug
LinkId = Annotated[str, Field(pattern=r"^[a-z0-9]+(-{1,2}[a-z0-9]+)*$", max_length=140)]

HUBS: tuple[str, ...] = (
    "jingjinji",
    "yangtze-delta",
    "greater-bay",
    "chengyu",
    "inner-mongolia",
    "guizhou",
    "gansu",
    "ningxia",
)


class SiteKind(StrEnum):
    HUB_CLUSTER = "hub_cluster"
    SUPERCOMPUTING = "supercomputing"
    AI = "ai"


class Region(StrEnum):
    EAST = "east"
    WEST = "west"


class Location(StrictModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Targets(StrictModel):
    """Targets a site is held to; absent keys are not judged."""

    pue: float | None = Field(default=None, ge=1.0, le=3.0)
    green_energy_share: float | None = Field(default=None, ge=0.0, le=1.0)
    occupancy: float | None = Field(default=None, ge=0.0, le=1.0)


class Device(StrictModel):
    id: str = Field(min_length=1, max_length=128)
    kind: str = Field(min_length=1, description="server, gpu, pdu, meter, switch, ups, chiller")
    hall: str | None = None
    rated_power_w: float | None = Field(default=None, gt=0)


class Site(StrictModel):
    id: SiteId
    name: str = Field(min_length=1)
    kind: SiteKind
    hub: str | None = None
    region: Region
    province: str = Field(min_length=1)
    city: str | None = None
    location: Location
    it_capacity_kw: float = Field(gt=0)
    pue_category: int = Field(default=2, ge=1, le=3)
    targets: Targets = Targets()
    timezone: str = "Asia/Shanghai"
    grid_factor_kg_per_kwh: float | None = Field(default=None, ge=0, le=2)
    source: str | None = Field(default=None, description="where the coordinates/facts come from")
    devices: tuple[Device, ...] = ()
    compute: tuple[ComputePool, ...] = Field(
        default=(), description="computing resources as pools of one device model each"
    )


class Link(StrictModel):
    id: LinkId
    a: SiteId
    b: SiteId
    capacity_bps: float = Field(gt=0)
    distance_km: float | None = Field(default=None, gt=0)


class Inventory(StrictModel):
    sites: tuple[Site, ...] = Field(min_length=1)
    links: tuple[Link, ...] = ()
    device_models: tuple[DeviceModel, ...] = Field(
        default=(), description="device models added to the shipped catalogue"
    )

    def catalogue(self) -> Catalogue:
        """The shipped device-model catalogue plus this inventory's ``device_models``."""
        base = builtin_catalogue()
        return base.extended(self.device_models) if self.device_models else base

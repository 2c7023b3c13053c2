"""Inventory of the national network: sites, devices, links, grid emission factors."""

from typing import TYPE_CHECKING

from greenwatch._lazy import lazy_face
from greenwatch.inventory._names import BUILTIN, ComputeClass, Precision

if TYPE_CHECKING:
    from greenwatch.inventory._compute_pools import (
        CLASS_PRECISION,
        Catalogue,
        ComputePool,
        DeviceKind,
        DeviceModel,
        builtin_catalogue,
        pool_peak_flops,
        pool_problems,
    )
    from greenwatch.inventory._load import (
        GridFactor,
        great_circle_km,
        grid_factors,
        link_distance_km,
        load_inventory,
        site_grid_factor,
    )
    from greenwatch.inventory._schema import (
        HUBS,
        Device,
        Inventory,
        Link,
        Location,
        Region,
        Site,
        SiteKind,
        Targets,
    )
    from greenwatch.inventory._scope import Level, Scope, ScopeError


__all__ = [
    "BUILTIN",
    "CLASS_PRECISION",
    "HUBS",
    "Catalogue",
    "ComputeClass",
    "ComputePool",
    "Device",
    "DeviceKind",
    "DeviceModel",
    "GridFactor",
    "Inventory",
    "Level",
    "Link",
    "Location",
    "Precision",
    "Region",
    "Scope",
    "ScopeError",
    "Site",
    "SiteKind",
    "Targets",
    "builtin_catalogue",
    "great_circle_km",
    "grid_factors",
    "link_distance_km",
    "load_inventory",
    "pool_peak_flops",
    "pool_problems",
    "site_grid_factor",
]

__getattr__ = lazy_face(__name__, "_compute_pools", "_load", "_schema", "_scope")

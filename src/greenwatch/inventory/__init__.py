"""Inventory of the national network: sites, devices, links, grid emission factors."""

from greenwatch.inventory._load import (
    BUILTIN,
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

__all__ = [
    "BUILTIN",
    "HUBS",
    "Device",
    "GridFactor",
    "Inventory",
    "Link",
    "Location",
    "Region",
    "Site",
    "SiteKind",
    "Targets",
    "great_circle_km",
    "grid_factors",
    "link_distance_km",
    "load_inventory",
    "site_grid_factor",
]

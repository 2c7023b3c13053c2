"""Loading and cross-checking an inventory, and the provincial grid emission factors."""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from greenwatch.inventory._compute_pools import pool_problems
from greenwatch.inventory._names import BUILTIN
from greenwatch.inventory._schema import HUBS, Inventory, Link, Site
from greenwatch.model import ConfigError, YamlDocument, load_yaml, parse_model

EARTH_RADIUS_KM = 6371.0088
NATIONAL_FACTOR_2023 = 0.5306


def _cross_check(doc: YamlDocument, inv: Inventory) -> None:
    problems: list[tuple[int | None, str, str]] = []
    seen: dict[str, int] = {}
    for i, site in enumerate(inv.sites):
        if site.id in seen:
            loc = ("sites", i, "id")
            problems.append((doc.line_of(loc), f"sites[{i}].id", f"duplicate site id {site.id!r}"))
        seen.setdefault(site.id, i)
        if site.hub is not None and site.hub not in HUBS:
            problems.append(
                (
                    doc.line_of(("sites", i, "hub")),
                    f"sites[{i}].hub",
                    f"unknown hub {site.hub!r} (one of {', '.join(HUBS)})",
                )
            )
    link_ids: set[str] = set()
    for i, link in enumerate(inv.links):
        if link.id in link_ids:
            loc = ("links", i, "id")
            problems.append((doc.line_of(loc), f"links[{i}].id", f"duplicate link id {link.id!r}"))
        link_ids.add(link.id)
        for end in ("a", "b"):
            site_id = getattr(link, end)
            if site_id not in seen:
                problems.append(
                    (
                        doc.line_of(("links", i, end)),
                        f"links[{i}].{end}",
                        f"unknown site {site_id!r}",
                    )
                )
        if link.a == link.b:
            problems.append((doc.line_of(("links", i)), f"links[{i}]", "a link joins two sites"))
    problems += _compute_problems(doc, inv)
    if problems:
        raise ConfigError(doc.source, problems)


def _compute_problems(doc: YamlDocument, inv: Inventory) -> list[tuple[int | None, str, str]]:
    catalogue = inv.catalogue()
    problems: list[tuple[int | None, str, str]] = []
    for i, site in enumerate(inv.sites):
        ids: set[str] = set()
        for j, pool in enumerate(site.compute):
            where = ("sites", i, "compute", j)
            if pool.id in ids:
                problems.append(
                    (
                        doc.line_of((*where, "id")),
                        f"sites[{i}].compute[{j}].id",
                        f"duplicate pool id {pool.id!r} at site {site.id}",
                    )
                )
            ids.add(pool.id)
            for key, problem in pool_problems(
                pool, catalogue, site.it_capacity_kw, site.compute[:j]
            ):
                line = doc.line_of((*where, key))
                problems.append((line, f"sites[{i}].compute[{j}].{key}", problem))
    return problems


def load_inventory(path: str | Path | None = None) -> Inventory:
    """Load and validate an inventory file; ``None`` loads the built-in national network.

    Raises :class:`ConfigError` naming file, line and key for every problem found.
    """
    if path is None or str(path) == BUILTIN:
        ref = resources.files("greenwatch.inventory") / "data" / "national.yaml"
        doc = load_yaml("<builtin>/national.yaml", ref.read_text(encoding="utf-8"))
    else:
        doc = load_yaml(path)
    inv = parse_model(doc, Inventory)
    _cross_check(doc, inv)
    return inv


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance between two points on the mean Earth sphere, in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def link_distance_km(inv: Inventory, link: Link) -> float:
    """The link's declared distance, else the great-circle distance between its sites."""
    if link.distance_km is not None:
        return link.distance_km
    sites = {s.id: s for s in inv.sites}
    a, b = sites[link.a].location, sites[link.b].location
    return great_circle_km(a.lat, a.lon, b.lat, b.lon)


@dataclass(frozen=True)
class GridFactor:
    """An electricity emission factor in kgCO2/kWh, with its year, source and region."""

    kg_per_kwh: float
    year: int
    source: str
    region: str = ""

    def __post_init__(self) -> None:
        if not self.kg_per_kwh >= 0:
            raise ValueError(f"emission factor must be >= 0 kgCO2/kWh, got {self.kg_per_kwh}")


@functools.cache
def _builtin_factors() -> str:
    """The shipped factor table, read once per process (every KPI query needs it)."""
    return (resources.files("greenwatch.inventory") / "data" / "grid-factors.csv").read_text(
        encoding="utf-8"
    )


def grid_factors(path: str | Path | None = None) -> dict[str, GridFactor]:
    """Provincial grid emission factors by province name (default: MEE 2023 table).

    A CSV given by ``path`` (columns province, kgco2_per_kwh, year, source) overrides them.
    """
    if path is None:
        text, source = _builtin_factors(), "<builtin>/grid-factors.csv"
    else:
        source = str(path)
        text = Path(path).read_text(encoding="utf-8")
    out: dict[str, GridFactor] = {}
    for n, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            out[row["province"]] = GridFactor(
                float(row["kgco2_per_kwh"]),
                int(row["year"]),
                row.get("source") or source,
                row["province"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(source, [(n, "", f"bad grid factor row: {exc}")]) from exc
    return out


def site_grid_factor(site: Site, factors: dict[str, GridFactor]) -> GridFactor:
    """The factor that applies to a site: its override, its province's, else the national one."""
    if site.grid_factor_kg_per_kwh is not None:
        return GridFactor(
            site.grid_factor_kg_per_kwh, 0, f"inventory override for {site.id}", site.province
        )
    return factors.get(
        site.province,
        GridFactor(NATIONAL_FACTOR_2023, 2023, "MEE/NBS 2023 national average (fallback)", "CN"),
    )

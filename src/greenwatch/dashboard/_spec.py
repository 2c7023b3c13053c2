"""Dashboard definitions: pages and panels declared in YAML (top-level ``dashboards/``).

A page is a grid of panels (12 columns); a panel is a figure (a KPI, a trend of KPIs computed
as ratios of sums per step, or a store query) with a chart type and thresholds, or one of the
built-in widgets (map, link graph, power breakdown…). Every model forbids unknown keys, so a
typo in a file stops ``greenwatch serve`` with the file, line and key named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    IPvAnyNetwork,
    ValidationError,
    model_validator,
)

from greenwatch.inventory import Scope, ScopeError
from greenwatch.model import (
    ConfigError,
    MetricName,
    Slug,
    StrictModel,
    YamlDocument,
    load_yaml,
    parse_model,
)

Loc = tuple[str | int, ...]

Colour = Annotated[str, Field(pattern=r"^(ok|warn|bad|info|muted|#[0-9a-fA-F]{6})$")]
# KPIs a stat tile shows (greenwatch.query.KPIS plus the two figures the query layer does not
# name: green share, which is REF, and occupancy).
StatKpi = Literal[
    "pue",
    "dcie",
    "ppue",
    "wue",
    "cue",
    "ref",
    "erf",
    "ere",
    "carbon",
    "it_energy",
    "green_share",
    "occupancy",
]
# KPIs that a trend computes per step as a ratio of summed energies (or water, CO2).
TrendKpi = Literal["pue", "ppue", "wue", "cue", "ref"]
RollupKpi = Literal["pue", "wue", "cue", "ref", "erf"]
# Classes of computing power (greenwatch.inventory.ComputeClass); each counted in its precision.
ComputeClassName = Literal["ai", "general", "supercomputing"]
ComputeFigure = Literal[
    "rated",
    "available",
    "delivered",
    "free",
    "flops_per_watt",
    "kwh_per_pflop_hour",
    "kg_co2_per_pflop_hour",
    "west_share",
]
SETTINGS_FILE = "settings.yaml"


class Threshold(StrictModel):
    """A line on a chart, or a colour band of a tile: ``value`` or the scope's own ``target``."""

    value: float | Literal["target"]
    colour: Colour = "bad"
    label: str | None = None


class _Panel(StrictModel):
    id: Slug
    title: str = Field(min_length=1)
    width: int = Field(default=4, ge=1, le=12, description="grid columns out of 12")
    height: int = Field(default=320, ge=80, le=1600, description="pixels, for charts")
    note: str | None = None


def _panel_scope(text: str) -> str:
    """A panel's scope, checked when the file loads: ``page``, ``site`` (the page's site) or a
    :class:`~greenwatch.inventory.Scope` (``national``, ``hub:ID`` …)."""
    if text not in ("page", "site"):
        try:
            Scope.parse_syntax(text)
        except ScopeError as exc:
            raise ValueError(str(exc)) from None
    return text


PanelScope = Annotated[str, AfterValidator(_panel_scope)]


class StatPanel(_Panel):
    """One figure with its coverage: a KPI for a scope over the selected period."""

    type: Literal["stat"]
    kpi: StatKpi
    scope: PanelScope = Field(
        default="page", description="page, national, site, site:ID, hub:ID, region:ID, kind:ID"
    )
    basis: Literal["location", "market"] = "location"
    thresholds: tuple[Threshold, ...] = ()
    better: Literal["lower", "higher"] = "lower"
    width: int = Field(default=2, ge=1, le=12)


class TrendPanel(_Panel):
    """KPIs per step (hourly for a day or more) as ratios of summed totals, vs thresholds."""

    type: Literal["trend"]
    kpis: tuple[TrendKpi, ...] = Field(min_length=1)
    scope: PanelScope = "page"
    thresholds: tuple[Threshold, ...] = ()
    by: Literal["region", "hub", "kind"] | None = Field(
        default=None, description="one line per group instead of one for the scope"
    )


class Query(StrictModel):
    """A store query: aggregation pushed down per step, one line per value of ``by``."""

    metric: MetricName
    labels: dict[str, str | tuple[str, ...]] = Field(default_factory=dict)
    agg: Literal["mean", "min", "max", "sum", "last", "increase", "integral"] = "mean"
    by: str | None = None
    combine: Literal["sum", "mean"] = Field(
        default="sum", description="how series are merged into one line per value of ``by``"
    )
    rate: bool = Field(default=False, description="divide by the step in seconds (J -> W)")
    scale: float = 1.0
    unit: str = ""


class TimeseriesPanel(_Panel):
    """Any canonical metric over time; on a site page the site's own series."""

    type: Literal["timeseries"]
    query: Query
    chart: Literal["line", "area", "stacked", "bar"] = "line"
    thresholds: tuple[Threshold, ...] = ()
    empty: str = "no data for this scope and period"


class ComparePanel(_Panel):
    """KPIs of groups (east vs west, hubs, site kinds) as ratios of summed totals."""

    type: Literal["compare"]
    level: Literal["region", "hub", "kind"] = "region"
    kpis: tuple[RollupKpi, ...] = ("pue", "ref")


class MarkdownPanel(_Panel):
    type: Literal["markdown"]
    text: str


class RankingPanel(_Panel):
    """Sites furthest above their PUE target."""

    type: Literal["ranking"]
    limit: int = Field(default=10, ge=1, le=100)


class PlacementPanel(_Panel):
    """Carbon-aware placement hints for a workload started at the page's site.

    With ``class`` the table shows each site's free computing power of that class, and with
    ``workload_pflops`` too a site fits only where that much is free.
    """

    type: Literal["placement"]
    workload_it_kwh: float = Field(default=1000.0, gt=0)
    workload_kw: float | None = Field(default=500.0, gt=0)
    compute_class: ComputeClassName | None = Field(default=None, alias="class")
    workload_pflops: float | None = Field(default=None, gt=0)
    movement_kg_per_km: float = Field(default=0.0, ge=0)
    limit: int = Field(default=8, ge=1, le=100)

    @model_validator(mode="after")
    def _pflops_of_a_class(self) -> PlacementPanel:
        if self.workload_pflops is not None and self.compute_class is None:
            raise ValueError("workload_pflops needs the class of computing power it runs in")
        return self


class ComputeStatPanel(_Panel):
    """One computing-power figure of a class for a scope over the period, with its coverage
    (``west_share`` is the nation's whatever the scope)."""

    type: Literal["compute_stat"]
    figure: ComputeFigure
    compute_class: ComputeClassName = Field(alias="class")
    scope: str = Field(
        default="page",
        pattern=r"^(page|national|site|(site|hub|region):[a-z0-9-]+)$",
        description="page, national, site (the page's), site:ID, hub:ID, region:ID",
    )
    width: int = Field(default=2, ge=1, le=12)


class ComputeTablePanel(_Panel):
    """Computing power per site, hub or region and class; per pool with ``level: pool``."""

    type: Literal["compute_table"]
    level: Literal["site", "hub", "region", "pool"] = "site"
    classes: tuple[ComputeClassName, ...] = Field(
        default=("ai", "general", "supercomputing"), min_length=1
    )
    width: int = Field(default=12, ge=1, le=12)


class ComputeFindingsPanel(_Panel):
    """Registered devices the collectors do not see (or more), and pools not verified."""

    type: Literal["compute_findings"]
    verification: tuple[Literal["failed", "stale", "never"], ...] = ("failed", "stale", "never")
    limit: int = Field(default=20, ge=1, le=500, description="rows per table")


class ComputeChartPanel(_Panel):
    """Rated vs available computing power per hub, region or site, one chart per class."""

    type: Literal["compute_chart"]
    level: Literal["site", "hub", "region"] = "hub"
    classes: tuple[ComputeClassName, ...] = Field(
        default=("ai", "general", "supercomputing"), min_length=1
    )


class SubmeterPanel(_Panel):
    """Energy conservation below the facility meter (metrics.submeter_findings)."""

    type: Literal["submeter"]
    tolerance: float = Field(
        default=0.1, ge=0, le=1, description="UPS losses and lighting are not sub-metered"
    )


class CoverageGapsPanel(_Panel):
    type: Literal["coverage_gaps"]
    below: float = Field(default=0.95, gt=0, le=1, description="hours under this coverage")


class WidgetPanel(_Panel):
    """Built-in widgets that need no parameters beyond the page's scope and period."""

    type: Literal[
        "site_map",
        "site_table",
        "link_map",
        "link_graph",
        "link_table",
        "link_history",
        "power_breakdown",
        "device_table",
        "site_facts",
        "site_links",
        "alerts",
        "reports",
        "ingest_boundary",
    ]


Panel = Annotated[
    StatPanel
    | TrendPanel
    | TimeseriesPanel
    | ComparePanel
    | MarkdownPanel
    | RankingPanel
    | PlacementPanel
    | ComputeStatPanel
    | ComputeTablePanel
    | ComputeFindingsPanel
    | ComputeChartPanel
    | SubmeterPanel
    | CoverageGapsPanel
    | WidgetPanel,
    Field(discriminator="type"),
]
GRAPH_TYPES = frozenset(
    {"trend", "timeseries", "compare", "site_map", "link_map", "link_graph", "link_history"}
    | {"power_breakdown", "ranking", "compute_chart"}
)
TILE_TYPES = frozenset({"stat", "compute_stat"})


class Page(StrictModel):
    """A page: a title, a URL path, a scope and a grid of panels."""

    id: Slug
    title: str = Field(min_length=1)
    path: str = Field(pattern=r"^/([a-z0-9-]+)?$")
    scope: Literal["national", "site"] = "national"
    nav: bool = True
    order: int = 100
    panels: tuple[Panel, ...] = Field(min_length=1)


class MapSettings(StrictModel):
    """How the national maps draw: offline topojson, and an optional approved boundary layer."""

    boundaries: Path | None = Field(
        default=None, description="GeoJSON of an approved standard map, drawn as lines"
    )
    boundaries_colour: Colour = "#8a8f98"
    show_countries: bool = Field(
        default=False, description="topojson country borders; off: coastlines and sites only"
    )
    resolution: Literal[50, 110] = 50


class AuthSettings(StrictModel):
    """Who may see the dashboard and who may acknowledge or silence alerts."""

    users_file: Path | None = Field(default=None, description="YAML of users, scrypt hashes")
    proxy_header: str | None = Field(
        default=None,
        description="reverse-proxy header naming the user, e.g. X-Forwarded-User; believed "
        "only from trusted_proxies",
    )
    trusted_proxies: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        description="addresses (CIDRs) of the reverse proxies whose proxy_header, "
        "X-Forwarded-For and X-Forwarded-Proto are believed",
    )
    proxy_default_role: Literal["viewer", "operator"] = "viewer"
    anonymous_role: Literal["viewer", "operator"] | None = Field(
        default=None,
        description="role when neither users_file nor proxy_header is set; default (and the "
        "most it can be off loopback): operator when serving on 127.0.0.1, ::1 or localhost, "
        "else viewer",
    )
    secure_cookie: bool | None = Field(
        default=None,
        description="Secure cookies; default: when the request came over TLS (directly, or "
        "X-Forwarded-Proto: https from a trusted proxy)",
    )
    login_failures: int = Field(
        default=5, ge=1, le=1000, description="failed logins per user, and per client, ..."
    )
    login_window_s: int = Field(
        default=900, ge=1, description="... within this many seconds, before 429"
    )

    @model_validator(mode="after")
    def _proxies_for_header(self) -> AuthSettings:
        if self.proxy_header and not self.trusted_proxies:
            raise ValueError("proxy_header needs trusted_proxies (the proxies' CIDRs)")
        return self


class Settings(StrictModel):
    title: str = "greenwatch"
    subtitle: str = "national computing-power network"
    refresh_s: int = Field(default=30, ge=5, le=3600)
    periods: tuple[Annotated[str, Field(pattern=r"^[0-9]+[hd]$")], ...] = ("6h", "24h", "7d", "30d")
    default_period: str = "24h"
    map: MapSettings = MapSettings()
    auth: AuthSettings = AuthSettings()

    @model_validator(mode="after")
    def _default_listed(self) -> Settings:
        if self.default_period not in self.periods:
            raise ValueError(f"default_period {self.default_period!r} is not one of periods")
        return self


class Dashboards(StrictModel):
    """Everything ``dashboards/`` declares: settings and pages in menu order."""

    settings: Settings
    pages: tuple[Page, ...]
    directory: Path

    def page_for(self, path: str) -> tuple[Page, str | None]:
        """The page a URL path shows and the site it names (``/site/ID``); else the first."""
        head, _, rest = path.strip("/").partition("/")
        for page in self.pages:
            if page.path.strip("/") == head:
                return page, (rest or None) if page.scope == "site" else None
        return self.pages[0], None


def _resolve(base: Path, path: Path | None) -> Path | None:
    return None if path is None else (path if path.is_absolute() else base / path)


def _check_file_exists(doc: YamlDocument, loc: tuple[str, ...], path: Path | None) -> None:
    if path is not None and not path.is_file():
        raise ConfigError(doc.source, [(doc.line_of(loc), ".".join(loc), f"no file {path}")])


def load_settings(directory: Path) -> Settings:
    """``settings.yaml`` of a dashboards directory (defaults when absent); paths made absolute."""
    path = directory / SETTINGS_FILE
    if not path.is_file():
        return Settings()
    doc = load_yaml(path)
    settings = parse_model(doc, Settings) if doc.data is not None else Settings()
    boundaries = _resolve(directory, settings.map.boundaries)
    users = _resolve(directory, settings.auth.users_file)
    _check_file_exists(doc, ("map", "boundaries"), boundaries)
    _check_file_exists(doc, ("auth", "users_file"), users)
    return settings.model_copy(
        update={
            "map": settings.map.model_copy(update={"boundaries": boundaries}),
            "auth": settings.auth.model_copy(update={"users_file": users}),
        }
    )


def _where(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_page(doc: YamlDocument) -> Page:
    """A page from its YAML; every problem names the line and key as the operator wrote them.

    Pydantic puts a panel's ``type`` into error locations (``panels[0].stat.kpi``); those are
    taken out, and an unknown ``type`` points at the ``type`` key.
    """
    try:
        page = Page.model_validate(doc.data)
    except ValidationError as exc:
        problems: list[tuple[int | None, str, str]] = []
        for err in exc.errors():
            loc: Loc = tuple(err["loc"])
            if len(loc) > 2 and loc[0] == "panels" and isinstance(loc[1], int):
                loc = (*loc[:2], *loc[3:])
            if err["type"] == "union_tag_invalid":
                loc = (*loc, "type")
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append((doc.line_of(loc), _where(loc), message))
        raise ConfigError(doc.source, problems) from None
    seen: set[str] = set()
    for i, panel in enumerate(page.panels):
        if panel.id in seen:
            loc = ("panels", i, "id")
            message = f"panel id {panel.id!r} is used twice on this page"
            raise ConfigError(doc.source, [(doc.line_of(loc), _where(loc), message)])
        seen.add(panel.id)
    return page


def load_dashboards(directory: Path) -> Dashboards:
    """Validate every page file (``*.yaml`` but settings) of ``directory``.

    Raises :class:`ConfigError` naming the file, line and key of the first bad file, or of a
    page id or path used twice.
    """
    settings = load_settings(directory)
    pages: list[tuple[Page, YamlDocument]] = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name == SETTINGS_FILE:
            continue
        doc = load_yaml(path)
        pages.append((parse_page(doc), doc))
    if not pages:
        raise ConfigError(str(directory), [(None, "", "no page definitions (*.yaml) found")])
    for key in ("id", "path"):
        seen: dict[str, str] = {}
        for page, doc in pages:
            value = getattr(page, key)
            if value in seen:
                raise ConfigError(
                    doc.source,
                    [(doc.line_of((key,)), key, f"{value!r} is already used by {seen[value]}")],
                )
            seen[value] = doc.source
    ordered = sorted((p for p, _ in pages), key=lambda p: (p.order, p.id))
    return Dashboards(settings=settings, pages=tuple(ordered), directory=directory)

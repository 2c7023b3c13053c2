"""The series the simulator emits: one row per series (metric, labels, source quantity, noise).

Each series reads one row of a quantity matrix (a site's or a link's), scaled; gauges get
meter noise, counters integrate the (noiseless) rate. Label values are stored as codes into
fixed categories, so a batch's label columns are cheap pandas Categoricals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from greenwatch.model import REGISTRY
from greenwatch.simulate._links import LinkParams
from greenwatch.simulate._random import F64, keys_array, uniform
from greenwatch.simulate._sites import SiteParams, Span

JOULES_PER_GWH = 3.6e12
_METERS = (
    ("facility", "p_facility"),
    ("it_ups_output", "p_ups"),
    ("it_pdu_output", "p_pdu"),
    ("it_input", "p_it"),
    ("cooling", "p_cooling"),
)
_METER_NOISE = 0.005
_FLAKY_SHARE = 0.1  # share of counters whose meter resets now and then


@dataclass
class _Rows:
    metric: list[str] = field(default_factory=list)
    labels: list[dict[str, str]] = field(default_factory=list)
    domain: list[str] = field(default_factory=list)  # "site" or "link"
    quantity: list[str] = field(default_factory=list)
    entity: list[int] = field(default_factory=list)
    site: list[int] = field(default_factory=list)
    rel: list[float] = field(default_factory=list)
    abs: list[float] = field(default_factory=list)
    devices: dict[int, tuple[Span, ...]] = field(default_factory=dict)  # by position

    def add(
        self,
        metric: str,
        labels: dict[str, str],
        quantity: str,
        entity: int,
        site: int,
        *,
        domain: str = "site",
        rel: float = 0.0,
        abs_: float = 0.0,
    ) -> None:
        self.metric.append(metric)
        self.labels.append(labels)
        self.domain.append(domain)
        self.quantity.append(quantity)
        self.entity.append(entity)
        self.site.append(site)
        self.rel.append(rel)
        self.abs.append(abs_)


@dataclass(frozen=True)
class Group:
    """Series that read the same quantity matrix: positions in the catalogue, entity rows."""

    domain: str
    quantity: str
    positions: NDArray[np.intp]
    entities: NDArray[np.intp]


@dataclass(frozen=True)
class Catalogue:
    """Every series, as parallel arrays (catalogue order = order within each timestamp)."""

    names: tuple[str, ...]
    # Per batch column (metric, site, then the other labels sorted): a code per series into
    # the column's categories (-1: label absent).
    codes: dict[str, NDArray[np.signedinteger]]
    categories: dict[str, tuple[str, ...]]
    site: NDArray[np.intp]
    link: NDArray[np.intp]  # link index of link series, -1 for site series
    latency: NDArray[np.bool_]  # link probe latency (absent while the link is down)
    groups: tuple[Group, ...]
    counters: NDArray[np.intp]  # positions of counter series
    noisy: NDArray[np.intp]  # positions of gauges with meter noise
    rel_noise: F64  # over ``noisy``
    abs_noise: F64  # over ``noisy``
    lo: F64
    hi: F64
    keys: NDArray[np.uint64]
    facility_meter: NDArray[np.bool_]
    joule_counter: NDArray[np.bool_]  # over ``counters``
    offsets: F64  # initial counter values, over ``counters``
    flaky: NDArray[np.intp]  # indices into ``counters`` of meters that reset now and then
    # compute_devices series: position -> the pools' (devices, in service from, until) spans;
    # their quantity is the share of devices collectors see.
    devices: dict[int, tuple[Span, ...]]

    @property
    def n(self) -> int:
        return len(self.names)


def _site_rows(rows: _Rows, sites: SiteParams) -> None:
    for i in range(sites.n):
        meters = list(_METERS)
        if sites.pv_w[i] > 0:
            meters.append(("renewable_onsite", "p_pv"))
        for meter, q in meters:
            rows.add("power_watts", {"meter": meter}, q, i, i, rel=_METER_NOISE)
        for meter, q in meters:
            rows.add("energy_joules_total", {"meter": meter}, q, i, i)
        rows.add("water_litres_total", {"meter": "site_inflow"}, "w_site", i, i)
        rows.add("water_litres_total", {"meter": "cooling"}, "w_cooling", i, i)
        if sites.pv_w[i] > 0:
            rows.add("green_energy_joules_total", {"instrument": "onsite"}, "p_pv", i, i)
        rows.add("green_energy_joules_total", {"instrument": "ppa"}, "p_ppa", i, i)
        if sites.reuse[i] > 0:
            rows.add("reused_energy_joules_total", {}, "p_reuse", i, i)
        resources = ["cpu", "gpu"] if sites.has_gpu[i] else ["cpu"]
        for res in resources:
            rows.add("utilisation_ratio", {"resource": res}, f"u_{res}", i, i, abs_=0.01)
        rows.add("utilisation_ratio", {"resource": "storage"}, "u_storage", i, i, abs_=0.0005)
        rows.add("utilisation_ratio", {"resource": "it_capacity"}, "u_it_capacity", i, i, rel=0.005)
        rows.add("temperature_celsius", {"sensor": "outdoor"}, "t_out", i, i, abs_=0.1)
        rows.add("temperature_celsius", {"sensor": "supply_air"}, "t_supply", i, i, abs_=0.05)
        for kind, model, spans in sites.devices[i]:
            seen = "seen_cpus" if kind == "cpu" else "seen_accelerators"
            rows.devices[len(rows.metric)] = spans
            rows.add("compute_devices", {"device_kind": kind, "model": model}, seen, i, i)


def _link_rows(rows: _Rows, links: LinkParams) -> None:
    for j in range(links.n):
        wan = {"link": links.ids[j], "interface": "wan0"}
        site = int(links.site[j])
        for metric, q in (
            ("link_transmit_bytes_total", "tx_rate"),
            ("link_receive_bytes_total", "rx_rate"),
            ("link_capacity_bits_per_second", "capacity"),
            ("link_up", "up"),
        ):
            rows.add(metric, wan, q, j, site, domain="link")
        probe = {"link": links.ids[j]}
        rows.add("link_latency_seconds", probe, "latency", j, site, domain="link")
        rows.add("link_loss_ratio", probe, "loss", j, site, domain="link")


def _codes(values: list[str | None]) -> tuple[NDArray[np.signedinteger], tuple[str, ...]]:
    """Codes into sorted categories, in the smallest type pandas would pick itself."""
    cats = tuple(sorted({v for v in values if v is not None}))
    index = {c: k for k, c in enumerate(cats)}
    dtype = np.int8 if len(cats) < 127 else np.int16 if len(cats) < 32_000 else np.int32
    codes: NDArray[np.signedinteger] = np.array(
        [-1 if v is None else index[v] for v in values], dtype=dtype
    )
    return codes, cats


def _offset(metric: str, u: float) -> float:
    unit = REGISTRY[metric].unit
    if unit == "joules":
        return (1.0 + 4.0 * u) * JOULES_PER_GWH
    if unit == "litres":
        return float(1e6 * 10.0 ** (1.7 * u))
    return float(1e12 * 10.0 ** (3.0 * u))


def build_catalogue(sites: SiteParams, links: LinkParams, seed: int) -> Catalogue:
    """The series of a network, in a fixed order: per site, then per link."""
    rows = _Rows()
    _site_rows(rows, sites)
    _link_rows(rows, links)
    names = [
        m
        + "{"
        + ",".join(f'{k}="{v}"' for k, v in sorted({"site": sites.ids[s], **lab}.items()))
        + "}"
        for m, lab, s in zip(rows.metric, rows.labels, rows.site, strict=True)
    ]
    columns: dict[str, list[str | None]] = {
        "metric": list(rows.metric),
        "site": [sites.ids[s] for s in rows.site],
    }
    for name in sorted({k for lab in rows.labels for k in lab}):
        columns[name] = [lab.get(name) for lab in rows.labels]
    coded = {name: _codes(values) for name, values in columns.items()}

    groups = []
    pairs = sorted({(d, q) for d, q in zip(rows.domain, rows.quantity, strict=True)})
    domain, quantity = np.array(rows.domain), np.array(rows.quantity)
    for d, q in pairs:
        pos = np.flatnonzero((domain == d) & (quantity == q))
        groups.append(Group(d, q, pos, np.array(rows.entity, dtype=np.intp)[pos]))

    specs = [REGISTRY[m] for m in rows.metric]
    is_counter = np.array([s.is_counter for s in specs])
    counters = np.flatnonzero(is_counter)
    rel, abs_ = np.array(rows.rel), np.array(rows.abs)
    noisy = np.flatnonzero(~is_counter & ((rel > 0) | (abs_ > 0)))
    keys = keys_array(seed, names, "series")
    u = uniform(keys_array(seed, names, "offset"))
    flaky_u = uniform(keys_array(seed, names, "flaky"))[counters]
    return Catalogue(
        names=tuple(names),
        codes={name: c for name, (c, _) in coded.items()},
        categories={name: cats for name, (_, cats) in coded.items()},
        site=np.array(rows.site, dtype=np.intp),
        link=np.where(domain == "link", np.array(rows.entity, dtype=np.intp), -1),
        latency=np.array([m == "link_latency_seconds" for m in rows.metric], dtype=bool),
        groups=tuple(groups),
        counters=counters,
        noisy=noisy,
        rel_noise=rel[noisy],
        abs_noise=abs_[noisy],
        lo=np.array([-np.inf if s.minimum is None else s.minimum for s in specs]),
        hi=np.array([np.inf if s.maximum is None else s.maximum for s in specs]),
        keys=keys,
        facility_meter=np.array(
            [
                m in ("power_watts", "energy_joules_total") and lab.get("meter") == "facility"
                for m, lab in zip(rows.metric, rows.labels, strict=True)
            ]
        ),
        joule_counter=np.array([specs[k].unit == "joules" for k in counters], dtype=bool),
        offsets=np.array([_offset(rows.metric[k], float(u[k])) for k in counters]),
        flaky=np.flatnonzero(flaky_u < _FLAKY_SHARE),
        devices=dict(rows.devices),
    )

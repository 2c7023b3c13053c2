"""Physics of a computing centre: IT load, power chain, cooling, water, sun, heat reuse.

Every quantity is a (sites, times) matrix in base units (W, L/s, °C, ratio 0..1), computed
from per-site parameters drawn once from the seed and the site id, and from the sample times.

The power chain (ISO/IEC 30134-2 metering points): IT equipment input (category 3) <- PDU
output (category 2, + cable/PSU-side losses) <- UPS output (category 1, + distribution and PDU
losses) <- facility input (+ UPS losses + cooling + lighting/other). Cooling takes the heat of
IT and UPS losses: free cooling when the wet-bulb temperature is low (dry and cold north and
west), chillers whose COP falls as it gets hot and humid (south) otherwise.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from greenwatch.inventory import Catalogue, Inventory, Region, Site, SiteKind
from greenwatch.simulate._climate import (
    DAY_NS,
    hour_angle,
    outdoor_temperature,
    site_climate,
    solar_elevation_sin,
    wet_bulb,
)
from greenwatch.simulate._random import (
    F64,
    I64,
    Draws,
    block_process,
    keys_array,
    smooth_noise,
)

_HOUR_NS = 3600 * 10**9
_FAN_SHARE = 0.07  # CRAH fans and pumps, per unit heat, whatever the cooling mode
_FREE_COOLING_BAND = 8.0  # °C of wet bulb over which free cooling fades out
_FAILURE_EXTRA = 0.08  # stand-by DX cooling during a chiller failure, per unit heat
_SUPPLY_RISE = 6.0  # °C supply-air rise a chiller failure settles at
_SUPPLY_TAU_S = 900.0
Span = tuple[int, int, int]  # devices, in service from, until (ns, half-open)
Devices = tuple[str, str, tuple[Span, ...]]  # device_kind, reported model name, spans
DEVICE_LOSS = 1.0 / 16.0  # one node in sixteen out of service during a device_loss


@dataclass(frozen=True)
class SiteParams:
    """Per-site constants (arrays over sites, inventory order)."""

    ids: tuple[str, ...]
    lat: F64
    lon: F64
    utc_offset_h: F64
    rated_w: F64
    mean_load: F64  # mean IT input / rated IT capacity
    idle: F64  # share of IT power drawn at zero utilisation
    cpu_base: F64
    day_amp: F64
    weekend: F64  # weekend level of CPU demand (1 = no weekly cycle)
    gpu_weight: F64  # share of IT power that follows GPU (jobs) rather than CPU
    job_p: F64
    has_gpu: NDArray[np.bool_]
    # Devices of the site's pools as collectors would report them, per (device_kind, reported
    # model name), with each pool's count and service span.
    devices: tuple[tuple[Devices, ...], ...]
    pdu_loss: F64
    dist_loss: F64
    ups_loss: F64
    other: F64
    cool_eff: F64
    free_cooling_wb: F64  # wet bulb (°C) below which cooling is fully free
    evap_l_per_kwh: F64
    setpoint: F64
    jan: F64
    jul: F64
    humid: F64
    diurnal_t: F64
    weather_sd: F64
    pv_w: F64  # 0: no on-site PV
    ppa_share: F64
    reuse: F64  # 0: no heat reuse
    storage: F64
    keys: dict[str, NDArray[np.uint64]]

    @property
    def n(self) -> int:
        return len(self.ids)


def _utc_offset_hours(site: Site) -> float:
    # Fixed offset: the national network lies in Asia/Shanghai, which has no daylight saving.
    offset = dt.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo(site.timezone)).utcoffset()
    return offset.total_seconds() / 3600.0 if offset is not None else 0.0


def _devices(site: Site, catalogue: Catalogue) -> tuple[Devices, ...]:
    """Per (device kind, reported model name): the pools' counts with their service spans."""
    spans: dict[tuple[str, str], list[Span]] = {}
    for pool in site.compute:
        model = catalogue.find(pool.model)
        if model is not None:
            key = (model.kind.value, model.names[0] if model.names else model.id)
            spans.setdefault(key, []).append(
                (pool.count, _day_ns(pool.in_service, -(2**62)), _day_ns(pool.retired, 2**62))
            )
    return tuple((kind, name, tuple(spans[kind, name])) for kind, name in sorted(spans))


def _day_ns(day: dt.date | None, default: int) -> int:
    """Nanoseconds of 00:00 UTC of ``day`` (the day pools enter and leave service)."""
    return default if day is None else int(pd.Timestamp(day, tz="UTC").value)


def _one_site(site: Site, seed: int, accelerated: bool) -> dict[str, float]:
    rng = Draws(seed, "site-params", site.id)
    lat, lon = site.location.lat, site.location.lon
    jan, jul, humid = site_climate(lat, lon)
    kind, west = site.kind, site.region is Region.WEST
    hub, ai = kind is SiteKind.HUB_CLUSTER, kind is SiteKind.AI
    load_lo, load_hi = (0.5, 0.8) if hub else (0.45, 0.75)
    eff_lo, eff_hi = (0.85, 1.0) if hub and west else (0.9, 1.1) if hub else (1.0, 1.2)
    has_pv = (hub and west) or rng.uniform() < 0.35
    pv_share = rng.uniform(0.04, 0.12) if hub and west else rng.uniform(0.005, 0.03)
    reuse = lat >= 36.0 and rng.uniform() < 0.6
    return {
        "lat": lat,
        "lon": lon,
        "utc_offset_h": _utc_offset_hours(site),
        "rated_w": site.it_capacity_kw * 1000.0,
        "mean_load": rng.uniform(load_lo, load_hi),
        "idle": 0.45 if hub else 0.3 if ai else 0.4,
        "cpu_base": rng.uniform(0.35, 0.55) if hub else rng.uniform(0.55, 0.75),
        "day_amp": 0.25 if hub else 0.08 if ai else 0.05,
        "weekend": 0.85 if hub else 0.97 if ai else 0.92,
        "gpu_weight": 0.75 if ai else 0.4 if kind is SiteKind.SUPERCOMPUTING else 0.0,
        "job_p": rng.uniform(0.55, 0.8),
        "has_gpu": float(not hub or accelerated),
        "pdu_loss": rng.uniform(0.01, 0.02),
        "dist_loss": rng.uniform(0.015, 0.03),
        "ups_loss": rng.uniform(0.03, 0.045) if hub else rng.uniform(0.035, 0.06),
        "other": rng.uniform(0.01, 0.02),
        "cool_eff": rng.uniform(eff_lo, eff_hi),
        "free_cooling_wb": rng.uniform(12.0, 15.0) if west else rng.uniform(8.0, 11.0),
        "evap_l_per_kwh": rng.uniform(0.8, 1.4) if west else rng.uniform(1.2, 2.0),
        "setpoint": rng.uniform(20.0, 24.0),
        "jan": jan,
        "jul": jul,
        "humid": humid,
        "diurnal_t": 3.0 + 3.5 * (1.0 - humid),
        "weather_sd": 1.2 + 0.08 * (jul - jan) / 2.0,
        "pv_w": site.it_capacity_kw * 1000.0 * pv_share if has_pv else 0.0,
        "ppa_share": rng.uniform(0.5, 0.9) if west else rng.uniform(0.1, 0.4),
        "reuse": rng.uniform(0.08, 0.25) if reuse else 0.0,
        "storage": rng.uniform(0.4, 0.75),
    }


_STREAMS = ("weather", "weather-fast", "load", "jobs", "cloud", "supply", "storage")


def site_params(inventory: Inventory, seed: int) -> SiteParams:
    """Draw every site's constants from the seed and its id (adding a site changes no other)."""
    catalogue = inventory.catalogue()
    devices = tuple(_devices(s, catalogue) for s in inventory.sites)
    rows = [
        _one_site(s, seed, any(kind != "cpu" for kind, _, _ in d))
        for s, d in zip(inventory.sites, devices, strict=True)
    ]
    ids = [s.id for s in inventory.sites]
    cols = {k: np.array([r[k] for r in rows], dtype=np.float64) for k in rows[0]}
    has_gpu = cols.pop("has_gpu") > 0
    keys = {name: keys_array(seed, ids, f"site-{name}") for name in _STREAMS}
    return SiteParams(ids=tuple(ids), has_gpu=has_gpu, devices=devices, keys=keys, **cols)


def _col(x: F64) -> F64:
    return x.reshape(-1, 1)


def _weekend_level(ts_ns: I64, utc_offset_h: F64) -> F64:
    """1 on Saturday and Sunday (local civil time), 0 on weekdays, 3-hour ramps between."""
    local_days = ts_ns.reshape(1, -1) / float(DAY_NS) + _col(utc_offset_h) / 24.0
    # 1970-01-01 was a Thursday: +3 makes Monday 0; the weekend is centred on Sunday 00:00.
    week = (local_days + 3.0) % 7.0
    dist = np.abs((week - 6.0 + 3.5) % 7.0 - 3.5)
    out: F64 = np.clip((1.0 - dist) * 8.0 + 0.5, 0.0, 1.0)
    return out


def _utilisation(p: SiteParams, ts_ns: I64) -> tuple[F64, F64]:
    """CPU and GPU utilisation (n, T), 0..1."""
    cos_day, _ = hour_angle(ts_ns, p.utc_offset_h, 15.0)
    weekend = _weekend_level(ts_ns, p.utc_offset_h)
    week = 1.0 - _col(1.0 - p.weekend) * weekend
    wobble = 1.0 + 0.05 * smooth_noise(p.keys["load"], ts_ns, _HOUR_NS)
    cpu = _col(p.cpu_base) * (1.0 + _col(p.day_amp) * cos_day) * week * wobble
    jobs = block_process(p.keys["jobs"], ts_ns, 5 * _HOUR_NS // 2, p.job_p, 0.6, 1.0, _HOUR_NS // 6)
    gpu = 0.1 + 0.85 * jobs * (1.0 - 0.1 * weekend)
    return np.clip(cpu, 0.0, 1.0), np.clip(gpu, 0.0, 1.0)


def _it_power(p: SiteParams, cpu: F64, gpu: F64) -> F64:
    """IT equipment input power (W): rated x mean load x (idle + dynamic share x utilisation),
    normalised by the utilisation expected on average so it averages mean_load x rated."""
    gw = _col(p.gpu_weight)
    u_mix = (1.0 - gw) * cpu + gw * gpu
    u_mean = (1.0 - p.gpu_weight) * p.cpu_base * (5.0 + 2.0 * p.weekend) / 7.0
    u_mean += p.gpu_weight * (0.1 + 0.85 * p.job_p * 0.8)
    shape = (_col(p.idle) + _col(1.0 - p.idle) * u_mix) / _col(p.idle + (1.0 - p.idle) * u_mean)
    rated = _col(p.rated_w)
    out: F64 = np.minimum(rated * _col(p.mean_load) * shape, 0.98 * rated)
    return out


def _cooling(p: SiteParams, heat: F64, t_out: F64, failure: NDArray[np.bool_]) -> tuple[F64, F64]:
    """Cooling power (W) for ``heat`` (W) and the share of free cooling (0..1).

    Fans and pumps always run; chillers take the share free cooling cannot, at a COP that
    falls as the wet bulb rises. A chiller failure doubles cooling power and adds stand-by
    direct-expansion units.
    """
    t_wb = wet_bulb(t_out, p.humid)
    free = np.clip((_col(p.free_cooling_wb) + _FREE_COOLING_BAND - t_wb) / _FREE_COOLING_BAND, 0, 1)
    cop = np.clip(7.5 - 0.15 * (t_wb - 10.0), 3.0, 8.0)
    cooling = heat * _col(p.cool_eff) * (_FAN_SHARE + (1.0 - free) / cop)
    cooling = np.where(failure, 2.0 * cooling + _FAILURE_EXTRA * heat, cooling)
    return cooling, free


def _storage(p: SiteParams, ts_ns: I64) -> F64:
    """Storage fill (0..1): a 90-day fill-and-purge cycle with a phase per site, sin(a + b)
    with a from time and b per site, plus slow noise."""
    angle = 2.0 * np.pi * (ts_ns / float(DAY_NS)) / 90.0
    sin_a, cos_a = np.sin(angle).reshape(1, -1), np.cos(angle).reshape(1, -1)
    phase = _col(p.lat)
    fill = _col(p.storage) + 0.05 * (sin_a * np.cos(phase) + cos_a * np.sin(phase))
    fill = fill + 0.005 * smooth_noise(p.keys["storage"], ts_ns, 6 * _HOUR_NS)
    out: F64 = np.clip(fill, 0.0, 1.0)
    return out


def site_quantities(
    p: SiteParams,
    ts_ns: I64,
    failure: NDArray[np.bool_],
    failure_s: F64,
    loss: NDArray[np.bool_],
) -> dict[str, F64]:
    """Physical quantities (n_sites, T) at the sample times, in W, L/s, °C and ratios.

    ``failure`` marks (site, time) cells in a chiller failure, ``failure_s`` the seconds since
    that failure began (for the supply-air drift); ``loss`` cells in a device loss, where the
    share of accelerators collectors see (``seen_accelerators``) drops by :data:`DEVICE_LOSS`.
    """
    weather = _col(p.weather_sd) * smooth_noise(p.keys["weather"], ts_ns, 2 * DAY_NS)
    weather += 0.5 * smooth_noise(p.keys["weather-fast"], ts_ns, 3 * _HOUR_NS)
    t_out = outdoor_temperature(ts_ns, p.lon, p.jan, p.jul, p.diurnal_t, weather)

    cpu, gpu = _utilisation(p, ts_ns)
    rated = _col(p.rated_w)
    it_input = _it_power(p, cpu, gpu)
    it_pdu = it_input / _col(1.0 - p.pdu_loss)
    it_ups = it_pdu / _col(1.0 - p.dist_loss)
    heat = it_ups * _col(1.0 + p.ups_loss)  # IT load plus UPS losses, all ends up as heat
    cooling, free = _cooling(p, heat, t_out, failure)
    office, _ = hour_angle(ts_ns, p.utc_offset_h, 13.0)
    other = rated * _col(p.mean_load * p.other) * (0.85 + 0.15 * office)
    facility = heat + cooling + other

    sun = np.maximum(solar_elevation_sin(ts_ns, p.lat, p.lon), 0.0)
    clouds = 0.2 * smooth_noise(p.keys["cloud"], ts_ns, DAY_NS // 2)
    clear = np.clip(0.8 - 0.2 * _col(p.humid) + clouds, 0.1, 1.0)

    # Evaporative cooling uses water in proportion to heat rejected, little when it is cold.
    wet = np.clip((t_out - 5.0) / 18.0, 0.0, 1.0)
    water_cooling = _col(p.evap_l_per_kwh) * (heat / 1000.0) / 3600.0 * (wet * np.sqrt(wet))
    water_site = water_cooling + rated * 1.5e-8 * (1.0 + 0.5 * office)

    drift = _SUPPLY_RISE * (1.0 - np.exp(-failure_s / _SUPPLY_TAU_S))
    supply = _col(p.setpoint) + 0.8 * (1.0 - free)
    supply = supply + 0.3 * smooth_noise(p.keys["supply"], ts_ns, _HOUR_NS)
    return {
        "t_out": t_out,
        "t_supply": supply + np.where(failure, drift, 0.0),
        "p_facility": facility,
        "p_ups": it_ups,
        "p_pdu": it_pdu,
        "p_it": it_input,
        "p_cooling": cooling,
        "p_pv": _col(p.pv_w) * sun * clear,
        "p_ppa": facility * _col(p.ppa_share),
        # Heat exported to district heating, in proportion to how cold it is.
        "p_reuse": heat * _col(p.reuse) * np.clip((14.0 - t_out) / 20.0, 0.0, 1.0),
        "w_site": water_site,
        "w_cooling": water_cooling,
        "u_cpu": cpu,
        "u_gpu": gpu,
        "u_storage": _storage(p, ts_ns),
        "u_it_capacity": np.clip(it_input / rated, 0.0, 1.0),
        "seen_cpus": np.ones_like(t_out),
        "seen_accelerators": np.where(loss, 1.0 - DEVICE_LOSS, 1.0),
    }

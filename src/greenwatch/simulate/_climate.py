"""Climate and sun: outdoor temperature and solar elevation as functions of place and time.

Monthly means come from approximate climate normals of reference cities (January and July mean
air temperature, °C, 1981-2010 normals as commonly published; humidity class 0 dry .. 1 humid),
interpolated by inverse distance to a site. Far from every reference city a latitude formula
for lowland eastern China takes over. Northern hemisphere only; no elevation input (the
reference cities on the plateaus carry it implicitly).
"""

from __future__ import annotations

import numpy as np

from greenwatch.simulate._random import F64, I64

DAY_NS = 86_400 * 10**9
YEAR_DAYS = 365.2425
# Mid-January is the coldest time of year in China; the annual cycle is a cosine from there.
_COLDEST_DAY = 16.0
# Spring equinox as day of year, for the solar declination.
_EQUINOX_DAY = 80.0
_EARTH_RADIUS_KM = 6371.0

# name: (lat, lon, January mean °C, July mean °C, humidity 0..1)
_REFERENCE: dict[str, tuple[float, float, float, float, float]] = {
    "beijing": (39.9, 116.4, -3.1, 26.9, 0.4),
    "tianjin": (39.1, 117.2, -3.5, 27.0, 0.45),
    "zhangjiakou": (40.8, 114.9, -8.5, 23.5, 0.2),
    "hohhot": (40.8, 111.7, -11.6, 22.6, 0.15),
    "horinger": (40.4, 111.8, -12.0, 22.0, 0.15),
    "ulanqab": (41.0, 113.1, -13.0, 19.5, 0.15),
    "taiyuan": (37.9, 112.6, -4.6, 24.0, 0.3),
    "jinan": (36.7, 117.0, -0.4, 27.5, 0.45),
    "zhengzhou": (34.8, 113.6, 0.5, 27.3, 0.5),
    "xian": (34.3, 108.9, 0.3, 27.2, 0.45),
    "qingyang": (35.7, 107.6, -5.0, 22.0, 0.25),
    "zhongwei": (37.5, 105.2, -6.5, 23.0, 0.1),
    "lanzhou": (36.1, 103.8, -4.5, 22.7, 0.1),
    "yinchuan": (38.5, 106.3, -7.5, 23.8, 0.1),
    "urumqi": (43.8, 87.6, -12.6, 24.7, 0.05),
    "harbin": (45.8, 126.5, -17.6, 23.6, 0.4),
    "shenyang": (41.8, 123.4, -11.0, 25.0, 0.45),
    "shanghai": (31.2, 121.5, 4.8, 28.7, 0.85),
    "wuxi": (31.5, 120.3, 3.8, 28.5, 0.85),
    "hangzhou": (30.3, 120.2, 4.6, 28.9, 0.85),
    "nanjing": (32.1, 118.8, 2.7, 28.1, 0.8),
    "hefei": (31.8, 117.3, 2.8, 28.5, 0.8),
    "wuhu": (31.3, 118.4, 3.5, 28.8, 0.8),
    "wuhan": (30.6, 114.3, 4.0, 29.7, 0.8),
    "changsha": (28.2, 112.9, 4.9, 29.3, 0.85),
    "chengdu": (30.7, 104.1, 5.6, 25.6, 0.85),
    "chongqing": (29.6, 106.6, 7.9, 28.5, 0.85),
    "guiyang": (26.6, 106.7, 5.0, 23.5, 0.85),
    "kunming": (25.0, 102.7, 8.9, 20.0, 0.5),
    "lhasa": (29.6, 91.1, -0.3, 16.0, 0.1),
    "shaoguan": (24.8, 113.6, 10.0, 28.8, 0.85),
    "guangzhou": (23.1, 113.3, 13.6, 28.9, 0.9),
    "shenzhen": (22.5, 114.1, 15.4, 28.9, 0.9),
    "haikou": (20.0, 110.3, 18.0, 28.8, 0.9),
    "wenchang": (19.5, 110.8, 18.8, 28.6, 0.9),
}
_REF = np.array(list(_REFERENCE.values()), dtype=np.float64)


def _great_circle_km(lat: float, lon: float, lats: F64, lons: F64) -> F64:
    p1, p2 = np.radians(lat), np.radians(lats)
    dp, dl = p2 - p1, np.radians(lons - lon)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: F64 = 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return out


def site_climate(lat: float, lon: float) -> tuple[float, float, float]:
    """(January mean °C, July mean °C, humidity 0..1) for a place."""
    dist = _great_circle_km(lat, lon, _REF[:, 0], _REF[:, 1])
    order = np.argsort(dist)[:3]
    weights = 1.0 / np.maximum(dist[order], 1.0) ** 2
    jan, jul, humid = (weights @ _REF[order, 2:5]) / weights.sum()
    # Lowland eastern China by latitude, for places far from every reference city.
    f_jan = 18.5 - 1.15 * (lat - 19.5)
    f_jul = 28.8 - 0.3 * max(0.0, lat - 35.0)
    f_humid = float(np.clip((36.0 - lat) / 10.0, 0.1, 0.9))
    w = float(np.clip((dist[order[0]] - 300.0) / 500.0, 0.0, 1.0))
    return (
        float((1 - w) * jan + w * f_jan),
        float((1 - w) * jul + w * f_jul),
        float((1 - w) * humid + w * f_humid),
    )


def day_number(ts_ns: I64) -> F64:
    """Days since the Unix epoch (float), per sample."""
    whole = ts_ns // DAY_NS
    out: F64 = whole + (ts_ns - whole * DAY_NS) / float(DAY_NS)
    return out


def year_angle(ts_ns: I64, day_of_year: float) -> F64:
    """Angle (radians) of the annual cycle, zero at ``day_of_year`` (1 January = day 0)."""
    days = day_number(ts_ns)
    out: F64 = 2.0 * np.pi * ((days - day_of_year) % YEAR_DAYS) / YEAR_DAYS
    return out


def hour_angle(ts_ns: I64, offset_hours: F64, peak_hour: float) -> tuple[F64, F64]:
    """cos and sin of the daily cycle angle (n, T), zero at ``peak_hour`` of a local clock
    ``offset_hours`` ahead of UTC (longitude/15 for solar time, the UTC offset for civil time).

    Computed as cos(a - b) = cos a cos b + sin a sin b with the time part a (1-d) and the place
    part b (per row), so only elementwise arithmetic touches the (n, T) matrix.
    """
    sec = (ts_ns % DAY_NS) / 1e9
    a = 2.0 * np.pi * sec / 86_400.0
    b = 2.0 * np.pi * (peak_hour - offset_hours.reshape(-1, 1)) / 24.0
    ca, sa = np.cos(a).reshape(1, -1), np.sin(a).reshape(1, -1)
    cb, sb = np.cos(b), np.sin(b)
    return ca * cb + sa * sb, sa * cb - ca * sb


def outdoor_temperature(
    ts_ns: I64,
    lon: F64,
    jan: F64,
    jul: F64,
    diurnal: F64,
    weather: F64,
) -> F64:
    """Outdoor air temperature (n, T) in °C: annual cycle between the January and July means,
    a daily cycle of half-range ``diurnal`` peaking at 15:00 local solar time, plus ``weather``
    (already-scaled smooth noise, (n, T))."""
    season = np.cos(year_angle(ts_ns, _COLDEST_DAY)).reshape(1, -1)
    mean = ((jan + jul) / 2).reshape(-1, 1)
    amp = ((jul - jan) / 2).reshape(-1, 1)
    cos_day, _ = hour_angle(ts_ns, lon / 15.0, 15.0)
    out: F64 = mean - amp * season + diurnal.reshape(-1, 1) * cos_day + weather
    return out


def solar_elevation_sin(ts_ns: I64, lat: F64, lon: F64) -> F64:
    """sin of the sun's elevation (n, T) from declination and hour angle (solar noon at
    longitude/15 h after 12:00 UTC; the equation of time is ignored)."""
    decl = np.radians(23.44) * np.sin(year_angle(ts_ns, _EQUINOX_DAY)).reshape(1, -1)
    phi = np.radians(lat).reshape(-1, 1)
    cos_h, _ = hour_angle(ts_ns, lon / 15.0, 12.0)
    sin_phi, cos_phi = np.sin(phi), np.cos(phi)
    out: F64 = sin_phi * np.sin(decl) + cos_phi * np.cos(decl) * cos_h
    return out


def wet_bulb(t_out: F64, humidity: F64) -> F64:
    """Rough wet-bulb temperature (°C) from air temperature and the site's humidity class:
    relative humidity 45 % (dry) .. 80 % (humid), depression shrinking with humidity."""
    rh = (0.45 + 0.35 * humidity).reshape(-1, 1)
    depression = (1.0 - rh) * np.maximum(0.35 * t_out + 3.0, 0.0)
    out: F64 = t_out - depression
    return out

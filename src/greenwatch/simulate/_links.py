"""Long-haul links between centres: traffic, state, probe latency and loss.

Traffic in each direction is a utilisation (diurnal, peaking in the evening, plus bulk
transfers lasting about an hour) times capacity. Probe latency is the fibre round trip
(2 x distance at 200 000 km/s) plus equipment delay, jitter and queueing that grows as the link
fills (M/M/1-like); loss is tiny until utilisation passes 0.9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from greenwatch.inventory import Inventory, link_distance_km
from greenwatch.simulate._climate import hour_angle
from greenwatch.simulate._random import (
    F64,
    I64,
    Draws,
    block_process,
    hash_index,
    keys_array,
    normal,
    smooth_noise,
    uniform,
)
from greenwatch.simulate._sites import SiteParams

FIBRE_KM_PER_S = 200_000.0
_HOUR_NS = 3600 * 10**9
_BASE_LOSS = 1e-5
_QUEUE_S = 0.0003  # queueing delay scale: at utilisation u, about _QUEUE_S * u / (1 - u)
_QUEUE_CAP_S = 0.02  # buffers are finite: queueing delay tops out at 20 ms


@dataclass(frozen=True)
class LinkParams:
    """Per-link constants (arrays over links, inventory order)."""

    ids: tuple[str, ...]
    site: NDArray[np.intp]  # index of end a (the site that reports the link)
    capacity_bps: F64
    distance_km: F64
    base_ab: F64
    base_ba: F64
    equipment_s: F64
    flap_period_ns: NDArray[np.int64]
    utc_offset_h: F64
    keys: dict[str, NDArray[np.uint64]]

    @property
    def n(self) -> int:
        return len(self.ids)


def link_params(inventory: Inventory, sites: SiteParams, seed: int) -> LinkParams:
    """Draw every link's constants from the seed and its id."""
    index = {sid: i for i, sid in enumerate(sites.ids)}
    ids = [link.id for link in inventory.links]
    rows = []
    for link in inventory.links:
        rng = Draws(seed, "link-params", link.id)
        base = rng.uniform(0.2, 0.55)
        rows.append(
            (
                base,
                base * rng.uniform(0.6, 1.1),
                rng.uniform(0.0002, 0.0008),
                int(rng.uniform(2, 6)) * 60 * 10**9,
            )
        )
    a = np.array([index[link.a] for link in inventory.links], dtype=np.intp)
    keys = {
        name: keys_array(seed, ids, f"link-{name}")
        for name in ("ab", "ba", "burst-ab", "burst-ba", "jitter")
    }
    return LinkParams(
        ids=tuple(ids),
        site=a,
        capacity_bps=np.array([link.capacity_bps for link in inventory.links], dtype=np.float64),
        distance_km=np.array(
            [link_distance_km(inventory, link) for link in inventory.links], dtype=np.float64
        ),
        base_ab=np.array([r[0] for r in rows], dtype=np.float64),
        base_ba=np.array([r[1] for r in rows], dtype=np.float64),
        equipment_s=np.array([r[2] for r in rows], dtype=np.float64),
        flap_period_ns=np.array([r[3] for r in rows], dtype=np.int64),
        utc_offset_h=sites.utc_offset_h[a] if len(a) else np.zeros(0),
        keys=keys,
    )


def _utilisation(p: LinkParams, ts_ns: I64, base: F64, way: str) -> F64:
    evening, _ = hour_angle(ts_ns, p.utc_offset_h, 21.0)
    bursts = block_process(
        p.keys[f"burst-{way}"], ts_ns, _HOUR_NS, np.full(p.n, 0.12), 0.2, 0.5, _HOUR_NS // 12
    )
    wobble = 0.04 * smooth_noise(p.keys[way], ts_ns, _HOUR_NS // 4)
    u = base.reshape(-1, 1) * (1.0 + 0.3 * evening) + bursts + wobble
    out: F64 = np.clip(u, 0.0, 0.995)
    return out


def link_quantities(p: LinkParams, ts_ns: I64, down: NDArray[np.bool_]) -> dict[str, F64]:
    """Link quantities (n_links, T); ``down`` marks (link, time) cells where the link is down."""
    up = np.where(down, 0.0, 1.0)
    u_ab = _utilisation(p, ts_ns, p.base_ab, "ab")
    u_ba = _utilisation(p, ts_ns, p.base_ba, "ba")
    cap = p.capacity_bps.reshape(-1, 1)
    busy = np.maximum(u_ab, u_ba)
    jitter = 0.00005 * np.abs(normal(hash_index(p.keys["jitter"].reshape(-1, 1), ts_ns)))
    queue = np.minimum(_QUEUE_S * busy / (1.0 - busy), _QUEUE_CAP_S)
    latency = (2.0 * p.distance_km / FIBRE_KM_PER_S + p.equipment_s).reshape(-1, 1)
    excess = np.clip((busy - 0.9) / 0.1, 0.0, 1.0)
    wiggle = uniform(hash_index(p.keys["jitter"].reshape(-1, 1) ^ np.uint64(1), ts_ns))
    loss = _BASE_LOSS * (0.5 + wiggle) + 0.05 * excess * excess
    return {
        "tx_rate": u_ab * cap / 8.0 * up,
        "rx_rate": u_ba * cap / 8.0 * up,
        "up": np.broadcast_to(up, u_ab.shape),
        "latency": latency + jitter + queue,
        "loss": np.where(down, 1.0, loss),
        "capacity": np.broadcast_to(cap, u_ab.shape),
    }

"""Counter-based randomness: every random number is a hash of (stream key, integer index).

The simulator must give bitwise the same samples however a period is cut into calls, so no
random number may depend on call order. Each stream (a series, or a site's weather) has a 64-bit
key derived from the seed and its name; a value at time ``t`` is a hash of the key and ``t`` (or
of a knot index derived from ``t``). The mixer is SplitMix64's finaliser, in wrapping uint64
arithmetic on arrays (numpy integer arrays wrap silently; scalars would warn, so inputs are
always made at least 1-d).
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

U64 = NDArray[np.uint64]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_S11, _S16 = np.uint64(11), np.uint64(16)
_LOW16 = np.uint64(0xFFFF)
# Irwin-Hall(4) of 16-bit uniforms: mean and standard deviation of the sum of four draws.
_IH_MEAN = 2.0 * 65535.0
_IH_STD = float(np.sqrt(4.0 * (65536.0**2 - 1.0) / 12.0))


def stable_key(*parts: object) -> int:
    """A 64-bit key from the text of ``parts`` (stable across processes and platforms)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def keys_array(seed: int, names: list[str], stream: str) -> U64:
    """One key per name for a named stream (``stream`` separates e.g. weather from load)."""
    return np.array([stable_key(seed, stream, n) for n in names], dtype=np.uint64).reshape(-1)


def mix64(x: U64) -> U64:
    """SplitMix64 finaliser, elementwise, wrapping."""
    z = np.atleast_1d(x) + _GOLDEN
    z ^= z >> _S30
    z *= _MUL1
    z ^= z >> _S27
    z *= _MUL2
    z ^= z >> _S31
    return z


def hash_index(keys: U64, index: I64) -> U64:
    """Hash of (key, index) broadcast: ``keys`` shaped (n, 1) or (n,), ``index`` any shape."""
    idx = np.atleast_1d(np.asarray(index, dtype=np.int64)).view(np.uint64)
    return mix64(mix64(idx) ^ np.atleast_1d(keys))


def uniform(h: U64) -> F64:
    """Uniform [0, 1) from hashes (53 high bits)."""
    out: F64 = (h >> _S11).astype(np.float64) * (2.0**-53)
    return out


def normal(h: U64) -> F64:
    """Approximately standard normal from hashes: Irwin-Hall sum of four 16-bit uniforms.

    Bounded at about ±3.46, which suits meter noise (no absurd outliers).
    """
    total = (h & _LOW16).astype(np.float64)
    for shift in (1, 2, 3):
        total += ((h >> (_S16 * np.uint64(shift))) & _LOW16).astype(np.float64)
    out: F64 = (total - _IH_MEAN) / _IH_STD
    return out


def smooth_noise(keys: U64, ts_ns: I64, knot_ns: int) -> F64:
    """Smooth noise (n, T), unit scale: normal values at knots every ``knot_ns``, smoothstep
    interpolated, so the value at a time depends only on the key and that time."""
    idx = ts_ns // knot_ns
    frac = (ts_ns - idx * knot_ns) / float(knot_ns)
    s = frac * frac * (3.0 - 2.0 * frac)
    k = keys.reshape(-1, 1)
    left = normal(hash_index(k, idx.reshape(1, -1)))
    right = normal(hash_index(k, (idx + 1).reshape(1, -1)))
    out: F64 = left * (1.0 - s) + right * s
    return out


def block_process(
    keys: U64,
    ts_ns: I64,
    block_ns: int,
    p_on: F64,
    on_low: float,
    on_high: float,
    ramp_ns: int,
) -> F64:
    """Piecewise-constant on/off activity (n, T) in blocks of ``block_ns``, each stream shifted
    by its own phase: a block is "on" with probability ``p_on`` (per stream) at a level drawn
    in [on_low, on_high], else 0; each block ramps linearly from the previous level over
    ``ramp_ns``. Models training jobs and bulk transfers lasting hours."""
    k = keys.reshape(-1, 1)
    phase = (uniform(hash_index(k, np.array([-1], dtype=np.int64))) * block_ns).astype(np.int64)
    shifted = ts_ns.reshape(1, -1) + phase
    idx = shifted // block_ns
    pos = shifted - idx * block_ns
    p = p_on.reshape(-1, 1)

    def level(i: I64) -> F64:
        h = hash_index(k, i)
        on = uniform(h) < p
        height = on_low + (on_high - on_low) * uniform(mix64(h))
        out: F64 = np.where(on, height, 0.0)
        return out

    cur, prev = level(idx), level(idx - 1)
    ramp = np.minimum(pos / float(ramp_ns), 1.0)
    out: F64 = prev + (cur - prev) * ramp
    return out


class Draws:
    """Successive uniform draws from one key: the per-site and per-link constants.

    Used instead of ``numpy.random.Generator`` so the constants depend on nothing but the hash,
    not on a generator's stream, which numpy does not promise to keep across versions.
    """

    def __init__(self, *parts: object) -> None:
        self._key = np.array([stable_key(*parts)], dtype=np.uint64)
        self._count = 0

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        """The next draw, uniform in [low, high)."""
        index = np.array([self._count], dtype=np.int64)
        self._count += 1
        return low + (high - low) * float(uniform(hash_index(self._key, index))[0])

"""The simulated Internet's numbers: round-trip times, session lengths, who sits behind NAT.

Pure functions of a seeded `random.Random` and of the two addresses; the world (world.py)
asks them, and nothing here keeps state beyond the quantile table.

* Round-trip time per pair of hosts: log-normal, fixed for the pair (a hash of the two
  host numbers picks a quantile), median `rtt_median` seconds, spread `rtt_sigma`. The
  one-way delay of a datagram is half its pair's RTT, so a query and its answer together
  take one RTT.
* Session length: Weibull with shape `shape` (< 1: many short sessions and a long tail, as
  every measurement of P2P sessions finds) scaled so that its median is `median`.
* Offline gap before a host comes back (restarts with its old id): exponential.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from random import Random

__all__ = ["Latency", "session_length", "weibull_scale"]

_QUANTILES = 4096


class Latency:
    """Per-pair round-trip times from a log-normal law, the same for a pair every time."""

    __slots__ = ("_one_way", "_salt")

    def __init__(self, *, rtt_median: float, rtt_sigma: float, seed: int) -> None:
        normal = statistics.NormalDist()
        # The RTT at the middle of each of _QUANTILES equal-probability slices.
        self._one_way = tuple(
            rtt_median * math.exp(rtt_sigma * normal.inv_cdf((i + 0.5) / _QUANTILES)) / 2
            for i in range(_QUANTILES)
        )
        self._salt = (seed * 0x9E3779B1) & 0xFFFFFFFF

    def one_way(self, a: int, b: int) -> float:
        """Seconds one datagram takes between hosts number `a` and `b` (either way)."""
        lo, hi = (a, b) if a < b else (b, a)
        h = (lo * 0x9E3779B97F4A7C15 ^ hi * 0xC2B2AE3D27D4EB4F ^ self._salt) & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 29
        h = (h * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 32
        return self._one_way[h % _QUANTILES]

    def rtt_median(self) -> float:
        return 2 * float(statistics.median(self._one_way))


def weibull_scale(median: float, shape: float) -> float:
    """The Weibull scale whose median is `median` (median = scale * ln(2) ** (1/shape))."""
    return median / float(math.log(2) ** (1 / shape))


def session_length(rng: Random, *, median: float, shape: float) -> float:
    """One session's length in seconds (Weibull, median `median`)."""
    return float(rng.weibullvariate(weibull_scale(median, shape), shape))

"""The minimum distribution time of a file to N peers (Kumar & Ross), and swarm efficiency.

R. Kumar and K. W. Ross, "Peer-Assisted File Distribution: The Minimum Distribution Time"
(IEEE HotWeb 2006) prove that a server with upload rate u_s and N peers with upload rates
u_i and download rates d_i cannot give every peer a file of F bits in less than

    T_min = max(F / u_s,  F / d_min,  N·F / (u_s + Σ u_i))

- the server must upload every bit at least once; the slowest downloader must receive all of
it; and the N·F bits delivered in all cannot flow faster than all uploads together. (The
bound is reachable with fluid, perfectly scheduled transfers.) With several seeders, u_s is
their sum: together they are the server. The lab measures T_all, the time until the last
leecher holds a verified copy, and reports the swarm efficiency E = T_min / T_all (1 is
perfect; overheads of TCP/IP headers, start-up and scheduling pull it below).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Bottleneck", "DistributionBound", "efficiency", "minimum_distribution_time"]


class Bottleneck(enum.Enum):
    """Which of the three terms of T_min is the largest."""

    SEED_UPLOAD = "seed upload"  # F / u_s: seed-limited
    DOWNLOAD = "slowest download"  # F / d_min
    SWARM_UPLOAD = "swarm upload"  # N·F / (u_s + Σ u_i): upload-limited


@dataclass(frozen=True, slots=True)
class DistributionBound:
    """T_min and its three terms, in seconds (F / d_min is 0 when no download is limited)."""

    seed_term: float
    download_term: float
    swarm_term: float

    @property
    def t_min(self) -> float:
        return max(self.seed_term, self.download_term, self.swarm_term)

    @property
    def bottleneck(self) -> Bottleneck:
        terms = {
            Bottleneck.SEED_UPLOAD: self.seed_term,
            Bottleneck.DOWNLOAD: self.download_term,
            Bottleneck.SWARM_UPLOAD: self.swarm_term,
        }
        return max(terms, key=lambda key: terms[key])


def minimum_distribution_time(
    file_bytes: int,
    seed_uploads: Sequence[int],
    leecher_uploads: Sequence[int],
    leecher_downloads: Sequence[int | None] = (),
) -> DistributionBound:
    """The Kumar–Ross bound for `file_bytes` from the seeders to every leecher.

    Rates are bits per second. A download rate of None is unlimited (the term F / d_min
    then counts only the limited ones, and is 0 if none is). Seed uploads must be finite
    and positive: an unlimited seeder has no finite bound to compare against.
    """
    if file_bytes <= 0:
        raise ValueError("the file must have at least one byte")
    if not seed_uploads or any(rate <= 0 for rate in seed_uploads):
        raise ValueError("every seeder needs a positive, limited upload rate")
    if not leecher_uploads:
        raise ValueError("the swarm needs at least one leecher")
    if any(rate < 0 for rate in leecher_uploads):
        raise ValueError("upload rates cannot be negative")
    bits = file_bytes * 8
    u_s = sum(seed_uploads)
    limited = [rate for rate in leecher_downloads if rate is not None]
    if any(rate <= 0 for rate in limited):
        raise ValueError("download limits must be positive (None means unlimited)")
    download_term = bits / min(limited) if limited else 0.0
    n = len(leecher_uploads)
    return DistributionBound(
        seed_term=bits / u_s,
        download_term=download_term,
        swarm_term=n * bits / (u_s + sum(leecher_uploads)),
    )


def efficiency(t_min: float, t_all: float | None) -> float | None:
    """E = T_min / T_all, or None when the swarm never finished."""
    if t_all is None or not math.isfinite(t_all):
        return None
    if t_all <= 0:
        raise ValueError(f"T_all must be positive, not {t_all}")
    return t_min / t_all

"""Tracker clients, sans-IO: shared request/response values, HTTP codec, UDP core, tiers.

L0/L1 only; the asyncio driver that performs the I/O is `bitswarm.aio.tracker_client`.
"""

from __future__ import annotations

from .announce import (
    AnnounceEvent,
    AnnounceRequest,
    AnnounceResponse,
    PeerAddress,
    ScrapeResponse,
    ScrapeStats,
    ScrapeUnsupported,
    TrackerFailure,
    TrackerResponseError,
    TrackerUnreachable,
)
from .tiers import AnnounceJob, TrackerStatus, TrackerTiers, TrackerView
from .udp import UdpTrackerClient

__all__ = [
    "AnnounceEvent",
    "AnnounceJob",
    "AnnounceRequest",
    "AnnounceResponse",
    "PeerAddress",
    "ScrapeResponse",
    "ScrapeStats",
    "ScrapeUnsupported",
    "TrackerFailure",
    "TrackerResponseError",
    "TrackerStatus",
    "TrackerTiers",
    "TrackerUnreachable",
    "TrackerView",
    "UdpTrackerClient",
]

"""The BitTorrent DHT (BEP 5, with BEP 32 IPv6, BEP 43 read-only nodes, BEP 42 reporting).

A sans-IO core: `DhtNode` takes datagrams and the time and returns datagrams and events;
`bitswarm.aio.dht` runs it on UDP sockets. The parts: `krpc` (message codec), `node_id`
(ids, XOR metric, BEP 42), `routing_table` (k-buckets), `lookup` (iterative searches),
`tokens`, `peer_store`, `responder` (answers to queries), `transactions`, `state` (saved
state, counters, status), `config`, `events`. Per-source rate limits are
`bitswarm.ratelimit`, compact addresses `bitswarm.addresses`: shared with the trackers.
"""

from __future__ import annotations

from .config import DEFAULT_BOOTSTRAP, DhtConfig, DhtConfigError, parse_bootstrap, parse_endpoint
from .events import (
    AnnounceDone,
    BootstrapDone,
    DhtEvent,
    LookupDone,
    PeerAnnounced,
    PeersFound,
    PingDone,
)
from .krpc import Addr, NodeInfo
from .lookup import LookupKind
from .node import DhtNode
from .state import DhtCounters, DhtStateError, DhtStatus

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "Addr",
    "AnnounceDone",
    "BootstrapDone",
    "DhtConfig",
    "DhtConfigError",
    "DhtCounters",
    "DhtEvent",
    "DhtNode",
    "DhtStateError",
    "DhtStatus",
    "LookupDone",
    "LookupKind",
    "NodeInfo",
    "PeerAnnounced",
    "PeersFound",
    "PingDone",
    "parse_bootstrap",
    "parse_endpoint",
]

"""bitswarm's tracker server: HTTP (BEP 3, 23, 7, 48) and UDP (BEP 15, 41) on one store.

Layers: the HTTP codec (`http_codec`; BEP 15's is `bitswarm.tracker.udp_codec`, shared
with the client), connection ids (`conn_ids`), the in-memory store (`memory_store`),
whitelist, metrics, settings (`config`) and process options (`options`) are pure (bytes
and `now` in; the per-address rate limit is `bitswarm.ratelimit`); `service` joins them to
a `SwarmStore`; the HTTP and UDP front-ends, the Redis store, `app` (one process), the
`workers` supervisor and `launch` do the I/O. Run it with ``bitswarm tracker`` or
``python -m bitswarm.tracker_server`` (flags: `arguments`), or
`launch.run(ServerOptions(...))`.
"""

from __future__ import annotations

from .config import ConfigError, RequestRefused, TrackerConfig
from .memory_store import MemorySwarmStore
from .store import PeerAnnounce, StoreTotals, StoreUnavailable, SwarmReply, SwarmStore

__all__ = [
    "ConfigError",
    "MemorySwarmStore",
    "PeerAnnounce",
    "RequestRefused",
    "StoreTotals",
    "StoreUnavailable",
    "SwarmReply",
    "SwarmStore",
    "TrackerConfig",
]

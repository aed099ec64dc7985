"""bitswarm's tracker server: HTTP (BEP 3, 23, 7, 48) and UDP (BEP 15, 41) on one store.

Layers: the codecs (`http_codec`, `udp_codec`), connection ids (`conn_ids`), the
in-memory store (`memory_store`), whitelist, rate limiter and metrics are pure (bytes
and `now` in); `service` joins them to a `SwarmStore`; the HTTP and UDP front-ends,
the Redis store, `app` and the `workers` supervisor do the I/O. Run it with
``bitswarm tracker`` (bitswarm.cli.tracker_command) or `app.run(ServerOptions(...))`.
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

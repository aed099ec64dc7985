"""Swarms on a Redis Cluster: ``--store redis+cluster://host:port[,host:port...]``.

The store is `RedisSwarmStore` (redis_store.py: the same keys, the same announce script,
the same batching) on redis-py's cluster client, `redis.asyncio.cluster.RedisCluster`.
Why it scales out: every key of a swarm carries the info-hash as a hash tag
(``bsw:{<hex>}:p4`` ...), so all of them live in one of the 16384 slots, on one master;
one announce is one EVALSHA on that master, with no cross-slot command anywhere.
Three hooks differ from the single-server store:

* the client: the startup nodes of the URL, from which it learns the slot map;
* `_parts`: a batch of announces (one turn of the event loop) is split by the master
  that holds each swarm and runs as one pipeline per master, side by side. A master that
  fails (killed, unreachable) fails only the announces of its own swarms, and only it is
  refused at once for `retry_after` seconds; the others go on. The client refreshes its
  slot map after the error, so once a replica has taken over (Redis Cluster's own
  failover) its swarms are served again. SCRIPT LOAD goes to every master; a promoted
  replica, which has no script cache, answers NOSCRIPT once and the script is reloaded;
* `_scan_keys`: full scrape and totals SCAN every master in turn, each with its own
  cursor (a key lives on exactly one master; replicas are not scanned), then count the
  swarms with the single-slot scrape pipeline. Like the single-server store, /stats and
  /metrics take such a pass at most every 15 s per tracker process.

What a failover keeps: Redis replicates asynchronously, so the last writes a master
acknowledged before it died may be missing on the replica that replaces it. Tracker
state is soft (each peer announces again every interval), so such a peer is back at its
next announce; the tests show that everything replicated before a master is killed is
there afterwards.

The URL: ``redis+cluster://[user:password@]host:port[,host:port...]``, or
``rediss+cluster://`` for TLS. ``+cluster`` marks the same protocol with a different
client, as ``redis+socket://`` does elsewhere; several startup nodes let the tracker
start while one of them is down. The port defaults to 6379; ``[v6]:port`` works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import SlotNotCoveredError

from .config import ConfigError, TrackerConfig
from .redis_store import QueuedAnnounce, RedisSwarmStore

__all__ = ["CLUSTER_SCHEMES", "ClusterUrl", "RedisClusterSwarmStore", "parse_cluster_url"]

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


@dataclass(frozen=True, slots=True)
class ClusterUrl:
    """What a ``redis+cluster://`` URL says."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_cluster_url(url: str) -> ClusterUrl:
    """``redis+cluster://[user:password@]host:port[,host:port...]`` -> `ClusterUrl`.

    Raises:
        ConfigError: another scheme, no node, a bad port, or a path or query.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or f"{scheme}://" not in CLUSTER_SCHEMES:
        raise ConfigError(f"{url!r} is not a redis+cluster:// URL")
    rest = rest.rstrip("/")
    if "/" in rest or "?" in rest:
        raise ConfigError(f"{url!r}: a cluster URL has no database, path or options")
    userinfo, _, hosts = rest.rpartition("@")
    username = password = None
    if userinfo:
        user, colon, pw = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if colon else None
    nodes = tuple(_node(part, url) for part in hosts.split(",") if part)
    if not nodes:
        raise ConfigError(f"{url!r}: name at least one node, host:port")
    return ClusterUrl(nodes, username, password, tls=scheme == "rediss+cluster")


def _node(text: str, url: str) -> tuple[str, int]:
    host, port_text = text, "6379"
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ConfigError(f"{url!r}: {text!r} is not [ADDRESS]:PORT")
        host, port_text = text[1:end], text[end + 2 :] if text[end + 1 :] else "6379"
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) <= 0xFFFF:
        raise ConfigError(f"{url!r}: {text!r} is not host:port")
    return host, int(port_text)


class RedisClusterSwarmStore(RedisSwarmStore):
    """A `SwarmStore` on a Redis Cluster (``redis+cluster://host:port,...``)."""

    def __init__(
        self, url: str, config: TrackerConfig, *, prefix: str = "bsw",
        timeout: float = 0.5, retry_after: float = 0.25,
    ) -> None:  # fmt: skip
        self._parsed = parse_cluster_url(url)
        super().__init__(url, config, prefix=prefix, timeout=timeout, retry_after=retry_after)

    def _connect(self, url: str, timeout: float) -> Any:
        c = self._parsed
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in c.nodes],
            username=c.username, password=c.password, ssl=c.tls,
            socket_timeout=timeout, socket_connect_timeout=timeout,
            # No retry inside the client: an announce fails at once and its peer asks
            # again (BEP 15's retransmission, or its next interval); a node that failed
            # still makes the client refresh its slot map before the next batch.
            retry=Retry(NoBackoff(), 0), decode_responses=False,
        )  # fmt: skip

    async def _parts(self, batch: list[QueuedAnnounce]) -> dict[str, list[QueuedAnnounce]]:
        """The batch by master (its name, ``host:port``), from the client's slot map."""
        cluster: RedisCluster = self._redis
        await cluster.initialize()  # the first time, or a refresh an error asked for
        parts: dict[str, list[QueuedAnnounce]] = {}
        for call in batch:
            try:
                node = cluster.get_node_from_key(call[0][0])
            except SlotNotCoveredError:
                node = None  # the pipeline says what is wrong with it
            parts.setdefault(node.name if node is not None else "?", []).append(call)
        return parts

    async def _scan_keys(self, match: str) -> AsyncIterator[bytes]:
        """SCAN each master in turn, with its own cursor."""
        cluster: RedisCluster = self._redis
        await cluster.initialize()
        for node in cluster.get_primaries():
            cursor = 0
            while True:
                # the cluster client answers {node name: cursor}, keys
                reply: Any = await cluster.scan(
                    cursor=cursor, match=match, count=1000, target_nodes=node
                )
                cursors, keys = reply
                for key in keys:
                    yield bytes(key)
                cursor = int(cursors[node.name])
                if cursor == 0:
                    break

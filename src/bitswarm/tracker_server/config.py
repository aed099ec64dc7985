"""The tracker server's settings and the small policy rules that follow from them.

One frozen `TrackerConfig` is built by the command line (or a test) and handed to every
part: the stores read the peer timeout, the codecs the intervals and numwant limits, the
front-ends the trusted proxies and the rate limit. Pure: no I/O, nothing global.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import BitswarmError, RemoteProtocolError

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_MAX_NUMWANT",
    "DEFAULT_MAX_PEERS_PER_SWARM",
    "DEFAULT_MAX_SWARMS",
    "DEFAULT_MIN_INTERVAL",
    "DEFAULT_NUMWANT",
    "DEFAULT_PEER_TIMEOUT",
    "TRACKER_FULL",
    "ConfigError",
    "RequestRefused",
    "TrackerConfig",
    "parse_networks",
]

DEFAULT_INTERVAL = 1800  # BEP 3 leaves it to the tracker; 30 min is what most trackers send
DEFAULT_MIN_INTERVAL = 900
DEFAULT_PEER_TIMEOUT = 2 * DEFAULT_INTERVAL + 300  # two missed announces and a margin
DEFAULT_NUMWANT = 50  # what clients get when they do not say (BEP 15 "-1 // default")
DEFAULT_MAX_NUMWANT = 200

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(BitswarmError):
    """A tracker setting that cannot work (negative interval, bad network, ...)."""


class RequestRefused(RemoteProtocolError):
    """A client request the tracker answers with a failure reason (BEP 3) or a UDP error.

    `kind` is a short label for the metrics (``malformed``, ``unauthorized``, ...).
    """

    def __init__(self, reason: str, kind: str = "malformed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def parse_networks(texts: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``["10.0.0.0/8", "::1"]`` -> networks; a bare address is a /32 or /128.

    Raises:
        ConfigError: a text that is not an address or a network.
    """
    out: list[IPNetwork] = []
    for text in texts:
        try:
            out.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"--trusted-proxy {text!r} is not an address or network") from None
    return tuple(out)


DEFAULT_MAX_SWARMS = 1_000_000
"""About 0.9 GB of swarms in the memory store (870 bytes each with one peer, measured)."""
DEFAULT_MAX_PEERS_PER_SWARM = 10_000
"""About 1.7 MB a swarm (173 bytes a peer); a reply holds at most 200 of them anyway."""
TRACKER_FULL = "tracker is full: it tracks no new torrents now"


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Everything tunable about the tracker. Times are seconds."""

    #: how long clients should wait between regular announces (BEP 3 ``interval``)
    interval: int = DEFAULT_INTERVAL
    #: the shortest wait we accept (``min interval``; BEP 3 does not name it, clients obey it)
    min_interval: int = DEFAULT_MIN_INTERVAL
    #: a peer that has not announced for this long is dropped from its swarm
    peer_timeout: float = DEFAULT_PEER_TIMEOUT
    #: peers returned when the request does not say how many
    default_numwant: int = DEFAULT_NUMWANT
    #: hard cap on peers returned, whatever the request asks
    max_numwant: int = DEFAULT_MAX_NUMWANT
    #: whether /scrape without ``info_hash`` lists every swarm (BEP 48 full scrape)
    full_scrape: bool = True
    #: most swarms a full scrape lists
    full_scrape_limit: int = 10_000
    #: most info-hashes one HTTP scrape may name (UDP: what fits in a datagram, BEP 15)
    max_scrape_hashes: int = 100
    #: proxies whose ``X-Forwarded-For`` and ``ip=`` are believed
    trusted_proxies: tuple[IPNetwork, ...] = ()
    #: requests per second allowed from one address (0: no limit), and the burst size
    rate_limit: float = 0.0
    rate_burst: int = 0
    #: sent as ``tracker id`` in every announce reply
    tracker_id: bytes = b"bitswarm"
    #: empty swarms keep their completed count this long before they are forgotten
    retain_empty: float = 86_400.0
    #: swarms tracked at most: an announce that would start one more gets a failure reason
    max_swarms: int = DEFAULT_MAX_SWARMS
    #: peers stored per swarm at most: a newcomer to a full swarm gets peers, unstored
    max_peers_per_swarm: int = DEFAULT_MAX_PEERS_PER_SWARM

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.min_interval <= 0:
            raise ConfigError("--interval and --min-interval must be positive")
        if self.min_interval > self.interval:
            raise ConfigError(
                f"--min-interval {self.min_interval} is longer than --interval {self.interval}"
            )
        if self.peer_timeout <= 0:
            raise ConfigError("--peer-timeout must be positive")
        if self.peer_timeout < self.interval:
            raise ConfigError(
                f"--peer-timeout {self.peer_timeout:g} is shorter than --interval "
                f"{self.interval}: every peer would expire before its next announce"
            )
        if not 1 <= self.max_numwant <= 10_000:
            raise ConfigError("--max-numwant must be between 1 and 10000")
        if not 0 <= self.default_numwant <= self.max_numwant:
            raise ConfigError("the default numwant must be between 0 and --max-numwant")
        if self.rate_limit < 0:
            raise ConfigError("--rate-limit must not be negative")
        if self.max_swarms < 1 or self.max_peers_per_swarm < 1:
            raise ConfigError("--max-swarms and --max-peers-per-swarm must be at least 1")
        if not 0 < len(self.tracker_id) <= 64:
            raise ConfigError("the tracker id must be 1 to 64 bytes")

    def numwant(self, requested: int | None) -> int:
        """Peers to return for a request: the default when absent or negative, capped."""
        if requested is None or requested < 0:
            return self.default_numwant
        return min(requested, self.max_numwant)

    def is_trusted_proxy(self, host: str) -> bool:
        """Whether the connection from `host` comes from a configured trusted proxy."""
        if not self.trusted_proxies:
            return False
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in net for net in self.trusted_proxies)

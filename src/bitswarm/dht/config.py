"""DHT settings, the well-known bootstrap routers, and parsing of ``HOST:PORT`` options.

Every number the node uses lives in `DhtConfig`, with the value BEP 5 gives or real
clients use, so tests can shrink timeouts or lift rate limits without touching the core.

`DEFAULT_BOOTSTRAP` holds the routers real clients start from. Nothing uses them unless
the user asks (``--dht-bootstrap default``): tests and loopback networks never reach out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import BitswarmError, LocalProtocolError
from .krpc import CLIENT_VERSION, Addr

__all__ = ["DEFAULT_BOOTSTRAP", "DhtConfig", "DhtConfigError", "parse_bootstrap",
           "parse_endpoint"]  # fmt: skip

# The routers of Mainline, Transmission and uTorrent (their clients' built-in defaults).
DEFAULT_BOOTSTRAP: tuple[Addr, ...] = (
    ("router.bittorrent.com", 6881),
    ("dht.transmissionbt.com", 6881),
    ("router.utorrent.com", 6881),
)


class DhtConfigError(BitswarmError):
    """A DHT option a person gave that we cannot use (bad ``HOST:PORT``, ...)."""


@dataclass(frozen=True, slots=True)
class DhtConfig:
    """Settings of one DHT node (one address family, BEP 32).

    Attributes:
        family: 4 or 6; a node serves one address family (BEP 32 "Operation").
        k: bucket size and lookup width (BEP 5: eight).
        alpha: parallel queries per lookup (Kademlia's α).
        query_timeout: seconds before an unanswered query counts as failed.
        slow_after: seconds after which a pending lookup query stops holding a slot.
        max_lookup_queries: the most queries one lookup may send.
        read_only: BEP 43: answer no queries, mark ours ``ro=1``.
        max_packet_size: larger datagrams are dropped unread and counted as oversized.
        max_send_size: replies are trimmed to fit (BEP 32 "Maximum packet size": 1024).
        rate_limit, rate_burst: unsolicited datagrams per second (and burst) per source
            IP; 0 means unlimited (for loopback networks where every node shares an IP).
        token_rotation: seconds between token secrets (BEP 5: five minutes).
        good_for: seconds a node stays good after it answered (BEP 5: 15 minutes).
        verify_after: an answer from an address that queried us less than this long
            before does not verify it (routing_table.py rule 3): longer than the UDP
            pinhole a NAT keeps open (RFC 4787 REQ-5: at least 2 minutes). 0 trusts
            every answer, as BEP 5 alone would.
        bucket_refresh: a bucket unchanged this long is refreshed (BEP 5: 15 minutes).
        maintenance_interval: seconds between housekeeping passes.
        peer_ttl, max_peers_per_hash, max_infohashes: bounds of the announced-peer store.
        max_values: peers in one get_peers reply (kept under `max_send_size`).
        max_pending: queries in flight at once across all lookups and pings.
        version: the ``v`` we send (BEP 5), or None to send none.
    """

    family: int = 4
    k: int = 8
    alpha: int = 3
    query_timeout: float = 5.0
    slow_after: float = 1.0
    max_lookup_queries: int = 100
    read_only: bool = False
    max_packet_size: int = 1500
    max_send_size: int = 1024
    rate_limit: float = 20.0
    rate_burst: int = 50
    rate_limit_sources: int = 4096
    token_rotation: float = 300.0
    good_for: float = 15 * 60.0
    verify_after: float = 180.0
    bucket_refresh: float = 15 * 60.0
    maintenance_interval: float = 5.0
    peer_ttl: float = 30 * 60.0
    max_peers_per_hash: int = 200
    max_infohashes: int = 2000
    max_values: int = 50
    max_pending: int = 256
    version: bytes | None = CLIENT_VERSION

    def __post_init__(self) -> None:
        if self.family not in (4, 6):
            raise LocalProtocolError("family must be 4 or 6")
        if min(self.k, self.alpha, self.max_lookup_queries, self.max_pending) < 1:
            raise LocalProtocolError("k, alpha, max_lookup_queries, max_pending must be >= 1")
        if min(self.query_timeout, self.slow_after, self.token_rotation, self.good_for,
               self.bucket_refresh, self.maintenance_interval, self.peer_ttl) <= 0:  # fmt: skip
            raise LocalProtocolError("DHT intervals must be positive")
        if self.verify_after < 0:
            raise LocalProtocolError("verify_after must not be negative")
        if self.max_packet_size < 64 or self.max_send_size < 256:
            raise LocalProtocolError("packet size limits are too small for KRPC")


def parse_endpoint(text: str, *, default_port: int | None = None) -> Addr:
    """``HOST:PORT``, ``[V6ADDR]:PORT`` or (with `default_port`) a bare host.

    Raises:
        DhtConfigError: no usable host or a port outside 1..65535.
    """
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise DhtConfigError(f"cannot read {text!r} as [ADDRESS]:PORT")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif text.count(":") > 1:
        raise DhtConfigError(f"put an IPv6 address in brackets: [{text}]:PORT")
    if not host:
        raise DhtConfigError(f"no host in {text!r}")
    if not port_text:
        if default_port is None:
            raise DhtConfigError(f"no port in {text!r} (expected HOST:PORT)")
        return (host, default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DhtConfigError(f"bad port in {text!r} (expected 1..65535)")
    return (host, int(port_text))


def parse_bootstrap(values: Iterable[str]) -> list[Addr]:
    """The ``--dht-bootstrap`` list: ``HOST:PORT`` items, and ``default`` for the routers."""
    out: list[Addr] = []
    for value in values:
        items = DEFAULT_BOOTSTRAP if value.strip().lower() == "default" else (
            parse_endpoint(value),
        )  # fmt: skip
        out.extend(a for a in items if a not in out)
    return out

"""What a `DhtNode` reports to its driver: small frozen dataclasses, drained by `events()`.

Commands (`get_peers`, `announce_peer`, `find_node`, `bootstrap`, `ping`) return an
integer handle; the events that finish them carry the same handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from .krpc import Addr, NodeInfo
from .lookup import LookupKind

__all__ = ["AnnounceDone", "BootstrapDone", "DhtEvent", "LookupDone", "PeerAnnounced",
           "PeersFound", "PingDone"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class PeersFound:
    """A get_peers lookup heard of peers it had not seen yet (more may follow)."""

    handle: int
    info_hash: bytes
    peers: tuple[Addr, ...]


@dataclass(frozen=True, slots=True)
class LookupDone:
    """A lookup finished. `rounds` is the hop depth it reached (see `Lookup.rounds`)."""

    handle: int
    kind: LookupKind
    target: bytes
    peers: tuple[Addr, ...]
    closest: tuple[NodeInfo, ...]
    queries: int
    responses: int
    timeouts: int
    rounds: int
    first_peers_round: int | None


@dataclass(frozen=True, slots=True)
class AnnounceDone:
    """announce_peer went to the closest nodes that gave us a token; `stored` said yes."""

    handle: int
    info_hash: bytes
    port: int
    stored: int
    attempted: int
    peers: tuple[Addr, ...]  # what the get_peers half of the announce found


@dataclass(frozen=True, slots=True)
class BootstrapDone:
    handle: int
    good_nodes: int


@dataclass(frozen=True, slots=True)
class PingDone:
    """A ping answered (`node_id` set) or timed out (`node_id` None)."""

    handle: int
    addr: Addr
    node_id: bytes | None


@dataclass(frozen=True, slots=True)
class PeerAnnounced:
    """Another node stored a peer with us (announce_peer with a valid token)."""

    info_hash: bytes
    peer: Addr


DhtEvent: TypeAlias = (
    PeersFound | LookupDone | AnnounceDone | BootstrapDone | PingDone | PeerAnnounced
)

"""The swarm store interface: what every tracker front-end asks of its storage.

A store keeps, per info-hash, the peers that announced lately (address, seeder or not,
when they expire) and how many ever completed. Two implementations sit behind the one
`SwarmStore` protocol: `MemorySwarmStore` (memory_store.py, one process, the default) and
`RedisSwarmStore` (redis_store.py, shared by many processes and machines).

The protocol is async because Redis is a round trip away; the memory store also offers
the same calls synchronously, which the UDP front-end uses on its hot path. Time is
always an argument (`now`): the memory store is pure and is tested over virtual time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from ..errors import BitswarmError
from ..tracker.announce import AnnounceEvent, AnnounceRequest, ScrapeStats

__all__ = [
    "EMPTY_STATS",
    "PeerAnnounce",
    "StoreTotals",
    "StoreUnavailable",
    "StoredPeer",
    "SwarmReply",
    "SwarmStore",
    "SwarmsFull",
]

#: one peer as stored and returned: (peer id, compact address: 6 bytes IPv4, 18 IPv6)
StoredPeer: TypeAlias = tuple[bytes, bytes]

EMPTY_STATS = ScrapeStats(complete=0, downloaded=0, incomplete=0)


class SwarmsFull(BitswarmError):
    """The store holds `TrackerConfig.max_swarms` swarms: an announce would start one more."""


class StoreUnavailable(BitswarmError):
    """The store cannot answer now (Redis down); the client should retry later."""


@dataclass(frozen=True, slots=True)
class PeerAnnounce:
    """One announce as the store applies it.

    `request` is what the client sent; `packed` is the address the tracker decided the
    peer is at (the connection's, or a trusted proxy's word) with the announced port, in
    compact form (BEP 23: 6 bytes; BEP 7: 18 bytes). `numwant` is already capped.
    `both_families` asks for peers of the other address family too (HTTP can carry both,
    as ``peers`` and ``peers6``; a UDP reply has one stride, BEP 15 "IPv6").
    """

    request: AnnounceRequest
    packed: bytes
    numwant: int
    both_families: bool = True

    @property
    def is_ipv6(self) -> bool:
        return len(self.packed) == 18

    @property
    def is_seeder(self) -> bool:
        return self.request.left == 0

    @property
    def is_stopped(self) -> bool:
        return self.request.event is AnnounceEvent.STOPPED


@dataclass(frozen=True, slots=True)
class SwarmReply:
    """What an announce gets back: the swarm's counts and some other peers in it."""

    complete: int
    incomplete: int
    downloaded: int
    peers4: tuple[StoredPeer, ...] = ()
    peers6: tuple[StoredPeer, ...] = ()


@dataclass(frozen=True, slots=True)
class StoreTotals:
    """Whole-store figures for /metrics and /stats."""

    swarms: int
    seeders: int
    leechers: int

    @property
    def peers(self) -> int:
        return self.seeders + self.leechers


class SwarmStore(Protocol):
    """Storage of swarms. Every call may raise `StoreUnavailable`."""

    #: True when `now` must be wall-clock time (shared across processes and machines);
    #: False when any monotonic clock will do (one process).
    wall_clock: bool

    async def announce(self, ann: PeerAnnounce, *, now: float) -> SwarmReply:
        """Apply one announce (add, refresh or remove the peer) and pick peers for it."""
        ...

    async def scrape(self, info_hashes: Sequence[bytes], *, now: float) -> list[ScrapeStats]:
        """Counts for each hash, in order; unknown swarms count zero."""
        ...

    async def full_scrape(self, *, limit: int, now: float) -> dict[bytes, ScrapeStats]:
        """Counts for up to `limit` known swarms (BEP 48 scrape without info_hash)."""
        ...

    async def totals(self, *, now: float) -> StoreTotals:
        """Swarm and peer counts over the whole store."""
        ...

    async def housekeeping(self, *, now: float) -> None:
        """Drop expired peers and forgotten swarms; called every few seconds."""
        ...

    async def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...

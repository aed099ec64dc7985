"""The peers other nodes announced to us: info-hash -> addresses, with expiry and bounds.

BEP 5 ("announce_peer"): the queried node stores the announcer's IP and port under the
info-hash and returns them to later get_peers queries. The store is what a hostile node
would try to fill, so every dimension is bounded: peers expire after `ttl` seconds (an
announcer re-announces; libtorrent every 15 minutes), one info-hash keeps at most
`max_per_hash` peers (the oldest goes first), and at most `max_hashes` info-hashes are held
(a new info-hash is refused while full, until entries expire). Replies hand out a random
sample of at most `limit` peers of the asker's address family (BEP 32 "values").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import LocalProtocolError
from .krpc import Addr

if TYPE_CHECKING:
    from random import Random

__all__ = ["PeerStore"]


class PeerStore:
    """Announced peers per info-hash; `now` is passed to every call."""

    __slots__ = ("_hashes", "max_hashes", "max_per_hash", "refused", "ttl")

    def __init__(self, *, ttl: float = 30 * 60.0, max_per_hash: int = 200,
                 max_hashes: int = 2000) -> None:  # fmt: skip
        if ttl <= 0 or max_per_hash < 1 or max_hashes < 1:
            raise LocalProtocolError("peer store bounds must be positive")
        self.ttl = ttl
        self.max_per_hash = max_per_hash
        self.max_hashes = max_hashes
        self.refused = 0  # announces dropped because the store was full
        # info-hash -> {addr: expiry}; dict order is announce order (oldest first)
        self._hashes: dict[bytes, dict[Addr, float]] = {}

    def __len__(self) -> int:
        """How many info-hashes have peers."""
        return len(self._hashes)

    def peer_count(self) -> int:
        return sum(len(peers) for peers in self._hashes.values())

    def add(self, info_hash: bytes, addr: Addr, *, now: float) -> bool:
        """Store (or refresh) `addr` for `info_hash`; False if the store is full."""
        peers = self._hashes.get(info_hash)
        if peers is None:
            if len(self._hashes) >= self.max_hashes:
                self.expire(now)
                if len(self._hashes) >= self.max_hashes:
                    self.refused += 1
                    return False
            peers = self._hashes[info_hash] = {}
        peers.pop(addr, None)  # re-announcing moves the peer to the newest end
        peers[addr] = now + self.ttl
        while len(peers) > self.max_per_hash:
            del peers[next(iter(peers))]
        return True

    def get(self, info_hash: bytes, *, now: float, family: int, limit: int,
            rng: Random) -> list[Addr]:  # fmt: skip
        """Up to `limit` live peers of `family` (4 or 6) for `info_hash`, sampled at random."""
        peers = self._hashes.get(info_hash)
        if not peers:
            return []
        live = [a for a, expiry in peers.items() if expiry > now and (":" in a[0]) == (family == 6)]
        if len(live) > limit:
            live = rng.sample(live, limit)
        return live

    def expire(self, now: float) -> int:
        """Drop expired peers and empty info-hashes; returns how many peers went."""
        gone = 0
        for info_hash in list(self._hashes):
            peers = self._hashes[info_hash]
            stale = [a for a, expiry in peers.items() if expiry <= now]
            for addr in stale:
                del peers[addr]
            gone += len(stale)
            if not peers:
                del self._hashes[info_hash]
        return gone

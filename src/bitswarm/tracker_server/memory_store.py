"""In-memory swarms for one tracker process: pure, `now` in, an injected rng for sampling.

Rules:

* A peer is keyed by its peer id within a swarm and address family (a dual-stack client
  announcing over IPv4 and IPv6 is one peer in each list, as BEP 7 expects it to
  announce once per address). A re-announce refreshes its expiry, address and state.
* ``left == 0`` makes a seeder, anything else a leecher (BEP 3 ``left``). ``stopped``
  removes the peer (BEP 3 "ceases downloading"). ``completed`` adds one to the swarm's
  completed count unless the peer was already known as a seeder, so a repeated
  ``completed`` is not counted twice.
* A peer not heard from for `peer_timeout` seconds is gone. Each swarm keeps a lower
  bound of its peers' expiry times; a swarm touched after that bound is swept first, so
  counts and peer lists never include an expired peer. `housekeeping` sweeps the rest
  and forgets empty swarms (after `retain_empty` when they have a completed count).
* Peers returned are a uniform sample (the rng) of the requester's address family,
  then, when asked for, of the other family; the requester itself is never returned.
  Each family is a dense list (swap-remove), so sampling costs O(numwant), not O(swarm).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ..tracker.announce import AnnounceEvent, ScrapeStats
from .config import TrackerConfig
from .store import EMPTY_STATS, PeerAnnounce, StoredPeer, StoreTotals, SwarmReply

if TYPE_CHECKING:
    import random

__all__ = ["MemorySwarmStore"]


class _Peer:
    __slots__ = ("expires", "key", "packed", "peer_id", "pos", "seeder")

    def __init__(self, peer_id: bytes, key: bytes, packed: bytes, seeder: bool, expires: float):
        self.peer_id = peer_id
        self.key = key
        self.packed = packed
        self.seeder = seeder
        self.expires = expires
        self.pos = 0


class _Swarm:
    __slots__ = ("by_key", "downloaded", "emptied_at", "leechers", "list4", "list6",
                 "next_expiry", "seeders")  # fmt: skip

    def __init__(self) -> None:
        self.by_key: dict[bytes, _Peer] = {}
        self.list4: list[_Peer] = []
        self.list6: list[_Peer] = []
        self.seeders = 0
        self.leechers = 0
        self.downloaded = 0
        self.next_expiry = math.inf  # no peer expires before this
        self.emptied_at = 0.0

    def stats(self) -> ScrapeStats:
        return ScrapeStats(complete=self.seeders, downloaded=self.downloaded,
                           incomplete=self.leechers)  # fmt: skip


class MemorySwarmStore:
    """Swarms in this process's memory. Async methods wrap the synchronous ones."""

    wall_clock = False

    def __init__(self, config: TrackerConfig, rng: random.Random) -> None:
        self._timeout = config.peer_timeout
        self._retain_empty = config.retain_empty
        self._rng = rng
        self._swarms: dict[bytes, _Swarm] = {}
        self._seeders = 0
        self._leechers = 0

    # -- synchronous API (pure) -----------------------------------------------------------

    def announce_now(self, ann: PeerAnnounce, now: float) -> SwarmReply:
        """Apply `ann` at time `now` and sample peers for the reply."""
        req = ann.request
        swarm = self._swarms.get(req.info_hash)
        stopped = req.event is AnnounceEvent.STOPPED
        if swarm is None:
            if stopped:
                return SwarmReply(0, 0, 0)
            swarm = self._swarms[req.info_hash] = _Swarm()
        elif now >= swarm.next_expiry:
            self._sweep(swarm, now)
        v6 = len(ann.packed) == 18
        key = req.peer_id + b"6" if v6 else req.peer_id
        peer = swarm.by_key.get(key)
        if stopped:
            if peer is not None:
                self._remove(swarm, peer, now)
            return SwarmReply(swarm.seeders, swarm.leechers, swarm.downloaded)
        seeder = req.left == 0
        expires = now + self._timeout
        if peer is None:
            if req.event is AnnounceEvent.COMPLETED:
                swarm.downloaded += 1
            peer = _Peer(req.peer_id, key, ann.packed, seeder, expires)
            family = swarm.list6 if v6 else swarm.list4
            peer.pos = len(family)
            family.append(peer)
            swarm.by_key[key] = peer
            self._count(swarm, seeder, +1)
            if expires < swarm.next_expiry:
                swarm.next_expiry = expires
        else:
            if req.event is AnnounceEvent.COMPLETED and not peer.seeder:
                swarm.downloaded += 1
            if peer.seeder != seeder:
                self._count(swarm, peer.seeder, -1)
                self._count(swarm, seeder, +1)
                peer.seeder = seeder
            peer.packed = ann.packed
            peer.expires = expires  # later than before: next_expiry stays a lower bound
        own, other = (swarm.list6, swarm.list4) if v6 else (swarm.list4, swarm.list6)
        mine = self._sample(own, ann.numwant, peer)
        theirs: tuple[StoredPeer, ...] = ()
        if ann.both_families and other and len(mine) < ann.numwant:
            theirs = self._sample(other, ann.numwant - len(mine), None)
        p4, p6 = (theirs, mine) if v6 else (mine, theirs)
        return SwarmReply(swarm.seeders, swarm.leechers, swarm.downloaded, p4, p6)

    def scrape_now(self, info_hashes: Sequence[bytes], now: float) -> list[ScrapeStats]:
        """Counts per hash, in order; unknown hashes count zero."""
        out = []
        for info_hash in info_hashes:
            swarm = self._swarms.get(info_hash)
            if swarm is None:
                out.append(EMPTY_STATS)
                continue
            if now >= swarm.next_expiry:
                self._sweep(swarm, now)
            out.append(swarm.stats())
        return out

    def full_scrape_now(self, limit: int, now: float) -> dict[bytes, ScrapeStats]:
        """Counts of up to `limit` swarms, in the order they were first seen."""
        out: dict[bytes, ScrapeStats] = {}
        for info_hash, swarm in self._swarms.items():
            if len(out) >= limit:
                break
            if now >= swarm.next_expiry:
                self._sweep(swarm, now)
            if swarm.by_key or swarm.downloaded:
                out[info_hash] = swarm.stats()
        return out

    def totals_now(self) -> StoreTotals:
        return StoreTotals(len(self._swarms), self._seeders, self._leechers)

    def housekeeping_now(self, now: float) -> int:
        """Sweep every swarm that is due, forget dead ones; return how many were forgotten."""
        dead = []
        for info_hash, swarm in self._swarms.items():
            if now >= swarm.next_expiry:
                self._sweep(swarm, now)
            if not swarm.by_key and (
                not swarm.downloaded or now - swarm.emptied_at >= self._retain_empty
            ):
                dead.append(info_hash)
        for info_hash in dead:
            del self._swarms[info_hash]
        return len(dead)

    def peers_of(self, info_hash: bytes) -> Iterator[StoredPeer]:
        """Every stored peer of one swarm (for tests and /stats), expired or not."""
        swarm = self._swarms.get(info_hash)
        if swarm is not None:
            for peer in swarm.by_key.values():
                yield peer.peer_id, peer.packed

    # -- the SwarmStore protocol ----------------------------------------------------------

    async def announce(self, ann: PeerAnnounce, *, now: float) -> SwarmReply:
        return self.announce_now(ann, now)

    async def scrape(self, info_hashes: Sequence[bytes], *, now: float) -> list[ScrapeStats]:
        return self.scrape_now(info_hashes, now)

    async def full_scrape(self, *, limit: int, now: float) -> dict[bytes, ScrapeStats]:
        return self.full_scrape_now(limit, now)

    async def totals(self, *, now: float) -> StoreTotals:
        return self.totals_now()

    async def housekeeping(self, *, now: float) -> None:
        self.housekeeping_now(now)

    async def close(self) -> None:
        self._swarms.clear()
        self._seeders = self._leechers = 0

    # -- internals ------------------------------------------------------------------------

    def _count(self, swarm: _Swarm, seeder: bool, delta: int) -> None:
        if seeder:
            swarm.seeders += delta
            self._seeders += delta
        else:
            swarm.leechers += delta
            self._leechers += delta

    def _remove(self, swarm: _Swarm, peer: _Peer, now: float) -> None:
        family = swarm.list6 if len(peer.packed) == 18 else swarm.list4
        last = family.pop()
        if last is not peer:  # swap-remove: the last peer takes the removed one's place
            family[peer.pos] = last
            last.pos = peer.pos
        del swarm.by_key[peer.key]
        self._count(swarm, peer.seeder, -1)
        if not swarm.by_key:
            swarm.next_expiry = math.inf
            swarm.emptied_at = now

    def _sweep(self, swarm: _Swarm, now: float) -> None:
        for peer in [p for p in swarm.by_key.values() if p.expires <= now]:
            self._remove(swarm, peer, now)
        swarm.next_expiry = min((p.expires for p in swarm.by_key.values()), default=math.inf)

    def _sample(
        self, family: list[_Peer], want: int, exclude: _Peer | None
    ) -> tuple[StoredPeer, ...]:
        n = len(family)
        if want <= 0 or n == 0:
            return ()
        if n <= want + 1:
            chosen: Sequence[_Peer] = family
        else:
            chosen = [family[i] for i in self._rng.sample(range(n), want + 1)]
        out = tuple((p.peer_id, p.packed) for p in chosen if p is not exclude)
        return out[:want]

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
  UDP's `announce_packed` returns compact bytes instead: a random window of the
  family's address array (one or two slices, every peer as likely as any), so a reply
  costs a few operations however many peers it carries (the tracker's hot path).

Layout: memory per peer is what limits a tracker, so a swarm keeps each address family
as parallel fixed-stride arrays (peer ids, compact addresses, expiry times, seeder
flags) plus one dictionary from peer key to index; removal swaps the last peer into the
hole. Sampling is O(numwant), not O(swarm), and a peer costs about half of what one
Python object per peer did (bench/RESULTS.md has the figures).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ..tracker.announce import AnnounceEvent, ScrapeStats
from .config import TrackerConfig
from .store import EMPTY_STATS, PeerAnnounce, StoredPeer, StoreTotals, SwarmReply, SwarmsFull

if TYPE_CHECKING:
    import random

__all__ = ["MemorySwarmStore"]

_ID = 20  # bytes of a peer id


class _Family:
    """One address family's peers in a swarm, as parallel arrays indexed 0..n-1."""

    __slots__ = ("addrs", "expires", "ids", "seeder", "stride", "suffix")

    def __init__(self, stride: int, suffix: bytes) -> None:
        self.stride = stride  # 6 (BEP 23) or 18 (BEP 7) bytes of compact address
        self.suffix = suffix  # appended to a peer id to make its key in the swarm
        self.ids = bytearray()
        self.addrs = bytearray()
        self.expires = array("d")
        self.seeder = bytearray()

    def __len__(self) -> int:
        return len(self.seeder)

    def append(self, peer_id: bytes, packed: bytes, seeder: bool, expires: float) -> int:
        self.ids += peer_id
        self.addrs += packed
        self.expires.append(expires)
        self.seeder.append(seeder)
        return len(self.seeder) - 1

    def key(self, i: int) -> bytes:
        return bytes(self.ids[_ID * i : _ID * (i + 1)]) + self.suffix

    def peer(self, i: int) -> StoredPeer:
        s = self.stride
        return bytes(self.ids[_ID * i : _ID * (i + 1)]), bytes(self.addrs[s * i : s * (i + 1)])

    def remove(self, i: int) -> bytes | None:
        """Swap-remove peer `i`; the key of the peer moved into its place, if any."""
        last = len(self.seeder) - 1
        s = self.stride
        moved = None
        if i != last:
            self.ids[_ID * i : _ID * (i + 1)] = self.ids[_ID * last :]
            self.addrs[s * i : s * (i + 1)] = self.addrs[s * last :]
            self.expires[i] = self.expires[last]
            self.seeder[i] = self.seeder[last]
            moved = self.key(i)
        del self.ids[_ID * last :], self.addrs[s * last :], self.expires[last], self.seeder[last]
        return moved


class _Swarm:
    __slots__ = ("by_key", "downloaded", "emptied_at", "leechers", "next_expiry", "seeders",
                 "v4", "v6")  # fmt: skip

    def __init__(self) -> None:
        self.by_key: dict[bytes, int] = {}  # peer key -> its index in its family
        self.v4 = _Family(6, b"")
        self.v6: _Family | None = None  # made on the first IPv6 peer: most swarms have none
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
        self._max_swarms = config.max_swarms
        self._max_peers = config.max_peers_per_swarm
        self._rng = rng
        self._swarms: dict[bytes, _Swarm] = {}
        self._seeders = 0
        self._leechers = 0

    # -- synchronous API (pure) -----------------------------------------------------------

    def announce_now(self, ann: PeerAnnounce, now: float) -> SwarmReply:
        """Apply `ann` at time `now` and sample peers for the reply."""
        req = ann.request
        v6 = len(ann.packed) == 18
        got = self._apply(req.info_hash, req.peer_id, ann.packed, req.left, req.event, now)
        if got is None:
            return SwarmReply(0, 0, 0)
        swarm, fam, i = got
        if i is None:  # stopped
            return SwarmReply(swarm.seeders, swarm.leechers, swarm.downloaded)
        other = swarm.v4 if v6 else swarm.v6
        mine = self._sample(fam, ann.numwant, i)
        theirs: tuple[StoredPeer, ...] = ()
        if ann.both_families and other is not None and len(mine) < ann.numwant:
            theirs = self._sample(other, ann.numwant - len(mine), -1)
        p4, p6 = (theirs, mine) if v6 else (mine, theirs)
        return SwarmReply(swarm.seeders, swarm.leechers, swarm.downloaded, p4, p6)

    def announce_packed(
        self, info_hash: bytes, peer_id: bytes, packed: bytes, left: int, event: AnnounceEvent,
        numwant: int, now: float,
    ) -> tuple[int, int, int, bytes]:  # fmt: skip
        """`announce_now` for a UDP reply: (seeders, leechers, completed, peers).

        The peers are the compact addresses of the announcer's own family (BEP 15 has one
        stride per reply), joined: a random window of the family's address array, taken
        as one or two slices, so the reply costs the same few operations whatever
        `numwant` is. No request or reply object is built.
        """
        got = self._apply(info_hash, peer_id, packed, left, event, now)
        if got is None:
            return 0, 0, 0, b""
        swarm, fam, i = got
        if i is None:
            return swarm.seeders, swarm.leechers, swarm.downloaded, b""
        return swarm.seeders, swarm.leechers, swarm.downloaded, self._window(fam, numwant, i)

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
            for fam in (swarm.v4, swarm.v6):
                if fam is not None:
                    yield from (fam.peer(i) for i in range(len(fam)))

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

    def _apply(
        self, info_hash: bytes, peer_id: bytes, packed: bytes, left: int, event: AnnounceEvent,
        now: float,
    ) -> tuple[_Swarm, _Family, int | None] | None:  # fmt: skip
        """Add, refresh or remove one peer: its swarm, family and index (None: it stopped;
        -1: the swarm is full and it is not stored); None for a stop in an unknown swarm."""
        swarm = self._swarms.get(info_hash)
        stopped = event is AnnounceEvent.STOPPED
        if swarm is None:
            if stopped:
                return None
            if len(self._swarms) >= self._max_swarms:
                raise SwarmsFull(f"{len(self._swarms)} swarms")
            swarm = self._swarms[info_hash] = _Swarm()
        elif now >= swarm.next_expiry:
            self._sweep(swarm, now)
        if len(packed) == 18:
            fam = swarm.v6 or _Family(18, b"6")
            swarm.v6 = fam
        else:
            fam = swarm.v4
        key = peer_id + fam.suffix
        i = swarm.by_key.get(key)
        if stopped:
            if i is not None:
                self._remove(swarm, fam, key, i, now)
            return swarm, fam, None
        seeder = left == 0
        expires = now + self._timeout
        if i is None and len(swarm.by_key) >= self._max_peers:
            i = -1  # a full swarm: the newcomer gets peers but is not stored (see docs)
        elif i is None:
            if event is AnnounceEvent.COMPLETED:
                swarm.downloaded += 1
            i = swarm.by_key[key] = fam.append(peer_id, packed, seeder, expires)
            self._count(swarm, seeder, +1)
            if expires < swarm.next_expiry:
                swarm.next_expiry = expires
        else:
            was_seeder = fam.seeder[i] == 1
            if event is AnnounceEvent.COMPLETED and not was_seeder:
                swarm.downloaded += 1
            if was_seeder != seeder:
                self._count(swarm, was_seeder, -1)
                self._count(swarm, seeder, +1)
                fam.seeder[i] = seeder
            stride = fam.stride
            fam.addrs[stride * i : stride * (i + 1)] = packed
            fam.expires[i] = expires  # later than before: next_expiry stays a lower bound
        return swarm, fam, i

    def _count(self, swarm: _Swarm, seeder: bool, delta: int) -> None:
        if seeder:
            swarm.seeders += delta
            self._seeders += delta
        else:
            swarm.leechers += delta
            self._leechers += delta

    def _remove(self, swarm: _Swarm, fam: _Family, key: bytes, i: int, now: float) -> None:
        self._count(swarm, bool(fam.seeder[i]), -1)
        del swarm.by_key[key]
        moved = fam.remove(i)
        if moved is not None:
            swarm.by_key[moved] = i
        if not swarm.by_key:
            swarm.next_expiry = math.inf
            swarm.emptied_at = now

    def _sweep(self, swarm: _Swarm, now: float) -> None:
        low = math.inf
        for fam in (swarm.v4, swarm.v6):
            if fam is None:
                continue
            expires = fam.expires
            # Downwards, so the peer swapped into a hole has been looked at already.
            for i in range(len(fam) - 1, -1, -1):
                if expires[i] <= now:
                    self._remove(swarm, fam, fam.key(i), i, now)
            if len(fam):
                low = min(low, min(fam.expires))
        swarm.next_expiry = low

    def _sample(self, fam: _Family, want: int, exclude: int) -> tuple[StoredPeer, ...]:
        """Up to `want` peers of `fam` at random, never the one at index `exclude`."""
        n = len(fam)
        if want <= 0 or n == 0:
            return ()
        chosen = range(n) if n <= want + 1 else self._rng.sample(range(n), want + 1)
        out = tuple(fam.peer(i) for i in chosen if i != exclude)
        return out[:want]

    def _window(self, fam: _Family, want: int, exclude: int) -> bytes:
        """Up to `want` compact addresses of `fam`, never the one at index `exclude`.

        A family no bigger than `want` (plus the asker) is returned whole; a bigger one as
        a window of `want` + 1 entries from a random start, wrapping round the end, less
        the asker (or the window's last entry). Every other peer is as likely as any to be
        in it; arrival order and swap-removal decide who come together.
        """
        n = len(fam.seeder)
        if want <= 0 or n == 0:
            return b""
        s = fam.stride
        addrs = fam.addrs
        if n <= want + (0 <= exclude < n):
            window, start = addrs, 0
        else:
            start = int(self._rng.random() * n)
            end = start + want + 1
            window = addrs[s * start : s * end] if end <= n else (
                addrs[s * start :] + addrs[: s * (end - n)])  # fmt: skip
            n = want + 1
        j = (exclude - start) % len(fam.seeder) if exclude >= 0 else n
        if j < n:
            return bytes(window[: s * j] + window[s * (j + 1) : s * n])
        return bytes(window[: s * min(n, want)])

"""What the HTTP and UDP front-ends share: admission, private mode, the store, counters.

A front-end parses its protocol (http_codec.py, tracker/udp_codec.py), then asks the service:
may this address send another request (rate limit), is this info-hash tracked (private
mode), apply this announce, count these swarms. Refusals are `RequestRefused` with a
`kind` for the metrics; a store that cannot answer (Redis down) becomes the refusal
"tracker storage unavailable", so a client hears a failure reason at once and retries
later, and the process carries on.

The clock is chosen once: monotonic loop time for the in-memory store, wall-clock time
for Redis, whose data several processes and machines share.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ..ratelimit import SourceRateLimiter
from ..tracker.announce import ScrapeStats
from .config import TRACKER_FULL, RequestRefused, TrackerConfig
from .memory_store import MemorySwarmStore
from .metrics import TrackerMetrics
from .shard_store import ShardedStore
from .store import (
    EMPTY_STATS,
    PeerAnnounce,
    StoreTotals,
    StoreUnavailable,
    SwarmReply,
    SwarmsFull,
    SwarmStore,
)
from .whitelist import Whitelist

__all__ = ["NOT_AUTHORIZED", "STORE_DOWN", "TrackerService"]

NOT_AUTHORIZED = "Requested download is not authorized for use with this tracker."
STORE_DOWN = "tracker storage unavailable, try again later"
MAX_LIMITED_ADDRESSES = 65_536  # addresses whose request rate is remembered (LRU)

log = logging.getLogger("bitswarm.tracker")


class TrackerService:
    """One per process; shared by its HTTP and UDP front-ends."""

    def __init__(
        self,
        config: TrackerConfig,
        store: SwarmStore,
        *,
        clock: Callable[[], float],
        whitelist: Whitelist | None = None,
        metrics: TrackerMetrics | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.whitelist = whitelist or Whitelist()
        self.metrics = metrics or TrackerMetrics()
        self.limiter = (
            SourceRateLimiter(
                rate=config.rate_limit,
                burst=max(1, config.rate_burst or int(config.rate_limit)),
                max_sources=MAX_LIMITED_ADDRESSES,
            )
            if config.rate_limit > 0
            else None
        )
        #: the store, when it answers synchronously (in memory): no task, no await; with
        #: workers, this worker's own swarms (`sync_for` says when it may be used)
        self.sync_store: MemorySwarmStore | None = None
        self._sharded: ShardedStore | None = None
        if isinstance(store, MemorySwarmStore):
            self.sync_store = store
        elif isinstance(store, ShardedStore):
            self.sync_store, self._sharded = store.local, store

    def sync_for(self, info_hash: bytes) -> MemorySwarmStore | None:
        """The synchronous store when it holds `info_hash`'s swarm, else None (await)."""
        sharded = self._sharded
        if sharded is None or sharded.owns(info_hash):
            return self.sync_store
        return None

    def sync_for_all(self, info_hashes: Sequence[bytes]) -> MemorySwarmStore | None:
        """The synchronous store when it holds every one of these swarms, else None."""
        sharded = self._sharded
        if sharded is None or all(sharded.owns(h) for h in info_hashes):
            return self.sync_store
        return None

    def admit(self, host: str, now: float) -> None:
        """Raise `RequestRefused` when `host` is over its request rate."""
        if self.limiter is not None and not self.limiter.allow(host, now):
            raise RequestRefused("too many requests from your address, slow down", "rate_limited")

    def authorize(self, info_hash: bytes) -> None:
        """Raise `RequestRefused` for an info-hash outside the whitelist (private mode)."""
        if not self.whitelist.allows(info_hash):
            raise RequestRefused(NOT_AUTHORIZED, "unauthorized")

    def announce_now(self, ann: PeerAnnounce, local: MemorySwarmStore) -> SwarmReply:
        """`announce` on the in-memory store that holds its swarm (`sync_for`), no await."""
        self.authorize(ann.request.info_hash)
        try:
            return local.announce_now(ann, self.clock())
        except SwarmsFull:
            raise RequestRefused(TRACKER_FULL, "full") from None

    async def announce(self, ann: PeerAnnounce) -> SwarmReply:
        self.authorize(ann.request.info_hash)
        local = self.sync_for(ann.request.info_hash)
        try:
            if local is not None:
                return local.announce_now(ann, self.clock())
            return await self.store.announce(ann, now=self.clock())
        except StoreUnavailable as exc:
            log.warning("store unavailable", extra={"error": str(exc)})
            raise RequestRefused(STORE_DOWN, "store") from None
        except SwarmsFull:
            raise RequestRefused(TRACKER_FULL, "full") from None

    async def scrape(self, info_hashes: Sequence[bytes]) -> list[ScrapeStats]:
        """Counts per hash; hashes outside the whitelist count zero and are not looked up."""
        wanted = [h for h in info_hashes if self.whitelist.allows(h)]
        try:
            found = await self.store.scrape(wanted, now=self.clock()) if wanted else []
        except StoreUnavailable as exc:
            log.warning("store unavailable", extra={"error": str(exc)})
            raise RequestRefused(STORE_DOWN, "store") from None
        by_hash = dict(zip(wanted, found, strict=True))
        return [by_hash.get(h, EMPTY_STATS) for h in info_hashes]

    async def full_scrape(self) -> dict[bytes, ScrapeStats]:
        if not self.config.full_scrape:
            raise RequestRefused("full scrape is disabled; name an info_hash", "unauthorized")
        try:
            files = await self.store.full_scrape(
                limit=self.config.full_scrape_limit, now=self.clock()
            )
        except StoreUnavailable:
            raise RequestRefused(STORE_DOWN, "store") from None
        return {h: s for h, s in files.items() if self.whitelist.allows(h)}

    async def totals(self) -> StoreTotals | None:
        """Whole-store counts, or None when the store cannot say right now."""
        try:
            return await self.store.totals(now=self.clock())
        except StoreUnavailable:
            return None

    async def housekeeping(self) -> None:
        try:
            await self.store.housekeeping(now=self.clock())
        except StoreUnavailable:
            pass

"""Swarms in Redis, shared by every tracker process and machine that points at it.

Key layout (the info-hash in lower-case hex is a hash tag, so Redis Cluster puts every
key of one swarm in one slot and the announce script may touch them all)::

    bsw:{<hex>}:p4   hash    peer id -> 6-byte compact IPv4 address+port (BEP 23)
    bsw:{<hex>}:p6   hash    peer id -> 18-byte compact IPv6 address+port (BEP 7)
    bsw:{<hex>}:s    zset    seeders:  "4"|"6" + peer id, scored by expiry time
    bsw:{<hex>}:l    zset    leechers: the same
    bsw:{<hex>}:d    string  completed count

One announce is one script call: a Lua script (EVALSHA) drops up to 256 expired members,
upserts or removes the peer, bumps the completed count, samples peers with HRANDFIELD
and returns the counts. Announces that arrive in the same turn of the event loop (a UDP
batch, concurrent HTTP requests) share one pipelined round trip. Counts use ZCOUNT above
`now`, so a peer past its expiry never counts even before it is swept. Every swarm key
is given a TTL on each announce, so a swarm nobody announces to disappears by itself;
the completed count lives longer.

Time is wall-clock seconds from the tracker processes (keep their clocks in sync, NTP).

Failure handling: every call is bounded by a short socket timeout and never retried;
after a connection failure the store refuses at once for `retry_after` seconds instead
of making each client wait for a timeout, then tries again. The store on a Redis
Cluster (redis_cluster_store.py) is this class with three hooks changed: its client,
`_parts` (a batch runs as one pipeline per node, and a node that fails refuses only its
own swarms) and `_scan_keys` (each master is scanned in turn). Errors surface as
`StoreUnavailable`; the service turns them into a failure reason. redis-py reconnects by
itself when Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError, ResponseError

from ..tracker.announce import AnnounceEvent, ScrapeStats
from .config import TrackerConfig
from .store import (
    PeerAnnounce,
    StoredPeer,
    StoreTotals,
    StoreUnavailable,
    SwarmReply,
    SwarmsFull,
)

__all__ = ["ANNOUNCE_SCRIPT", "QueuedAnnounce", "RedisSwarmStore", "swarm_keys"]

log = logging.getLogger("bitswarm.tracker.redis")

_COMPLETED_TTL = 30 * 86_400
_TOTALS_EVERY = 15.0

ANNOUNCE_SCRIPT = """
local p4, p6, s, l, d = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local pid, packed, fam, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local expires, seeder, event = ARGV[5], ARGV[6] == '1', ARGV[7]
local numwant, ttl, both, dttl = tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10] == '1', ARGV[11]
local max_peers, swarms_full = tonumber(ARGV[12]), ARGV[13] == '1'
for _, z in ipairs({s, l}) do
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', now, 'LIMIT', 0, 256)
  for _, m in ipairs(old) do
    redis.call('HDEL', (string.sub(m, 1, 1) == '6') and p6 or p4, string.sub(m, 2))
  end
  if #old > 0 then redis.call('ZREM', z, unpack(old)) end
end
local member = fam .. pid
local own, other = p4, p6
if fam == '6' then own, other = p6, p4 end
local own_peers, other_peers = {}, {}
if event == 'stopped' then
  redis.call('ZREM', s, member)
  redis.call('ZREM', l, member)
  redis.call('HDEL', own, pid)
else
  local was_seeder = redis.call('ZSCORE', s, member)
  local store = true
  if not was_seeder and not redis.call('ZSCORE', l, member) then
    local size = redis.call('ZCARD', s) + redis.call('ZCARD', l)
    if size == 0 and swarms_full and redis.call('EXISTS', d) == 0 then
      return {-1}
    end
    store = size < max_peers
  end
  if store then
    if seeder then
      redis.call('ZADD', s, expires, member)
      redis.call('ZREM', l, member)
    else
      redis.call('ZADD', l, expires, member)
      redis.call('ZREM', s, member)
    end
    redis.call('HSET', own, pid, packed)
  end
  if store and event == 'completed' and not was_seeder then
    redis.call('INCR', d)
  end
  for _, k in ipairs({p4, p6, s, l}) do redis.call('EXPIRE', k, ttl) end
  redis.call('EXPIRE', d, dttl)
  if numwant > 0 then
    own_peers = redis.call('HRANDFIELD', own, numwant + 1, 'WITHVALUES')
    if both then other_peers = redis.call('HRANDFIELD', other, numwant, 'WITHVALUES') end
  end
end
local excl = '(' .. now
return {redis.call('ZCOUNT', s, excl, '+inf'), redis.call('ZCOUNT', l, excl, '+inf'),
        tonumber(redis.call('GET', d) or '0'), own_peers, other_peers}
"""


def swarm_keys(info_hash: bytes, prefix: str = "bsw") -> list[str]:
    """The five keys of one swarm, in the order the announce script takes them."""
    tag = f"{prefix}:{{{info_hash.hex()}}}:"
    return [tag + "p4", tag + "p6", tag + "s", tag + "l", tag + "d"]


def _pairs(flat: list[bytes], exclude: bytes, want: int) -> tuple[StoredPeer, ...]:
    out = [(flat[i], flat[i + 1]) for i in range(0, len(flat) - 1, 2) if flat[i] != exclude]
    return tuple(out[:want])


class RedisSwarmStore:
    """A `SwarmStore` on a real redis-server (``redis://host:port/db``)."""

    wall_clock = True

    def __init__(
        self, url: str, config: TrackerConfig, *, prefix: str = "bsw",
        timeout: float = 0.5, retry_after: float = 1.0,
    ) -> None:  # fmt: skip
        self.url = url
        self._prefix = prefix
        self._timeout = config.peer_timeout
        self._max_peers = config.max_peers_per_swarm
        self._max_swarms = config.max_swarms
        self._retry_after = retry_after
        self._redis: Any = self._connect(url, timeout)  # aioredis.Redis, or RedisCluster
        self._sha: str | None = None  # the script's SHA1 once SCRIPT LOAD said it is there
        self._queue: list[QueuedAnnounce] = []
        self._flushes: set[asyncio.Task[None]] = set()
        #: refuse at once until then, per part of the store that failed ("" is all of it)
        self._down_until: dict[str, float] = {}
        self._totals: StoreTotals | None = None
        self._totals_at = -_TOTALS_EVERY

    def _connect(self, url: str, timeout: float) -> Any:
        """The client, never retrying by itself (`_call` says why); a subclass may differ."""
        return aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0), decode_responses=False,
        )  # fmt: skip

    def _is_down(self, part: str) -> bool:
        return time.monotonic() < max(self._down_until.get(part, 0.0),
                                      self._down_until.get("", 0.0))  # fmt: skip

    async def _call(self, what: str, coro: Any, part: str = "") -> Any:
        """Await a Redis call, turning every failure into `StoreUnavailable`; a connection
        failure makes `part` (a cluster node's name, "" for the whole store) refuse at once
        for `retry_after` seconds."""
        if self._is_down(part):
            coro.close()
            raise StoreUnavailable(f"redis at {self._display()} is down (retrying shortly)")
        try:
            return await coro
        except ResponseError as exc:
            log.error("redis refused a command", extra={"op": what, "error": str(exc)})
            raise StoreUnavailable(f"redis refused {what}: {exc}") from None
        except (RedisError, OSError) as exc:
            self._down_until[part] = time.monotonic() + self._retry_after
            log.warning("redis unavailable", extra={"op": what, "part": part, "error": str(exc)})
            raise StoreUnavailable(f"redis at {self._display()}: {exc}") from None

    def _display(self) -> str:
        return self.url.split("@")[-1]  # never log a password

    async def announce(self, ann: PeerAnnounce, *, now: float) -> SwarmReply:
        req = ann.request
        v6 = len(ann.packed) == 18
        event = req.event.value or "none"
        args = [
            req.peer_id, ann.packed, "6" if v6 else "4", repr(now), repr(now + self._timeout),
            "1" if req.left == 0 else "0", event, ann.numwant,
            int(self._timeout) + 60, "1" if ann.both_families else "0", _COMPLETED_TTL,
            self._max_peers, "1" if self._swarms_full() else "0",
        ]  # fmt: skip
        if self._is_down(""):
            raise StoreUnavailable(f"redis at {self._display()} is down (retrying shortly)")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[Any]] = loop.create_future()
        self._queue.append((swarm_keys(req.info_hash, self._prefix), args, fut))
        if len(self._queue) == 1:  # the first of this turn schedules the batch
            loop.call_soon(self._flush)
        result = await fut
        if result[0] == -1:
            raise SwarmsFull(f"about {self._max_swarms} swarms")
        seeders, leechers, downloaded, own, other = result
        if req.event is AnnounceEvent.STOPPED:
            return SwarmReply(int(seeders), int(leechers), int(downloaded))
        mine = _pairs(own, req.peer_id, ann.numwant)
        theirs = _pairs(other, b"", ann.numwant - len(mine))
        p4, p6 = (theirs, mine) if v6 else (mine, theirs)
        return SwarmReply(int(seeders), int(leechers), int(downloaded), p4, p6)

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._run_batch(batch))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _run_batch(self, batch: list[QueuedAnnounce]) -> None:
        """Run the batch, one pipeline per part of the store (`_parts`), side by side."""
        try:
            parts = await self._call("topology", self._parts(batch))
        except StoreUnavailable as exc:
            _fail(batch, StoreUnavailable(str(exc)))
            return
        if len(parts) == 1:
            ((part, calls),) = parts.items()
            await self._run_part(part, calls)
        else:
            await asyncio.gather(*(self._run_part(p, c) for p, c in parts.items()))

    async def _parts(self, batch: list[QueuedAnnounce]) -> dict[str, list[QueuedAnnounce]]:
        """The batch split by the part of the store that answers it: one part here (a
        single Redis); a cluster splits it by node, so that a node down fails only its own."""
        return {"": batch}

    async def _run_part(self, part: str, batch: list[QueuedAnnounce]) -> None:
        """One pipeline of EVALSHA calls; reload the script once if Redis lost it."""
        try:
            for attempt in range(2):
                if self._sha is None:
                    self._sha = await self._call(
                        "script load", self._redis.script_load(ANNOUNCE_SCRIPT)
                    )
                pipe = self._redis.pipeline(transaction=False)
                for keys, args, _ in batch:
                    pipe.evalsha(self._sha, len(keys), *keys, *args)
                results = await self._call("announce", pipe.execute(raise_on_error=False), part)
                if attempt == 0 and any(isinstance(r, NoScriptError) for r in results):
                    self._sha = None  # Redis restarted, failed over or flushed its scripts
                    continue
                break
        except StoreUnavailable as exc:
            _fail(batch, StoreUnavailable(str(exc)))
            return
        except BaseException as exc:  # cancelled, or a bug: no announce may wait for ever
            _fail(batch, StoreUnavailable(f"redis batch failed: {exc!r}"))
            raise
        for (_, _, fut), result in zip(batch, results, strict=True):
            if fut.done():
                continue
            if isinstance(result, Exception):
                log.error("redis refused an announce", extra={"error": str(result)})
                fut.set_exception(StoreUnavailable(f"redis refused the announce: {result}"))
            else:
                fut.set_result(result)

    def _swarms_full(self) -> bool:
        """Whether the last count (`totals`, at most every 15 s) reached `max_swarms`: the
        cap is approximate with Redis, counted by SCAN rather than at each announce."""
        totals = self._totals
        return totals is not None and totals.swarms >= self._max_swarms

    async def scrape(self, info_hashes: Sequence[bytes], *, now: float) -> list[ScrapeStats]:
        if not info_hashes:
            return []
        excl = f"({now!r}"
        pipe = self._redis.pipeline(transaction=False)
        for info_hash in info_hashes:
            _, _, s, lk, d = swarm_keys(info_hash, self._prefix)
            pipe.zcount(s, excl, "+inf")
            pipe.zcount(lk, excl, "+inf")
            pipe.get(d)
        values = await self._call("scrape", pipe.execute())
        return [
            ScrapeStats(complete=int(values[i]), downloaded=int(values[i + 2] or 0),
                        incomplete=int(values[i + 1]))
            for i in range(0, len(values), 3)
        ]  # fmt: skip

    async def _swarm_hashes(self, limit: int) -> list[bytes]:
        """Info-hashes with keys in Redis, by SCAN (`_scan_keys`: every master of a cluster)."""
        found: dict[bytes, None] = {}

        async def scan() -> None:
            async for key in self._scan_keys(f"{self._prefix}:{{*}}:*"):
                tag = bytes(key).split(b"{", 1)[-1].split(b"}", 1)[0]
                if len(tag) == 40:
                    found[bytes.fromhex(tag.decode("ascii"))] = None
                    if len(found) >= limit:
                        return

        await self._call("scan", scan())
        return list(found)

    def _scan_keys(self, match: str) -> AsyncIterator[bytes]:
        """Every key that matches, by SCAN (a cluster scans each of its masters)."""
        keys: AsyncIterator[bytes] = self._redis.scan_iter(match=match, count=1000)
        return keys

    async def full_scrape(self, *, limit: int, now: float) -> dict[bytes, ScrapeStats]:
        hashes = await self._swarm_hashes(limit)
        stats = await self.scrape(hashes, now=now)
        return {h: s for h, s in zip(hashes, stats, strict=True) if s != _ZERO}

    async def totals(self, *, now: float) -> StoreTotals:
        """Counted by SCAN at most every 15 s per process (a full pass is not free)."""
        if self._totals is not None and time.monotonic() - self._totals_at < _TOTALS_EVERY:
            return self._totals
        files = await self.full_scrape(limit=1_000_000, now=now)
        self._totals = StoreTotals(
            swarms=sum(1 for s in files.values() if s.complete or s.incomplete),
            seeders=sum(s.complete for s in files.values()),
            leechers=sum(s.incomplete for s in files.values()),
        )
        self._totals_at = time.monotonic()
        return self._totals

    async def housekeeping(self, *, now: float) -> None:
        """Nothing to do: the script sweeps on each announce and keys carry TTLs."""

    async def ping(self) -> bool:
        try:
            return bool(await self._call("ping", self._redis.ping()))
        except StoreUnavailable:
            return False

    async def close(self) -> None:
        for task in list(self._flushes):
            task.cancel()
        await self._redis.aclose()


_ZERO = ScrapeStats(complete=0, downloaded=0, incomplete=0)

#: one queued announce: its keys, its script arguments and the future that gets the reply
QueuedAnnounce: TypeAlias = tuple[list[str], list[Any], "asyncio.Future[list[Any]]"]


def _fail(batch: list[QueuedAnnounce], exc: StoreUnavailable) -> None:
    for _, _, fut in batch:
        if not fut.done():
            fut.set_exception(StoreUnavailable(str(exc)))

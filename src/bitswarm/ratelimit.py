"""Rate limits: a token bucket, and a bucket per source address. Pure: `now` goes in.

`TokenBucket` holds `burst` tokens (bytes, or requests) refilled at `rate` per second.
`consume(n, now)` takes n at once, possibly going into debt, and returns how long to wait
before sending, so a 16 KiB block is never split and a limit below one block per second
still works. A global and a per-torrent bucket compose: consume from both and wait the
longer (`consume_all`). `rate_bucket` makes the session's byte limits.

`read_allowance` bounds that debt on the receiving side, where bytes are counted only after
a socket read: a read takes at most the tokens available, or one slice (1/8 s at the
limit) when there are none, so the debt after a read is never more than a slice. Without
it one 256 KiB read at 32 KiB/s put the bucket 8 s in debt, and every other connection
sharing the bucket (a session limit) then waited those 8 s too, whatever arrived on it:
libtorrent likewise hands out quota before a read, not after.

`SourceRateLimiter` gives every source address its own bucket of requests, so one address
cannot flood us nor, with a spoofed source, use us to flood a victim: the DHT node charges
each unsolicited datagram to its source IP (BEP 5 amplification), the tracker server each
announce and scrape (a client announces every 15-30 minutes; hundreds of requests a second
from one address are a flood or a broken client). A source without a token is refused.
Memory is bounded: at most `max_sources` buckets are kept, the least recently used one
goes first; a full bucket carries no information, so an evicted source simply starts over
with a full bucket.

This module sits below the protocol packages (swarm, DHT, tracker server, session) so that
they share one implementation without importing one another.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable

from .errors import LocalProtocolError

READ_SLICE_SECONDS = 0.125  # the most a read takes from an empty bucket, in seconds at its rate
MIN_READ_SLICE = 4096
MIN_BYTE_BURST = 64 * 1024  # `rate_bucket`: a burst is at least this, and a quarter second

__all__ = [
    "MIN_BYTE_BURST",
    "READ_SLICE_SECONDS",
    "SourceRateLimiter",
    "TokenBucket",
    "consume_all",
    "rate_bucket",
    "read_allowance",
]


class TokenBucket:
    """A rate limit: `rate` bytes/s with bursts of up to `burst` bytes.

    `rate <= 0` or infinite means unlimited. The bucket starts full.
    """

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        if burst < 0:
            raise LocalProtocolError("burst must be >= 0")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0 or math.isinf(self.rate)

    def _refill(self, now: float) -> None:
        if self._last is not None and now > self._last and not self.unlimited:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        if self._last is None or now > self._last:
            self._last = now

    def available(self, now: float) -> float:
        """Tokens in the bucket at `now` (negative while in debt)."""
        if self.unlimited:
            return math.inf
        self._refill(now)
        return self._tokens

    def consume(self, n: int, now: float) -> float:
        """Take `n` tokens now; return the seconds to wait before using them (0 = go)."""
        if n < 0:
            raise LocalProtocolError("cannot consume a negative amount")
        if self.unlimited:
            return 0.0
        self._refill(now)
        self._tokens -= n
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def set_rate(self, rate: float, now: float, burst: int | None = None) -> None:
        """Change the limit; tokens earned so far at the old rate are kept."""
        self._refill(now)
        self.rate = rate
        if burst is not None:
            self.burst = burst
        self._tokens = min(self._tokens, float(self.burst))


def consume_all(buckets: Iterable[TokenBucket], n: int, now: float) -> float:
    """Consume `n` from every bucket (global, per-torrent, per-peer): the longest wait."""
    wait = 0.0
    for bucket in buckets:  # a loop, not max() over a generator: this runs per socket read
        if not bucket.unlimited:
            wait = max(wait, bucket.consume(n, now))
    return wait


def read_allowance(buckets: Iterable[TokenBucket], now: float) -> int | None:
    """The most bytes the next socket read may take under these limits; None: no limit.

    The tokens available, but never less than one slice (`READ_SLICE_SECONDS` at the
    rate, at least `MIN_READ_SLICE`): a read must always make progress, and the debt it
    leaves is then at most one slice.
    """
    allowance: int | None = None
    for bucket in buckets:
        if bucket.unlimited:
            continue
        slice_ = max(MIN_READ_SLICE, int(bucket.rate * READ_SLICE_SECONDS))
        room = max(slice_, int(bucket.available(now)))
        allowance = room if allowance is None else min(allowance, room)
    return allowance


def rate_bucket(rate: float) -> TokenBucket:
    """A limit of `rate` bytes/s (0 = none) allowing bursts of a quarter second (at least
    `MIN_BYTE_BURST`): the session's and each torrent's upload and download limits."""
    return TokenBucket(rate, burst=max(MIN_BYTE_BURST, int(rate / 4)) if rate > 0 else 0)


class SourceRateLimiter:
    """A token bucket of `rate` requests/s and `burst` capacity per source IP, with at most
    `max_sources` sources remembered (see the module docstring). A `rate` of 0 lets all
    through."""

    __slots__ = ("_buckets", "burst", "max_sources", "rate")

    def __init__(self, *, rate: float, burst: int, max_sources: int = 4096) -> None:
        if burst < 1 or max_sources < 1:
            raise LocalProtocolError("burst and max_sources must be at least 1")
        self.rate = rate
        self.burst = burst
        self.max_sources = max_sources
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, host: str, now: float) -> bool:
        """Take one token for `host`; False means refuse (drop) this request."""
        bucket = self._buckets.get(host)
        if bucket is None:
            bucket = self._buckets[host] = TokenBucket(self.rate, self.burst)
            if len(self._buckets) > self.max_sources:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(host)
        if bucket.available(now) < 1:
            return False
        bucket.consume(1, now)
        return True

    def forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled completely (they hold no state worth keeping)."""
        for host in [h for h, b in self._buckets.items() if b.available(now) >= b.burst]:
            del self._buckets[host]

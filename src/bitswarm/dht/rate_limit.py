"""Per-source rate limits, so our node cannot be used to amplify traffic.

A DHT node answers unsolicited UDP; an attacker who spoofs a victim's address could make
it send replies (larger than the queries) to that victim. Every unsolicited datagram
(queries, and anything that matches none of our transactions) costs its source IP one
token from a `TokenBucket` (`bitswarm.swarm.rate`) of `rate` tokens/s and `burst`
capacity; a source without a token is dropped unanswered. Answers to our own queries are
never charged: we asked for them. Sources are keyed by IP, not port (the victim is an
address), and at most `max_sources` buckets are kept: the least recently used one goes.
"""

from __future__ import annotations

from collections import OrderedDict

from ..errors import LocalProtocolError
from ..swarm.rate import TokenBucket

__all__ = ["SourceRateLimiter"]


class SourceRateLimiter:
    """A token bucket per source IP, with a bounded number of sources."""

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
        """Take one token for `host`; False means drop this datagram."""
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

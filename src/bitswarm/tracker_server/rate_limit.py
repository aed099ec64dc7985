"""Per-address token buckets: one address sending thousands of requests is slowed down.

A client announces every 15-30 minutes; hundreds of requests a second from one address
are a flood or a broken client. Each address gets a bucket of `burst` tokens refilled at
`rate` a second; a request without a token is refused (HTTP: a ``failure reason``; UDP:
dropped, so the tracker never answers a flood with a flood). Pure: `now` in.

Memory is bounded: at most `max_addresses` buckets are kept, the least recently used one
goes first. A full bucket carries no information, so an evicted address simply starts
over with a full bucket.
"""

from __future__ import annotations

from collections import OrderedDict

from ..errors import LocalProtocolError

__all__ = ["RateLimiter"]


class RateLimiter:
    """`allow(address, now)` is True when the address may make one more request."""

    __slots__ = ("_buckets", "_burst", "_max", "_rate")

    def __init__(self, rate: float, burst: int, *, max_addresses: int = 65_536) -> None:
        if rate <= 0 or burst < 1 or max_addresses < 1:
            raise LocalProtocolError("rate must be > 0, burst and max_addresses >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._max = max_addresses
        # address -> (tokens, time of last refill), least recently used first
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, address: str, now: float) -> bool:
        bucket = self._buckets.get(address)
        if bucket is None:
            tokens = self._burst
            if len(self._buckets) >= self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(address)
            tokens, last = bucket
            tokens = min(self._burst, tokens + (now - last) * self._rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[address] = (tokens, now)
        return allowed

    def __len__(self) -> int:
        return len(self._buckets)

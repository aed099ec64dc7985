"""Transfer rates: a sliding-window rate meter and a token bucket for rate limits.

Both are pure (L1): the caller passes `now` (seconds on any monotonic clock).

`RateMeter` measures bytes/s over the last `window` seconds, kept in `buckets` equal time
buckets (default 5 s in 1 s buckets). The estimate is the bytes in the live buckets divided
by the time they span: the full buckets plus the elapsed part of the current one, and never
more than the time since the meter started, so a new connection is not under-rated during
its first seconds. The choker and the request-queue sizing read it; 5 s is long enough to
smooth TCP bursts and short enough to follow a peer that slows down.

`TokenBucket` holds `burst` tokens (bytes) refilled at `rate` per second. `consume(n, now)`
takes n at once, possibly going into debt, and returns how long to wait before sending, so
a 16 KiB block is never split and a limit below one block per second still works. A global
and a per-torrent bucket compose: consume from both and wait the longer (`consume_all`).

`read_allowance` bounds that debt on the receiving side, where bytes are counted only after
a socket read: a read takes at most the tokens available, or one slice (1/8 s at the
limit) when there are none, so the debt after a read is never more than a slice. Without
it one 256 KiB read at 32 KiB/s put the bucket 8 s in debt, and every other connection
sharing the bucket (a session limit) then waited those 8 s too, whatever arrived on it:
libtorrent likewise hands out quota before a read, not after.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from ..errors import LocalProtocolError

READ_SLICE_SECONDS = 0.125  # the most a read takes from an empty bucket, in seconds at its rate
MIN_READ_SLICE = 4096

__all__ = ["READ_SLICE_SECONDS", "RateMeter", "TokenBucket", "consume_all", "read_allowance"]


class RateMeter:
    """Bytes per second over a sliding window; `total` counts every byte ever added."""

    __slots__ = ("_buckets", "_end", "_last", "_size", "_start", "_window", "total")

    def __init__(
        self, *, window: float = 5.0, buckets: int = 5, start: float | None = None
    ) -> None:
        if window <= 0 or buckets < 1:
            raise LocalProtocolError("a rate meter needs a positive window and >= 1 bucket")
        self._window = window
        self._size = window / buckets  # seconds per bucket
        self._buckets: deque[list[int]] = deque(maxlen=buckets)  # [bucket number, bytes]
        self._start = start  # when measuring began; None = at the first add
        self._last = start if start is not None else -math.inf
        self._end = -math.inf  # when the newest bucket ends: adds before it go straight in
        self.total = 0

    def add(self, nbytes: int, now: float) -> None:
        if nbytes < 0:
            raise LocalProtocolError("cannot add a negative byte count")
        if self._last <= now < self._end:  # the hot path: same bucket as the last add
            self._last = now
            self.total += nbytes
            self._buckets[-1][1] += nbytes
            return
        now = max(now, self._last)  # a clock that steps back is held still
        self._last = now
        if self._start is None:
            self._start = now
        self.total += nbytes
        number = math.floor(now / self._size)
        if self._buckets and self._buckets[-1][0] == number:
            self._buckets[-1][1] += nbytes
        else:
            self._buckets.append([number, nbytes])
        self._end = (number + 1) * self._size

    def rate(self, now: float) -> float:
        """Average bytes/s over the window ending at `now`."""
        if self._start is None:
            return 0.0
        now = max(now, self._last)
        current = math.floor(now / self._size)
        oldest = current - (self._buckets.maxlen or 1) + 1
        live = sum(b for n, b in self._buckets if n >= oldest)
        span = min(now - oldest * self._size, now - self._start)  # seconds the buckets cover
        return live / max(span, self._size)


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
    return max((b.consume(n, now) for b in buckets), default=0.0)


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

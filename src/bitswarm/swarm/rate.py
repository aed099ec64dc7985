"""Transfer rates: a sliding-window rate meter. Pure (L1): the caller passes `now`
(seconds on any monotonic clock).

`RateMeter` measures bytes/s over the last `window` seconds, kept in `buckets` equal time
buckets (default 5 s in 1 s buckets). The estimate is the bytes in the live buckets divided
by the time they span: the full buckets plus the elapsed part of the current one, and never
more than the time since the meter started, so a new connection is not under-rated during
its first seconds. The choker and the request-queue sizing read it; 5 s is long enough to
smooth TCP bursts and short enough to follow a peer that slows down.

Rate *limits* (token buckets) are `bitswarm.ratelimit`, shared with the DHT and the
tracker server.
"""

from __future__ import annotations

import math
from collections import deque

from ..errors import LocalProtocolError

__all__ = ["RateMeter"]


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

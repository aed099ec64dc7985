"""Request pipelining depth: how many block requests to keep in flight to one peer.

BEP 3: "downloaders should keep several piece requests queued up at once in order to get
good TCP performance (this is called 'pipelining')". Too few requests leave the link idle
for a round trip after every block; too many pile up at a slow peer and are lost on a choke.
libtorrent sizes the queue to cover `request_queue_time` seconds at the measured rate:

    depth = request_queue_time × download_rate / block_size   (clamped to [min, max])

`desired_queue_depth` is that formula. A new connection has no measured rate, so
`RequestQueueSizer` adds libtorrent's slow start on top: the depth grows by one per block
received (doubling per round trip, as TCP's window does) until the rate stops growing, and
then follows the formula. A snubbed peer gets one request at a time.
"""

from __future__ import annotations

import math

from ..errors import LocalProtocolError
from .picker import BLOCK_SIZE

__all__ = ["RequestQueueSizer", "desired_queue_depth"]

SLOW_START_GROWTH = 1.1  # slow start ends when a second's rate is < 10% above the last


def desired_queue_depth(
    download_rate: float,
    block_size: int = BLOCK_SIZE,
    *,
    target_seconds: float = 3.0,
    minimum: int = 2,
    maximum: int = 500,
) -> int:
    """Requests to keep in flight so that `target_seconds` of data at `download_rate` are
    always requested (rounded up), clamped to [minimum, maximum]."""
    if block_size <= 0 or minimum < 0 or maximum < minimum:
        raise LocalProtocolError("need block_size > 0 and 0 <= minimum <= maximum")
    if not math.isfinite(download_rate) or download_rate <= 0:
        return maximum if download_rate == math.inf else minimum
    depth = math.ceil(download_rate * target_seconds / block_size)
    return max(minimum, min(maximum, depth))


class RequestQueueSizer:
    """Per-peer pipelining depth with slow start (libtorrent's `m_slow_start`).

    Call `block_received()` per block (or `blocks_received(n)` per run of blocks),
    `tick(rate)` about once a second with the peer's measured download rate, and read
    `depth`.
    """

    __slots__ = (
        "_last_rate",
        "_snubbed",
        "block_size",
        "depth",
        "maximum",
        "minimum",
        "slow_start",
        "target_seconds",
    )

    def __init__(
        self,
        *,
        block_size: int = BLOCK_SIZE,
        target_seconds: float = 3.0,
        minimum: int = 2,
        maximum: int = 500,
        initial: int = 4,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise LocalProtocolError("need 1 <= minimum <= maximum")
        self.block_size = block_size
        self.target_seconds = target_seconds
        self.minimum = minimum
        self.maximum = maximum
        self.depth = max(minimum, min(maximum, initial))
        self.slow_start = True
        self._last_rate = 0.0
        self._snubbed = False

    def _formula(self, rate: float) -> int:
        return desired_queue_depth(
            rate,
            self.block_size,
            target_seconds=self.target_seconds,
            minimum=self.minimum,
            maximum=self.maximum,
        )

    def block_received(self) -> int:
        """One more block arrived: in slow start the window opens by one."""
        if self._snubbed:
            self._snubbed = False
            self.depth = self.minimum
        elif self.slow_start:
            self.depth = min(self.maximum, self.depth + 1)
        return self.depth

    def blocks_received(self, count: int) -> int:
        """`count` blocks arrived at once: `block_received` `count` times."""
        if count <= 0:
            return self.depth
        self.block_received()
        if count > 1 and self.slow_start:
            self.depth = min(self.maximum, self.depth + count - 1)
        return self.depth

    def tick(self, rate: float) -> int:
        """About once a second: leave slow start once the rate stalls, then follow the rate."""
        if self._snubbed:
            return self.depth
        if self.slow_start:
            if self._last_rate > 0 and rate < self._last_rate * SLOW_START_GROWTH:
                self.slow_start = False
            self._last_rate = max(rate, self._last_rate)
            self.depth = max(self.depth, self._formula(rate))
        else:
            self.depth = self._formula(rate)
        return self.depth

    def snubbed(self) -> int:
        """The peer sent nothing for too long: one request at a time, slow start over."""
        self._snubbed = True
        self.slow_start = False
        self.depth = 1
        return self.depth

    def timed_out(self) -> int:
        """A request timed out: leave slow start and halve the window (TCP-like)."""
        self.slow_start = False
        self.depth = max(self.minimum, self.depth // 2)
        return self.depth

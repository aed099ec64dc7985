"""The send-buffer watermark: how many bytes of blocks to keep written ahead to one peer.

An uploader turns a peer's requests into blocks read from disk and written to its socket.
Written too far ahead, the blocks wait in the socket's send buffer, where nothing can take
them back: a CANCEL (BEP 3: end-game "cancels for the blocks which came in") then arrives
for a block already on its way, and both copies of every end-game duplicate cross the
uploader's link. bitswarm used to write up to 4 MiB ahead to every peer (the transport's
high-water mark); at 10 Mbit/s that is 3 s of the link. In the upload-limited swarm lab
(`python -m bench swarm-lab`, 8 leechers at 10 Mbit/s) 0.08-0.12 copies of the payload
crossed the links twice, on the very links that are the bottleneck there, and every
peer's upload queue held seconds of blocks for whichever requester had asked most.

libtorrent keeps `send_buffer_watermark_factor` (50 %) of the bytes it sent the peer in the
last second written ahead, clamped to [`send_buffer_low_watermark`,
`send_buffer_watermark`] (`peer_connection::fill_send_buffer`); the remaining requests wait
in the peer's request queue, where a CANCEL removes them and a CHOKE rejects them. So does
`send_watermark`, with bitswarm's own bounds: at least `LOW` (a socket write carries up to
8 blocks, 128 KiB, and a link must not idle between two writes) and at most `HIGH` (the
4 MiB of before, so that fast links -- loopback seeding in P2 -- see no change). With it the
lab's duplicates fell to 0.01-0.03 copies.

Pure (L1): a rate in, a byte count out. The session applies it as the transport's
high-water mark before each write and waits for the transport to drain below half of it
before it reads the next block (`session/torrent.py` `_serve`, `_flush_upload`); half, not
asyncio's default quarter, so that a loop busy elsewhere for a moment (nine Python peers
share two cores in the lab) does not leave the link idle before the next write.
"""

from __future__ import annotations

import math

from ..errors import LocalProtocolError

__all__ = ["FACTOR", "HIGH", "LOW", "send_watermark"]

FACTOR = 0.5  # seconds of the peer's upload rate (libtorrent: 50 % of the last second's)
LOW = 64 * 1024  # half a socket write of 8 blocks: what a new or slow peer gets
HIGH = 4 * 2**20  # the transport high-water mark bitswarm used for every peer before


def send_watermark(rate: float, *, factor: float = FACTOR, low: int = LOW, high: int = HIGH) -> int:
    """Bytes to keep written ahead to a peer we upload to at `rate` bytes/s: `factor`
    seconds of that rate, clamped to [`low`, `high`]."""
    if factor < 0 or not 0 < low <= high:
        raise LocalProtocolError("need factor >= 0 and 0 < low <= high")
    if math.isnan(rate) or rate <= 0:
        return low
    if math.isinf(rate):
        return high
    return max(low, min(high, int(rate * factor)))

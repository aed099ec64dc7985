"""HashService: a pure v2 torrent's answers to its peers' BEP 52 hash requests.

An answer can be large (up to 8192 + 64 hashes, about 258 KiB) and a request for block
hashes costs reading and hashing up to 128 MiB of our data, so requests are not answered
as they arrive. Each peer's requests wait in a queue of their own (the wire core closes a
peer with more than `MAX_PEER_HASH_REQUESTS` unanswered), served one at a time by one task
per peer, under the same write backpressure as uploaded blocks: nothing is written while
the peer's socket holds more than `WRITE_HIGH_WATER` unsent bytes, and block hashes are
read and hashed in the disk pool one request at a time per peer. A peer that asks and
never reads therefore costs at most one answer beyond the high-water mark.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..aio.peer import PeerProtocol
from ..bitfield import Bitfield
from ..errors import BitswarmError
from ..wire import events as ev
from .v2_hashes import V2Hashes

__all__ = ["HashService"]

log = logging.getLogger("bitswarm.v2")

BlockHashes = Callable[[int, int], Awaitable[list[bytes]]]


@dataclass(slots=True)
class _Queue:
    requests: deque[ev.HashRequestReceived] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class HashService:
    """Answers hash requests from `v2`'s piece layers, or from block hashes of pieces we
    `have` (read through `block_hashes`, the disk pool's), one request per peer at a time."""

    def __init__(
        self, v2: V2Hashes, have: Callable[[], Bitfield], block_hashes: BlockHashes
    ) -> None:
        self._v2 = v2
        self._have = have
        self._block_hashes = block_hashes
        self._queues: dict[PeerProtocol, _Queue] = {}

    def request(self, proto: PeerProtocol, event: ev.HashRequestReceived) -> None:
        """Queue a peer's request; its answer goes out when the ones before it have."""
        queue = self._queues.setdefault(proto, _Queue())
        queue.requests.append(event)
        if queue.task is None or queue.task.done():
            queue.task = asyncio.get_running_loop().create_task(self._serve(proto, queue))

    def waiting(self, proto: PeerProtocol) -> int:
        """Requests from `proto` not answered yet (for tests and status)."""
        queue = self._queues.get(proto)
        return len(queue.requests) if queue is not None else 0

    def peer_lost(self, proto: PeerProtocol) -> None:
        queue = self._queues.pop(proto, None)
        if queue is not None and queue.task is not None:
            queue.task.cancel()

    async def _serve(self, proto: PeerProtocol, queue: _Queue) -> None:
        while queue.requests:
            await proto.writable()  # the socket took what we wrote before
            conn = proto.conn
            if conn is None or conn.closed:
                return
            event = queue.requests.popleft()
            pieces = self._v2.serve(conn, event, self._have())
            if pieces is not None:  # block hashes: from the pieces' data, in the disk pool
                leaves = await self._leaves(pieces)
                await proto.writable()
                if conn.closed:
                    return
                self._v2.answer(conn, event, leaves)
            proto.flush()

    async def _leaves(self, pieces: list[tuple[int, int]]) -> dict[int, list[bytes]]:
        leaves: dict[int, list[bytes]] = {}
        for piece, length in pieces:
            try:
                leaves[piece] = await self._block_hashes(piece, length)
            except (BitswarmError, OSError) as exc:
                log.info("cannot read piece %d for block hashes: %s", piece, exc)
                return {}  # a hash reject
        return leaves

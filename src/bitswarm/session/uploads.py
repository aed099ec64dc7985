"""Uploader: serving the blocks peers request from us, one peer queue at a time.

Rules:

* The core says what to send (`ReadBlock` actions, after its choke and request checks);
  each peer's reads are served in order by one task, from the disk worker's read cache
  when the piece is there, else from the disk pool.
* No more is written ahead into a peer's socket than `send_watermark` of our rate to it
  (swarm/send_watermark.py, libtorrent's send-buffer watermark): the rest waits in the
  queue, where a CANCEL or a CHOKE still takes it back.
* Blocks go out `SEND_BATCH` to a socket write; what is ready is written before waiting
  for the disk or for the upload rate limit (the torrent's and the session's buckets).
* A disk error while reading fails the torrent (`TorrentRuntime.fail`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from ..aio.disk import DiskWorker
from ..aio.peer import PeerProtocol
from ..core.actions import ReadBlock
from ..core.torrent import TorrentCore
from ..errors import StorageError
from ..ratelimit import TokenBucket, consume_all
from ..swarm.send_watermark import send_watermark
from .host import SessionHost

__all__ = ["SEND_BATCH", "UploadSubject", "Uploader"]

SEND_BATCH = 8  # blocks (128 KiB) a seeding peer gets per socket write


@dataclass(slots=True)
class _PeerUploads:
    """A peer's queue of block reads, served one at a time with socket backpressure."""

    queue: deque[ReadBlock] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class UploadSubject(Protocol):
    """What the uploader needs of a torrent (`TorrentRuntime`)."""

    @property
    def session(self) -> SessionHost: ...
    @property
    def core(self) -> TorrentCore | None: ...
    @property
    def disk(self) -> DiskWorker: ...
    @property
    def upload_bucket(self) -> TokenBucket: ...
    def now(self) -> float: ...
    def fail(self, message: str) -> None: ...


class Uploader:
    """The upload queues of one torrent's peers."""

    def __init__(self, runtime: UploadSubject) -> None:
        self._rt = runtime
        self._peers: dict[PeerProtocol, _PeerUploads] = {}

    def queue(self, action: ReadBlock) -> None:
        """Serve this read after the peer's earlier ones."""
        proto = action.peer
        if not isinstance(proto, PeerProtocol):
            return
        uploads = self._peers.setdefault(proto, _PeerUploads())
        uploads.queue.append(action)
        if uploads.task is None or uploads.task.done():
            uploads.task = asyncio.get_running_loop().create_task(self._serve(proto, uploads))

    def forget(self, proto: PeerProtocol) -> None:
        """The peer is gone: drop its queue and stop serving it."""
        uploads = self._peers.pop(proto, None)
        if uploads is not None and uploads.task is not None:
            uploads.task.cancel()

    async def _serve(self, proto: PeerProtocol, uploads: _PeerUploads) -> None:
        rt = self._rt
        core = rt.core
        assert core is not None
        unsent = 0  # blocks handed to the connection since the last write to the socket
        while uploads.queue:
            await proto.writable()  # no more than the watermark written ahead, disk or not
            a = uploads.queue.popleft()
            try:
                data = rt.disk.cached_block(a.piece, a.begin, a.length)
                if data is None:
                    if unsent:  # about to wait for the disk: send what is ready first
                        self._flush(proto)
                        unsent = 0
                    data = await rt.disk.read_block(a.piece, a.begin, a.length)
            except StorageError as exc:
                rt.fail(str(exc))
                return
            delay = consume_all((rt.upload_bucket, rt.session.upload_bucket), len(data), rt.now())
            if delay > 0:
                if unsent:
                    self._flush(proto)
                    unsent = 0
                await asyncio.sleep(delay)
            core.block_read(proto, a.piece, a.begin, data, now=rt.now())
            unsent += 1
            if unsent >= SEND_BATCH or not uploads.queue:
                self._flush(proto)  # one socket write for several blocks, not one each
                unsent = 0
        if unsent:
            self._flush(proto)

    def _flush(self, proto: PeerProtocol) -> None:
        """Write the blocks read for this peer, its transport's high-water mark set to
        `send_watermark` of our rate to it first (refilled from half of it)."""
        core = self._rt.core
        info = core.peers.get(proto) if core is not None else None
        transport = proto.transport
        if info is not None and transport is not None:
            mark = send_watermark(info.up.rate(self._rt.now()))
            transport.set_write_buffer_limits(high=mark, low=mark // 2)
        proto.flush()

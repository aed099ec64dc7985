"""The bytes a peer connection has queued for its socket, and when it last queued any.

Messages go in as whole frames (`bytes`, from the codec's ``pack_*`` functions) or, for a
block we upload, as its 13-byte header followed by the caller's buffer (a memoryview is kept
as is), and come out joined once per `drain`: one copy on the way out, made where the bytes
become one write. `last_sent` drives the keep-alive timer; `now` is the connection's clock.
"""

from __future__ import annotations

__all__ = ["Outbox"]


class Outbox:
    """Queued frames, drained by `PeerConnection.data_to_send`."""

    __slots__ = ("chunks", "last_sent", "now")

    def __init__(self, now: float) -> None:
        self.chunks: list[bytes | memoryview] = []
        self.now = now
        self.last_sent = now

    def write(self, frame: bytes) -> None:
        self.chunks.append(frame)
        self.last_sent = self.now

    def write_block(self, header: bytes, block: bytes | memoryview) -> None:
        """A piece message: the header, then the block without copying it here."""
        chunks = self.chunks
        chunks.append(header)
        chunks.append(block)
        self.last_sent = self.now

    def drain(self) -> bytes:
        """Everything queued, as one bytes object (empty if nothing is)."""
        chunks = self.chunks
        if not chunks:
            return b""
        self.chunks = []
        first = chunks[0]
        if len(chunks) == 1 and isinstance(first, bytes):
            return first
        return b"".join(chunks)

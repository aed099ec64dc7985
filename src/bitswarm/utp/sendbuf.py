"""The bytes a uTP socket was given and has not put into packets yet."""

from __future__ import annotations

__all__ = ["SendBuffer"]


class SendBuffer:
    """A FIFO of bytes with O(1) amortised take: a read offset into one bytearray,
    compacted when more than half of it has been taken (no copy per packet of the rest)."""

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def __len__(self) -> int:
        return len(self._buf) - self._pos

    def append(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data

    def take(self, n: int) -> bytes:
        """Up to `n` bytes from the front."""
        end = min(self._pos + n, len(self._buf))
        out = bytes(self._buf[self._pos : end])
        self._pos = end
        if self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        elif self._pos > 65536 and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        return out

    def clear(self) -> None:
        self._buf.clear()
        self._pos = 0

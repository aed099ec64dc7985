"""FileReader: read one file of a torrent while it downloads (streaming, L3).

A player reads a file front to back and jumps now and then. `FileReader.read(offset,
length)` returns those bytes once the pieces that hold them have passed their hash check,
and meanwhile tells the torrent which pieces it needs by when: the pieces a pending read
waits for get a deadline already past (`WAITING`: they come before any reader's read-ahead,
and a second peer is asked for their blocks at once), the read-ahead window after them
(`readahead` bytes, a few MiB) deadlines spaced as a player consuming `rate` bytes/s would
reach them
(`TorrentRuntime.set_piece_deadlines`, served first from the fastest peers by
`swarm/deadlines.py`). Each read moves the window to where it is, so a seek drops the
pieces left behind. Several readers of one torrent (a player opens two or three
connections) each own their window; the torrent serves the earliest deadline of any.
`close()` releases the window.

Bytes are read through the torrent's `DiskWorker` (its piece cache, in the disk pool),
never on the event loop.
"""

from __future__ import annotations

import asyncio
import itertools

from ..errors import BitswarmError, TorrentFailed
from .torrent import TorrentRuntime

__all__ = ["DEFAULT_RATE", "DEFAULT_READAHEAD", "FileReader"]

DEFAULT_READAHEAD = 8 * 2**20  # bytes after the read position that get deadlines
DEFAULT_RATE = 2 * 2**20  # bytes/s a player is assumed to consume (spacing of deadlines)
MIN_AHEAD_PIECES = 2  # even with huge pieces, the next two pieces are asked for
WAKE_SECONDS = 1.0  # how often a waiting read checks whether the torrent ended
WAITING = -60.0  # the deadline (seconds from now) of a piece a pending read waits for

_ids = itertools.count(1)


class FileReader:
    """One reader of file `file_index` (an index into `meta.info.files`, 0-based) of a
    running torrent. A skipped file (priority 0) is refused: its pieces would never come."""

    def __init__(
        self,
        rt: TorrentRuntime,
        file_index: int,
        *,
        readahead: int = DEFAULT_READAHEAD,
        rate: float = DEFAULT_RATE,
    ) -> None:
        files = rt.meta.info.files
        if not 0 <= file_index < len(files) or files[file_index].is_pad:
            raise BitswarmError(f"no file number {file_index + 1} in {rt.meta.info.name}")
        self.rt = rt
        self.file_index = file_index
        self.size = files[file_index].length
        self.path = "/".join(files[file_index].path)
        self.readahead = readahead
        self.rate = rate
        self.owner = ("reader", next(_ids))
        self._start = rt.layout.file_offset(file_index)
        if rt.file_priorities and rt.file_priorities[file_index] == 0:
            raise BitswarmError(f"{self.path} is skipped (priority 0): select it to stream it")
        self._woken = asyncio.Event()
        self._closed = False
        rt.piece_listeners.add(self._piece_arrived)

    @property
    def name(self) -> str:
        """The file's name (its last path part)."""
        return self.rt.meta.info.files[self.file_index].path[-1]

    def _piece_arrived(self, _piece: int) -> None:
        self._woken.set()

    def pieces_for(self, offset: int, length: int) -> range:
        """The torrent's pieces that hold bytes [offset, offset + length) of the file."""
        if length <= 0:
            return range(0)
        return self.rt.layout.pieces_for_byte_range(self._start + offset, length)

    def _missing(self, pieces: range) -> list[int]:
        core = self.rt.core
        if core is None:
            return list(pieces)
        have = core.have
        return [p for p in pieces if p not in have]

    def seek_to(self, offset: int, length: int = 1) -> None:
        """Give deadlines to the pieces under [offset, offset + length) (`WAITING`) and to
        the read-ahead window after them; replaces this reader's window."""
        if self._closed or not self.size:
            return
        offset = min(max(0, offset), self.size - 1)
        length = max(1, min(length, self.size - offset))
        piece_length = self.rt.meta.info.piece_length
        ahead = max(self.readahead, MIN_AHEAD_PIECES * piece_length)
        end = min(self.size, offset + length + ahead)
        under = self.pieces_for(offset, length)
        deadlines: dict[int, float] = {}
        core = self.rt.core
        for piece in self.pieces_for(offset, end - offset):
            if core is not None and piece in core.have:
                continue
            if piece in under:
                deadlines[piece] = WAITING
            else:
                distance = piece * piece_length - (self._start + offset + length)
                deadlines[piece] = max(0.0, distance) / self.rate
        self.rt.set_piece_deadlines(self.owner, deadlines)

    async def read(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes at `offset` of the file (fewer only at its end), once the
        pieces that hold them are verified.

        Raises:
            TorrentFailed: the torrent stopped or failed before the bytes arrived.
            BitswarmError: the reader is closed, or `offset` is outside the file.
        """
        if self._closed:
            raise BitswarmError("the reader is closed")
        if not 0 <= offset <= self.size:
            raise BitswarmError(f"offset {offset} outside a file of {self.size} bytes")
        length = min(length, self.size - offset)
        if length <= 0:
            return b""
        pieces = self.pieces_for(offset, length)
        self.seek_to(offset, length)
        while self._missing(pieces):
            if self.rt.ended:
                raise TorrentFailed(
                    f"{self.rt.meta.info.name}: stopped before the bytes arrived", "stopped"
                )
            if self._closed:
                raise BitswarmError("the reader is closed")
            self._woken.clear()
            try:
                await asyncio.wait_for(self._woken.wait(), WAKE_SECONDS)
            except TimeoutError:
                pass
        return await self._read_verified(offset, length)

    async def _read_verified(self, offset: int, length: int) -> bytes:
        layout = self.rt.layout
        piece_length = layout.piece_length
        position = self._start + offset
        end = position + length
        out = bytearray()
        while position < end:
            piece, begin = divmod(position, piece_length)
            take = min(end - position, layout.piece_size(piece) - begin)
            out += await self.rt.disk.read_block(piece, begin, take)
            position += take
        return bytes(out)

    def close(self) -> None:
        """Release this reader's deadlines; the download goes on as before."""
        if self._closed:
            return
        self._closed = True
        self._woken.set()
        self.rt.piece_listeners.discard(self._piece_arrived)
        self.rt.release_deadlines(self.owner)

    async def __aenter__(self) -> FileReader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

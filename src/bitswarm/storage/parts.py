"""`PartsFile`: the bytes of skipped files that share a piece with a wanted one.

A piece is hashed and written whole (BEP 3), so a piece that straddles a wanted file and a
skipped one brings bytes of the skipped file. Writing them into that file would create it;
libtorrent and qBittorrent instead keep them in a "part file" (libtorrent's
``.<info-hash>.parts`` in the download folder), and so do we: no skipped file appears in the
download folder, and when the file is chosen later its bytes move from here into it.

Where: the download folder, as ``.<info-hash hex>.parts`` (`parts_file_name`), beside the
data it completes, like libtorrent's: it moves and is deleted with the torrent's files
(`file_ops`), and no other program's state folder is involved. It exists only while it
holds a slot.

Format (our own, fixed-size header, big-endian, so every update is one pwrite in place)::

    magic            16 bytes  b"bitswarm parts\\x00\\x01"
    num_pieces       u32
    piece_length     u32
    num_files        u32
    slots            u32 * num_pieces   slot of each piece, 0xFFFFFFFF: none
    parked           ceil(num_files / 8) bytes: the files whose bytes live here (bit i of
                     byte i // 8, most significant first, as a BEP 3 bitfield)
    (zeros up to a multiple of 4096)
    slot k           piece_length bytes at header_size + k * piece_length

A slot holds a piece at its own offsets; only the ranges of the parked files are meaningful
(the storage knows which those are). A header of another torrent's shape is ignored (the
file is then treated as empty and overwritten), as libtorrent does.

Blocking file I/O for the disk worker's threads; the caller (`FileStorage`) serialises
calls with its own lock.
"""

from __future__ import annotations

import os
import struct

from ..errors import LocalProtocolError, StorageError
from .base import storage_error

__all__ = ["PartsFile", "parts_file_name"]

MAGIC = b"bitswarm parts\x00\x01"
_SHAPE = struct.Struct(">III")
_NONE = 0xFFFFFFFF
_ALIGN = 4096


def parts_file_name(info_hash: bytes) -> str:
    """The parts file's name in the download folder: ``.<info-hash hex>.parts``."""
    return f".{info_hash.hex()}.parts"


class PartsFile:
    """Piece-keyed slices of skipped files in one file (see the module docstring)."""

    def __init__(self, path: str, *, num_pieces: int, piece_length: int, num_files: int) -> None:
        if num_pieces < 0 or piece_length <= 0 or num_files < 0:
            raise LocalProtocolError("a parts file needs pieces of positive length")
        self.path = path
        self.num_pieces = num_pieces
        self.piece_length = piece_length
        self.num_files = num_files
        self._bitmap_at = len(MAGIC) + _SHAPE.size + 4 * num_pieces
        raw = self._bitmap_at + (num_files + 7) // 8
        self.header_size = -(-raw // _ALIGN) * _ALIGN
        self._slots: dict[int, int] = {}  # piece -> slot
        self._free: list[int] = []  # slots below _allocated that hold no piece
        self._allocated = 0
        self._parked: frozenset[int] = frozenset()
        self._fd: int | None = None
        self._dirty = False
        self._header_ok = False  # the file on disk has our header (loaded or written)

    # ----------------------------------------------------------------- state

    @property
    def parked(self) -> frozenset[int]:
        """The files whose bytes this file holds (as its header says)."""
        return self._parked

    def pieces(self) -> list[int]:
        """The pieces that have a slot, in index order."""
        return sorted(self._slots)

    def has(self, piece: int) -> bool:
        return piece in self._slots

    def load(self) -> None:
        """Read the header of an existing parts file; a missing file, a short or foreign
        header, or another torrent's shape leaves this empty."""
        try:
            with open(self.path, "rb") as f:
                header = f.read(self.header_size)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise storage_error(exc, "read", self.path) from exc
        if len(header) < self.header_size or not header.startswith(MAGIC):
            return
        shape = _SHAPE.unpack_from(header, len(MAGIC))
        if shape != (self.num_pieces, self.piece_length, self.num_files):
            return
        table = struct.unpack_from(f">{self.num_pieces}I", header, len(MAGIC) + _SHAPE.size)
        used: set[int] = set()
        for piece, slot in enumerate(table):
            if slot != _NONE and slot < self.num_pieces and slot not in used:
                self._slots[piece] = slot
                used.add(slot)
        self._allocated = max(used, default=-1) + 1
        self._free = sorted(set(range(self._allocated)) - used, reverse=True)
        bitmap = header[self._bitmap_at : self._bitmap_at + (self.num_files + 7) // 8]
        self._parked = frozenset(
            i for i in range(self.num_files) if bitmap[i >> 3] & (0x80 >> (i & 7))
        )
        self._header_ok = True

    def state(self) -> tuple[int, int] | None:
        """(size, mtime_ns) of the file, None if it does not exist: resume data records
        it in place of each parked file's, so a changed parts file means a recheck."""
        try:
            st = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise storage_error(exc, "stat", self.path) from exc
        return st.st_size, st.st_mtime_ns

    # ----------------------------------------------------------------- data

    def write(self, piece: int, offset: int, data: memoryview) -> None:
        """Store `data` at `offset` inside `piece`'s slot (allocated on first use)."""
        self._check_range(piece, offset, len(data))
        fd = self._open()
        slot = self._slots.get(piece)
        if slot is None:
            slot = self._free.pop() if self._free else self._allocated
            self._allocated = max(self._allocated, slot + 1)
            self._slots[piece] = slot
            self._pwrite(fd, struct.pack(">I", slot), len(MAGIC) + _SHAPE.size + 4 * piece)
        self._pwrite(fd, data, self.header_size + slot * self.piece_length + offset)
        self._dirty = True

    def readinto(self, piece: int, offset: int, target: memoryview) -> None:
        """Fill `target` from `offset` inside `piece`'s slot.

        Raises:
            StorageError: the piece has no slot here, or the file is short.
        """
        self._check_range(piece, offset, len(target))
        slot = self._slots.get(piece)
        if slot is None:
            raise StorageError(f"piece {piece} is not in {self.path}")
        fd = self._open()
        at = self.header_size + slot * self.piece_length + offset
        done = 0
        try:
            while done < len(target):
                got = os.preadv(fd, [target[done:]], at + done)
                if got == 0:
                    raise StorageError(f"{self.path} is shorter than expected")
                done += got
        except OSError as exc:
            raise storage_error(exc, "read", self.path) from exc

    def free(self, piece: int) -> None:
        """Forget `piece`'s slot (its bytes moved to a file, or no parked file needs them)."""
        slot = self._slots.pop(piece, None)
        if slot is None:
            return
        self._free.append(slot)
        self._free.sort(reverse=True)  # lowest slot reused first: the file stays compact
        fd = self._open()
        self._pwrite(fd, struct.pack(">I", _NONE), len(MAGIC) + _SHAPE.size + 4 * piece)
        self._dirty = True

    def set_parked(self, files: frozenset[int]) -> None:
        """Record which files live here (written to the header if the file exists)."""
        if files == self._parked:
            return
        self._parked = files
        if self._fd is not None or os.path.exists(self.path):
            self._write_bitmap(self._open())

    # ----------------------------------------------------------------- lifecycle

    def flush(self) -> None:
        if self._fd is not None and self._dirty:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise storage_error(exc, "flush", self.path) from exc
            self._dirty = False

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def delete(self) -> None:
        """Remove the file and forget every slot."""
        self.close()
        self._slots.clear()
        self._free.clear()
        self._allocated = 0
        self._header_ok = False
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise storage_error(exc, "delete", self.path) from exc

    # ----------------------------------------------------------------- plumbing

    def _check_range(self, piece: int, offset: int, length: int) -> None:
        if not 0 <= piece < self.num_pieces or offset < 0 or offset + length > self.piece_length:
            raise LocalProtocolError(f"range {offset}+{length} of piece {piece} outside a slot")

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o666)
        except OSError as exc:
            raise storage_error(exc, "open", self.path) from exc
        try:
            if not self._header_ok:  # new, or foreign: a fresh header
                header = bytearray(self.header_size)
                header[: len(MAGIC)] = MAGIC
                _SHAPE.pack_into(header, len(MAGIC), *self._shape())
                start = len(MAGIC) + _SHAPE.size
                header[start : self._bitmap_at] = b"\xff" * (4 * self.num_pieces)
                for piece, slot in self._slots.items():
                    struct.pack_into(">I", header, start + 4 * piece, slot)
                self._pwrite(fd, header, 0)
                self._write_bitmap(fd)
                self._header_ok = True
        except BaseException:
            os.close(fd)
            self._fd = None
            raise
        self._fd = fd
        return fd

    def _shape(self) -> tuple[int, int, int]:
        return self.num_pieces, self.piece_length, self.num_files

    def _write_bitmap(self, fd: int) -> None:
        bitmap = bytearray((self.num_files + 7) // 8)
        for i in self._parked:
            bitmap[i >> 3] |= 0x80 >> (i & 7)
        self._pwrite(fd, bitmap, self._bitmap_at)
        self._dirty = True

    def _pwrite(self, fd: int, data: bytes | bytearray | memoryview, at: int) -> None:
        view = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(view):
                wrote = os.pwrite(fd, view[done:], at + done)
                if wrote <= 0:
                    raise StorageError(f"cannot write {self.path}: no progress")
                done += wrote
        except OSError as exc:
            raise storage_error(exc, "write", self.path) from exc

"""The `Storage` interface that the disk worker drives, and storage's error types.

Two backends implement it: `FileStorage` (files under a download folder, blocking calls made
from worker threads) and `MemoryStorage` (tests, the metadata stage of a magnet link). Both
address data by (piece, begin, length) of the v1 piece space that a `Layout` describes, and
both must be safe to call from several threads at once (the disk worker hashes and writes
different pieces in parallel).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import Literal, Protocol, TypeAlias

from ..errors import LocalProtocolError, StorageError
from .layout import FileSpan, Layout

__all__ = [
    "DiskFullError",
    "Preallocate",
    "Storage",
    "StorageError",
    "UnsafeStoragePath",
    "check_padding",
    "storage_error",
]

#: "sparse": every file is created at its full size (``truncate``, no blocks allocated);
#: "none": files appear only when first written (zero-length files are still created).
Preallocate: TypeAlias = Literal["sparse", "none"]


class DiskFullError(StorageError):
    """The file system has no space (ENOSPC) or the quota is used up (EDQUOT)."""


class UnsafeStoragePath(StorageError):
    """A file path that would read or write outside the download folder."""


def storage_error(exc: OSError, action: str, path: str) -> StorageError:
    """Turn an OSError into the storage error a person can act on: one line, with the path."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"disk full: cannot {action} {path}: {reason}")
    if exc.errno == errno.ELOOP:
        return UnsafeStoragePath(f"{path} is a symbolic link; refusing to follow it")
    return StorageError(f"cannot {action} {path}: {reason}")


def check_padding(layout: Layout, spans: Sequence[FileSpan], view: memoryview) -> None:
    """Refuse a write whose bytes for pad files are not zeros (BEP 47 "Padding files").

    Backends call this before writing anything, so a refused write changes nothing.
    """
    pos = 0
    for span in spans:
        if layout.files[span.file_index].is_pad and view[pos : pos + span.length] != bytes(
            span.length
        ):
            raise LocalProtocolError(f"non-zero data for pad file {span.file_index}")
        pos += span.length


class Storage(Protocol):
    """Piece-addressed reads and writes over a torrent's files.

    Errors: `StorageError` (with `DiskFullError` and `UnsafeStoragePath`) for anything the disk
    or the paths did wrong; `LocalProtocolError` for a range outside the piece space.
    """

    @property
    def layout(self) -> Layout:
        """The piece/file geometry this storage serves."""
        ...

    def read(self, piece: int, begin: int, length: int) -> bytes:
        """`length` bytes at `begin` inside `piece`; pad regions read as zeros.

        Raises StorageError if a file is missing or shorter than the range needs.
        """
        ...

    def write(self, piece: int, begin: int, data: bytes | bytearray | memoryview) -> None:
        """Write `data` at `begin` inside `piece`, one system call per file span.

        Bytes that fall in pad files are checked to be zeros (BEP 47) and not stored.
        """
        ...

    def read_piece(self, piece: int) -> bytes:
        """The whole of `piece`."""
        ...

    def readinto(self, piece: int, begin: int, target: memoryview) -> None:
        """Fill `target` with the `len(target)` bytes at `begin` inside `piece`.

        Like `read` without a new bytes object: a recheck reuses one buffer for every piece.
        """
        ...

    def file_sizes_and_mtimes(self) -> list[tuple[int, int] | None]:
        """(size, mtime_ns) of each file of the layout; None if missing or a pad file."""
        ...

    def create_files(self, preallocate: Preallocate = "sparse") -> None:
        """Create the directories and files (see `Preallocate`); existing data is kept."""
        ...

    def set_file_priorities(self, priorities: Sequence[int]) -> None:
        """One priority per file (0: skipped): a backend may keep skipped files out of
        the download folder (`FileStorage` parks their bytes in a parts file)."""
        ...

    def flush(self) -> None:
        """Make written data durable (fsync the files written since the last flush)."""
        ...

    def close(self) -> None:
        """Release every open file; later calls raise `StorageError`."""
        ...

    def delete_files(self) -> None:
        """Remove the torrent's files (and the directories this left empty)."""
        ...

"""Where a torrent keeps its resume data: `ResumeStore`, and the file-backed one.

The runtime encodes and decodes the resume data itself (`storage/resume.py`) and hands a
store only bytes, so a store is just "load the last bytes saved, save these bytes":
a file beside the torrent (`FileResumeStore`, what `resume_path` means), or the daemon's
SQLite database. A store's `save` must be durable when it returns (the runtime records
pieces only after flushing their data, and counts on the record surviving a crash), and
it must not block the event loop: the file store runs its I/O in the session's disk pool.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..aio.disk import atomic_write, read_optional, remove_partial_writes

if TYPE_CHECKING:
    from ..aio.disk_pool import DiskPool

__all__ = ["FileResumeStore", "ResumeStore"]


class ResumeStore(Protocol):
    """Keeps one torrent's resume data (opaque bytes)."""

    async def load(self) -> bytes | None:
        """The bytes saved last; None when nothing was saved yet."""
        ...

    async def save(self, raw: bytes) -> None:
        """Replace what is saved with `raw`, durably (it survives a crash once this returns)."""
        ...


class FileResumeStore:
    """Resume data in one file, replaced atomically (temporary file, fsync, rename, fsync
    of the folder); every file operation runs in `pool`, off the event loop. A kill
    leaves the old file or the new one, never a torn one; `load` (at a start) removes the
    temporary file a kill mid-save leaves behind.

    Raises (from `load` and `save`):
        StorageError: the file cannot be read or written.
    """

    def __init__(self, path: Path, pool: DiskPool) -> None:
        self.path = path
        self._pool = pool

    def __repr__(self) -> str:
        return f"FileResumeStore({str(self.path)!r})"

    async def load(self) -> bytes | None:
        """The saved bytes; first removes the temporary file of a save a kill cut short
        (the file itself is then still the previous save, whole)."""
        loop = asyncio.get_running_loop()

        def job() -> bytes | None:
            remove_partial_writes(self.path)
            return read_optional(self.path)

        return await loop.run_in_executor(self._pool.executor, job)

    async def save(self, raw: bytes) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool.executor, atomic_write, self.path, raw)

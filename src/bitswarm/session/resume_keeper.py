"""ResumeKeeper: a torrent's resume data, trusted at start and saved durably while it runs.

Rules:

* At start, resume data is trusted only when it is for this torrent and the files' sizes
  and mtimes still match the record (`storage/resume.trusted_pieces`); otherwise the files
  are hashed again. A record whose verified pieces lie in files now missing fails the start
  (`disk_faults`): never start over from nothing on a disk that lost its data.
* A save flushes the files (fsync) and stats them in the disk pool, and records only the
  pieces verified before the flush began, so every recorded piece is durable. No piece is
  written between that moment and the stat (`quiet_disk`, the gate every piece write goes
  through with `writing()`), so the mtimes cover no piece the record leaves out.
* One save at a time, in the order asked; a save asked while one runs runs once more after.
  A dirty state is saved at most once per `SessionConfig.resume_save_interval`
  (`save_when_due`, from the tick or when a piece verifies).
* In the ERROR state a save records the stats of the last sound save (or nothing), so the
  next start rechecks whatever changed since.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Protocol

from ..aio.disk import DiskWorker
from ..bitfield import Bitfield
from ..core.torrent import TorrentCore
from ..errors import StorageError
from ..metainfo import Metainfo
from ..storage.layout import Layout
from ..storage.resume import ResumeData, decode_resume, encode_resume, trusted_pieces
from .disk_faults import lost_files, missing_data_message
from .resume_store import ResumeStore
from .status import TorrentState
from .v2_hashes import V2Hashes

__all__ = ["ResumeKeeper", "ResumeSubject"]

log = logging.getLogger("bitswarm.torrent")

FileStats = list[tuple[int, int] | None]


class ResumeSubject(Protocol):
    """What the keeper needs of a torrent (`TorrentRuntime`)."""

    meta: Metainfo  # a pure v2 torrent's gains the piece layers saved with its resume data

    @property
    def info_hash(self) -> bytes: ...
    @property
    def save_path_text(self) -> str: ...
    @property
    def layout(self) -> Layout: ...
    @property
    def disk(self) -> DiskWorker: ...
    @property
    def v2(self) -> V2Hashes | None: ...
    @property
    def core(self) -> TorrentCore | None: ...
    @property
    def state(self) -> TorrentState: ...
    @property
    def stopping(self) -> bool: ...
    def fail(self, message: str) -> None: ...


class ResumeKeeper:
    """Loads and saves one torrent's resume data through its `ResumeStore`."""

    def __init__(self, runtime: ResumeSubject, store: ResumeStore | None) -> None:
        self._rt = runtime
        self.store = store
        self.dirty = False  # pieces verified since the last save began
        self.next_save = 0.0  # loop time: a dirty state is saved from then on
        self._lock = asyncio.Lock()  # one save at a time, in the order asked
        self._task: asyncio.Task[None] | None = None
        self._again = False
        # piece writes in flight, and the gate a save closes to stat the files between two
        # writes (see `quiet_disk`)
        self._writes = 0
        self._writes_idle = asyncio.Event()
        self._writes_idle.set()
        self._writes_open = asyncio.Event()
        self._writes_open.set()
        # the files' (size, mtime) at the last save that found them whole: what a save in
        # the ERROR state records, so the next start rechecks whatever changed since
        self._good_files: FileStats | None = None

    async def load_or_check(self) -> Bitfield:
        """The pieces we have: from resume data when it matches the files, else by hashing
        what is on disk. Every file access runs in the disk pool, off the loop."""
        rt = self._rt
        n = rt.meta.info.num_pieces
        files = await rt.disk.file_sizes_and_mtimes()
        if self.store is not None:
            try:
                raw = await self.store.load()
                if raw is not None:
                    data = decode_resume(raw, info_hash=rt.info_hash, num_pieces=n)
                    # layers fetched before (a magnet's): proven again, not re-fetched
                    if rt.v2 is not None and rt.v2.adopt(data.piece_layers):
                        rt.meta = rt.v2.metainfo
                    saved = Bitfield.from_bytes(data.have, n)
                    lost = lost_files(rt.layout, saved, files)
                    if lost:  # never start over from nothing: see session/disk_faults.py
                        raise StorageError(missing_data_message(rt.layout, lost, running=False))
                    trusted = trusted_pieces(data, files)
                    if trusted is not None:
                        self._good_files = files
                        return trusted
                    log.info("resume data does not match the files: rechecking")
            except StorageError:
                raise
            except Exception as exc:  # any store's failure: recheck rather than not start
                log.warning("ignoring resume data: %s", exc)
        if not any(s is not None and s[0] > 0 for s in files):
            return Bitfield(n)
        if rt.v2 is not None:
            return await rt.disk.check_existing(rt.v2.recheck_hash, n)
        return await rt.disk.check_existing(rt.meta.info.piece_hash, n)

    def save_soon(self) -> None:
        """Save in the background; asked while a save runs, save once more after that one
        (what it recorded may already be old)."""
        rt = self._rt
        if self.store is None or rt.core is None or rt.stopping:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._save_loop())

    def save_when_due(self, now: float, interval: float) -> None:
        """Save a dirty state once `interval` seconds have passed since the last save
        began."""
        if self.dirty and now >= self.next_save:
            self.next_save = now + interval
            self.save_soon()

    async def wait_saving(self) -> None:
        """Let a background save finish (before a last save: never beside it)."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def _save_loop(self) -> None:
        while True:
            self._again = False
            await self.save()
            if not self._again or self._rt.stopping:
                return

    async def save(self) -> None:
        """Save now: flush and stat the files in the disk pool, then hand the encoded data
        to the store (a file store replaces its file atomically, in the pool too); the
        event loop never waits on the disk."""
        rt = self._rt
        async with self._lock:
            core, store = rt.core, self.store
            if store is None or core is None:
                return
            async with self.quiet_disk():
                have_now = core.have.copy()
                have = have_now.to_bytes()
                uploaded, downloaded = core.uploaded, core.downloaded
                self.dirty = False
                files = await self._files_for_save(have_now)
            if files is None:  # failed before any save found the files whole
                log.info("not saving resume data: the next start rechecks the files")
                return
            try:
                data = ResumeData(
                    info_hash=rt.info_hash,
                    have=have,
                    num_pieces=rt.meta.info.num_pieces,
                    files=files,
                    uploaded=uploaded,
                    downloaded=downloaded,
                    saved_at=int(time.time()),
                    name=rt.meta.info.name,
                    save_path=rt.save_path_text,
                    piece_layers=rt.v2.fetched_layers() if rt.v2 is not None else {},
                )
                await store.save(encode_resume(data))
                if rt.state is not TorrentState.ERROR:
                    self._good_files = files
            except Exception as exc:  # any store's failure: keep going, try again later
                self.dirty = True
                log.warning("could not save resume data: %s", exc)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Around every piece write: waits while a save stats the files."""
        await self._writes_open.wait()
        self._writes += 1
        self._writes_idle.clear()
        try:
            yield
        finally:
            self._writes -= 1
            if not self._writes:
                self._writes_idle.set()

    @contextlib.asynccontextmanager
    async def quiet_disk(self) -> AsyncIterator[None]:
        """Hold new piece writes back and wait for those in flight (their pieces are then
        verified or failed), for the snapshot-flush-stat of a save."""
        self._writes_open.clear()
        try:
            await self._writes_idle.wait()
            yield
        finally:
            self._writes_open.set()

    async def _files_for_save(self, have: Bitfield) -> FileStats | None:
        """Make the data durable and stat the files; a fault met on the way (a failed
        fsync, a file holding verified pieces gone) fails the torrent. In the ERROR state
        the stats of the last sound save are used instead (or None): resume data then keeps
        every verified piece and the next start rechecks what changed."""
        rt = self._rt
        if rt.state is not TorrentState.ERROR:
            try:
                await rt.disk.flush()
                files = await rt.disk.file_sizes_and_mtimes()
            except StorageError as exc:
                rt.fail(str(exc))
            else:
                lost = lost_files(rt.layout, have, files)
                if not lost:
                    return files
                rt.fail(missing_data_message(rt.layout, lost, running=True))
        return self._good_files

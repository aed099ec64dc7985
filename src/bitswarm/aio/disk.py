"""`DiskWorker`: the asyncio face of a `Storage`; all blocking disk work and hashing in threads.

DESIGN.md ("The hot path"): hash and write whole pieces with one pwrite per file span, from a
thread pool. hashlib and os.pwrite release the GIL, so with two cores one thread hashes while
another writes, and the event loop never blocks on the disk.

The threads are a `DiskPool`: a session shares one among all its torrents, a worker made
without one (tests, tools) owns its own. What is per torrent stays in the worker: its
backlog budget, its read cache, its errors.

Rules:

* Backpressure: at most `cache_bytes` of piece data may be queued for hashing and writing;
  beyond that `write_piece` and `hash_and_write` wait before they queue (one piece is always
  let through, however large, so nothing deadlocks).
* A small LRU cache of whole pieces, bounded by bytes, serves `read_block` when seeding (peers
  ask for a piece block by block); a write to a piece drops its cached copy, and a read that
  raced a write is not cached.
* `check_existing` rehashes everything present with one long job per core (`Recheck`);
  pieces of missing files are absent without being read. Closing the worker stops a running
  check after the piece each job is on.
* Resume files are replaced atomically (temporary file, fsync, rename, fsync of the folder).
* Nothing here touches the disk on the event loop's thread: flushes (fsync), stats, file
  creation and resume files all run in the pool, so a slow disk never stalls the peers.
"""

from __future__ import annotations

import asyncio
import glob
import mmap
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..bitfield import Bitfield
from ..errors import BitswarmError, LocalProtocolError
from ..merkle import block_hashes
from ..readlimit import MAX_STATE_FILE, read_limited
from ..storage.base import Storage, storage_error
from ..storage.resume import ResumeData, decode_resume, encode_resume
from ..storage.verify import piece_is_valid
from .disk_pool import DiskPool
from .recheck import Recheck

__all__ = [
    "CheckStopped",
    "DiskPool",
    "DiskWorker",
    "atomic_write",
    "read_optional",
    "remove_partial_writes",
]

_T = TypeVar("_T")
Buffer = bytes | bytearray | memoryview | mmap.mmap


class CheckStopped(BitswarmError):
    """The disk worker was closed (its torrent stopped) while it checked existing data."""


class DiskWorker:
    """Runs a `Storage` on a thread pool for one event loop (see the module rules).

    Pass the session's `pool` to share its threads; without one the worker makes its own
    `DiskPool(threads)` and shuts it down in `close`.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        threads: int | None = None,
        cache_bytes: int = 64 * 2**20,
        pool: DiskPool | None = None,
    ) -> None:
        if cache_bytes < 0 or (threads is not None and threads < 1):
            raise LocalProtocolError("DiskWorker needs threads >= 1 and cache_bytes >= 0")
        if pool is not None and threads is not None:
            raise LocalProtocolError("DiskWorker takes a shared pool or a thread count, not both")
        self._storage = storage
        self._layout = storage.layout
        self._own_pool = pool is None
        self._pool = pool if pool is not None else DiskPool(threads)
        self._executor = self._pool.executor
        self._checks: set[Recheck] = set()
        self._budget = cache_bytes
        self._pending = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._jobs: set[asyncio.Future[Any]] = set()
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cached = 0
        self._loads: dict[int, asyncio.Task[bytes]] = {}
        # piece -> write starts + write ends: odd while a write runs; a changed or odd value
        # tells a read that it may have raced a write, so it must not be cached
        self._writes: dict[int, int] = {}
        self._closed = False

    @property
    def storage(self) -> Storage:
        return self._storage

    @property
    def pool(self) -> DiskPool:
        return self._pool

    @property
    def pending_bytes(self) -> int:
        """Piece bytes queued for hashing/writing and not yet done."""
        return self._pending

    @property
    def cached_bytes(self) -> int:
        return self._cached

    # ------------------------------------------------------------------ writing

    async def write_piece(self, piece: int, data: Buffer) -> None:
        """Write a whole piece (already verified by the caller); waits while over budget."""
        self._check_piece_data(piece, data)
        await self._run_budgeted(len(data), piece, self._storage.write, piece, 0, data)

    async def hash_and_write(
        self,
        piece: int,
        data: Buffer,
        expected_sha1: bytes | None,
        expected_v2_root: bytes | None,
    ) -> bool:
        """Verify a whole piece in a thread and write it only if it matches; return the verdict.

        Raises:
            LocalProtocolError: no expected hash, a hash of the wrong size, or data that is
                not the piece's size.
            StorageError: the write failed (`DiskFullError` when the disk is full).
        """
        self._check_piece_data(piece, data)
        if expected_sha1 is None and expected_v2_root is None:
            raise LocalProtocolError("hash_and_write needs an expected SHA-1 or v2 root")
        view = memoryview(data)  # of a whole mmap: page-aligned, written without a copy

        def job() -> bool:
            if not piece_is_valid(
                self._layout,
                piece,
                view,
                expected_sha1=expected_sha1,
                expected_v2_root=expected_v2_root,
            ):
                return False
            self._storage.write(piece, 0, view)
            return True

        return await self._run_budgeted(len(data), piece, job)

    async def flush(self) -> None:
        """Wait for queued writes, then make everything written durable (fsync, in a thread)."""
        await self._drain()
        await self._run(self._storage.flush)

    async def create_files(self) -> None:
        """Create the folders and (sparse) files of the torrent, in a thread."""
        await self._run(self._storage.create_files)

    async def set_file_priorities(self, priorities: Sequence[int]) -> None:
        """`Storage.set_file_priorities` in a thread (it may move a file's bytes)."""
        await self._run(self._storage.set_file_priorities, list(priorities))

    async def file_sizes_and_mtimes(self) -> list[tuple[int, int] | None]:
        """`Storage.file_sizes_and_mtimes` in a thread: one stat per file, on any disk."""
        return await self._run(self._storage.file_sizes_and_mtimes)

    # ------------------------------------------------------------------ reading

    def cached_block(self, piece: int, begin: int, length: int) -> bytes | None:
        """The block if its piece is in the read cache (no waiting), else None."""
        self._check_open()
        size = self._layout.piece_size(piece)
        if begin < 0 or length < 0 or begin + length > size:
            raise LocalProtocolError(f"block {begin}+{length} outside piece {piece} of {size}")
        cached = self._cache.get(piece)
        if cached is None:
            return None
        self._cache.move_to_end(piece)
        return cached[begin : begin + length]

    async def read_block(self, piece: int, begin: int, length: int) -> bytes:
        """`length` bytes at `begin` of `piece`, through the whole-piece read cache."""
        hit = self.cached_block(piece, begin, length)
        if hit is not None:
            return hit
        size = self._layout.piece_size(piece)
        if size > self._budget:  # would never fit: read just the block
            return await self._run(self._storage.read, piece, begin, length)
        load = self._loads.get(piece)
        if load is None:
            load = asyncio.ensure_future(self._load_piece(piece))
            self._loads[piece] = load
        data = await asyncio.shield(load)
        return data[begin : begin + length]

    async def block_hashes(self, piece: int, length: int) -> list[bytes]:
        """SHA-256 of each 16 KiB block of the first `length` bytes of `piece` (a v2 file's
        bytes in it: BEP 52 leaf hashes), read through the read cache and hashed in the
        pool's threads, off the event loop."""
        data = await self.read_block(piece, 0, length)
        return await self._run(block_hashes, data)

    async def _load_piece(self, piece: int) -> bytes:
        started = self._writes.get(piece, 0)
        try:
            data = await self._run(self._storage.read_piece, piece)
        finally:
            del self._loads[piece]
        if started % 2 == 0 and self._writes.get(piece, 0) == started:  # no write raced it
            self._cache_put(piece, data)
        return data

    def _cache_put(self, piece: int, data: bytes) -> None:
        old = self._cache.pop(piece, None)
        if old is not None:
            self._cached -= len(old)
        self._cache[piece] = data
        self._cached += len(data)
        while self._cached > self._budget:
            _, evicted = self._cache.popitem(last=False)
            self._cached -= len(evicted)

    def _note_write(self, piece: int) -> None:
        self._writes[piece] = self._writes.get(piece, 0) + 1
        old = self._cache.pop(piece, None)
        if old is not None:
            self._cached -= len(old)

    # ------------------------------------------------------------------ checking

    async def check_existing(
        self,
        hashes: Callable[[int], bytes],
        num_pieces: int,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Bitfield:
        """Rehash all existing data and return the pieces that match.

        `hashes(i)` is piece i's expected hash: 20 bytes for a v1 SHA-1, 32 for a v2 piece
        hash (for hybrid torrents pass the SHA-1); it is called from the pool's threads, so
        it must be a plain lookup. `progress(done, total)` is called on the event loop as
        batches of pieces finish. A piece that cannot be read (file missing or short) is
        absent; an unsafe path still raises.

        Raises:
            CheckStopped: `close` was called meanwhile (it stops the check promptly).
        """
        self._check_open()
        if num_pieces != self._layout.num_pieces:
            raise LocalProtocolError(
                f"{num_pieces} pieces asked, layout has {self._layout.num_pieces}"
            )
        have = Bitfield(num_pieces)
        present = await self._run(self._storage.file_sizes_and_mtimes)
        skip: set[int] = set()
        for index, (spec, state) in enumerate(zip(self._layout.files, present, strict=True)):
            if state is None and not spec.is_pad:
                skip.update(self._layout.file_piece_range(index))
        done = len(skip)
        if progress is not None and done:
            progress(done, num_pieces)

        def finished(count: int) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(done, num_pieces)

        todo = [piece for piece in range(num_pieces) if piece not in skip]
        check = Recheck(self._storage, hashes, todo, workers=self._pool.hashing_threads)
        if self._closed:  # closed while the files were looked at
            raise CheckStopped("the data check was stopped: its torrent is closing")
        self._checks.add(check)  # no await before `run` starts: `close` can wait for it
        try:
            await check.run(self._executor, have, finished)
        finally:
            self._checks.discard(check)
        if self._closed:
            raise CheckStopped("the data check was stopped: its torrent is closing")
        return have

    # ------------------------------------------------------------------ resume files

    async def save_resume(self, path: Path | str, data: ResumeData) -> None:
        """Write resume data atomically: temporary file, fsync, rename, fsync the folder."""
        await self._run(atomic_write, Path(path), encode_resume(data))

    async def load_resume(
        self, path: Path | str, *, info_hash: bytes, num_pieces: int
    ) -> ResumeData | None:
        """Read resume data; None if there is no file.

        Raises:
            ResumeError: the file is malformed or belongs to another torrent (recheck then).
            StorageError: the file exists but cannot be read.
        """
        raw = await self._run(read_optional, Path(path))
        if raw is None:
            return None
        return decode_resume(raw, info_hash=info_hash, num_pieces=num_pieces)

    # ------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Stop a running check, finish queued writes, flush and close the storage, and
        shut down the pool if this worker owns it (a shared pool is its owner's to stop)."""
        if self._closed:
            return
        self._closed = True
        for check in list(self._checks):
            check.stop()
        try:
            for check in list(self._checks):
                await check.wait_ended()
            await self._drain()
            await self._in_thread(self._storage.flush)
        finally:
            await self._in_thread(self._storage.close)
            if self._own_pool:
                self._pool.shutdown()

    # ------------------------------------------------------------------ plumbing

    def _check_open(self) -> None:
        if self._closed:
            raise LocalProtocolError("DiskWorker is closed")

    def _check_piece_data(self, piece: int, data: Buffer) -> None:
        self._check_open()
        if len(data) != self._layout.piece_size(piece):
            raise LocalProtocolError(
                f"{len(data)} bytes for piece {piece} of {self._layout.piece_size(piece)}"
            )

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        self._check_open()
        return await self._in_thread(fn, *args)

    async def _in_thread(self, fn: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _run_budgeted(
        self, nbytes: int, piece: int, fn: Callable[..., _T], *args: object
    ) -> _T:
        """Run a write of `piece` in a thread once `nbytes` fit the budget; they count until
        it ends, and the piece's cached copy is dropped at its start and its end.

        The job is shielded: if the caller is cancelled the write still completes, and its
        bytes stay counted until it really has.
        """
        while self._pending and self._pending + nbytes > self._budget:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self._check_open()
        self._pending += nbytes
        self._note_write(piece)
        job = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        self._jobs.add(job)
        job.add_done_callback(lambda fut: self._job_done(fut, nbytes, piece))
        return await asyncio.shield(job)

    def _job_done(self, job: asyncio.Future[Any], nbytes: int, piece: int) -> None:
        self._jobs.discard(job)
        self._pending -= nbytes
        self._note_write(piece)
        if not job.cancelled():
            job.exception()  # retrieved here too, in case its caller was cancelled
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _drain(self) -> None:
        while self._jobs:
            await asyncio.wait(list(self._jobs))


def atomic_write(path: Path, raw: bytes) -> None:
    """Replace `path` with `raw` so a crash leaves either the old or the new file."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(raw)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise storage_error(exc, "save resume data to", str(path)) from exc


def remove_partial_writes(path: Path) -> int:
    """Remove the temporary files `atomic_write` left beside `path` when the process was
    killed before its rename (``.NAME.*.tmp``); the number removed. Call it only when no
    save of `path` can be running (at a start)."""
    removed = 0
    try:
        stale = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return 0
    for tmp in stale:
        try:
            tmp.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def read_optional(path: Path) -> bytes | None:
    try:
        return read_limited(path, MAX_STATE_FILE, what="resume file")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise storage_error(exc, "read resume data from", str(path)) from exc

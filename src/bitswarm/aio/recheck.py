"""`Recheck`: verify a torrent's existing data with one long job per core.

A recheck reads and hashes every piece on disk, which is pure hashing once the data is in the
page cache (bench/RESULTS.md, P5). One executor job per piece made the event loop wake once
per piece and kept more threads than cores contending for the GIL, so the check ran well
below what hashlib alone reaches on the same cores. Here instead:

* `workers` jobs (one per core) pull pieces one at a time from a shared cursor, so a slow
  file or a short last piece never leaves a core idle while another still has a long range;
* each job reads a piece into one reusable buffer (`Storage.readinto`: no new bytes per
  piece) and hashes it there (hashlib releases the GIL, so the jobs hash in parallel);
* a job runs for a time slice (`SLICE_SECONDS`), then returns its verdicts in one batch: the
  loop wakes a few times a second per job, reports progress, and submits the job again. The
  slice also keeps a shared disk pool fair: other torrents' reads and writes queued meanwhile
  run between two slices instead of waiting for the whole check;
* `stop()` makes every job return after the piece it is on (a torrent stopped mid-check,
  or the check's task cancelled); `run` waits for that, so no thread touches the storage
  once it has returned.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

from ..bitfield import Bitfield
from ..errors import LocalProtocolError, StorageError
from ..storage.base import DiskFullError, Storage, UnsafeStoragePath
from ..storage.verify import SHA1_SIZE, V2_HASH_SIZE, piece_is_valid

__all__ = ["SLICE_SECONDS", "Recheck"]

SLICE_SECONDS = 0.1  # a job's run before it reports back: progress ticks, pool fairness

Verdicts = list[tuple[int, bool]]


class _Cursor:
    """The pieces still to verify, handed out one at a time to whichever job asks."""

    __slots__ = ("_lock", "_pieces", "exhausted", "stopped")

    def __init__(self, pieces: Sequence[int]) -> None:
        self._pieces = iter(pieces)
        self._lock = threading.Lock()
        self.exhausted = False
        self.stopped = False

    def take(self) -> int | None:
        if self.stopped:
            return None
        with self._lock:
            piece = next(self._pieces, None)
        if piece is None:
            self.exhausted = True
        return piece


class Recheck:
    """One verification of `pieces` of `storage` against `hashes` (see the module rules).

    `hashes(i)` is piece i's expected hash: 20 bytes for a v1 SHA-1, 32 for a v2 piece hash.
    It is called from the worker threads, so it must be a plain lookup.
    """

    def __init__(
        self,
        storage: Storage,
        hashes: Callable[[int], bytes],
        pieces: Sequence[int],
        *,
        workers: int,
        slice_seconds: float = SLICE_SECONDS,
    ) -> None:
        if workers < 1:
            raise LocalProtocolError("a recheck needs at least one worker")
        self._storage = storage
        self._layout = storage.layout
        self._hashes = hashes
        self._cursor = _Cursor(pieces)
        self._workers = min(workers, max(1, len(pieces)))
        self._slice = slice_seconds
        self._buffers: list[bytearray] = []  # one per job, reused from slice to slice
        self._ended = asyncio.Event()

    @property
    def stopped(self) -> bool:
        return self._cursor.stopped

    def stop(self) -> None:
        """Make every job return after its current piece; `run` then ends early."""
        self._cursor.stopped = True

    async def wait_ended(self) -> None:
        """Until `run` has returned or raised (and its jobs have all ended)."""
        await self._ended.wait()

    async def run(self, executor: Executor, have: Bitfield, done: Callable[[int], None]) -> None:
        """Verify on `executor`; add each good piece to `have`, call `done(count)` per batch.

        Raises whatever a job raised (`LocalProtocolError` for a hash of the wrong size,
        `UnsafeStoragePath`, `DiskFullError`); other storage errors only make a piece absent.
        """
        loop = asyncio.get_running_loop()
        running: set[asyncio.Future[Verdicts]] = set()

        def submit() -> None:
            running.add(loop.run_in_executor(executor, self._verify_slice))

        error: BaseException | None = None
        try:
            for _ in range(self._workers):
                submit()
            while running:
                finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                count = 0
                for job in finished:
                    if job.exception() is not None:
                        error = error or job.exception()
                        self.stop()
                        continue
                    for piece, ok in job.result():
                        if ok:
                            have.add(piece)
                        count += 1
                    if not (self._cursor.exhausted or self._cursor.stopped):
                        submit()
                if count:
                    done(count)
            if error is not None:
                raise error
        finally:
            self.stop()
            try:
                if running:  # they end after their current piece
                    await asyncio.wait(running)
                    for job in running:
                        job.exception()  # retrieved: the first error is the one raised
            finally:
                self._ended.set()

    def _verify_slice(self) -> Verdicts:
        """In a worker thread: verify pieces from the cursor until the slice is used up."""
        buffers = self._buffers
        buffer = buffers.pop() if buffers else bytearray(self._layout.piece_length)
        view = memoryview(buffer)
        verdicts: Verdicts = []
        deadline = time.monotonic() + self._slice
        try:
            while (piece := self._cursor.take()) is not None:
                verdicts.append((piece, self._verify_one(piece, view)))
                if time.monotonic() >= deadline:
                    break
        finally:
            buffers.append(buffer)
        return verdicts

    def _verify_one(self, piece: int, view: memoryview) -> bool:
        expected = self._hashes(piece)
        if len(expected) not in (SHA1_SIZE, V2_HASH_SIZE):
            raise LocalProtocolError(f"expected hash of piece {piece} has {len(expected)} bytes")
        data = view[: self._layout.piece_size(piece)]
        try:
            self._storage.readinto(piece, 0, data)
        except (UnsafeStoragePath, DiskFullError):
            raise  # not "absent": the person has to act
        except StorageError:
            return False  # missing or short file
        if len(expected) == SHA1_SIZE:
            return piece_is_valid(self._layout, piece, data, expected_sha1=expected)
        return piece_is_valid(self._layout, piece, data, expected_v2_root=expected)

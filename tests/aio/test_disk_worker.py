"""The asyncio disk worker: verified writes, rechecks, backpressure, read cache, resume files."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bitswarm.aio.disk import DiskWorker
from bitswarm.bitfield import Bitfield
from bitswarm.errors import LocalProtocolError
from bitswarm.storage import (
    DiskFullError,
    FileSpec,
    FileStorage,
    Layout,
    MemoryStorage,
    ResumeData,
    ResumeError,
)

KIB16 = 16 * 1024


def _blob(layout: Layout, seed: int = 3) -> bytes:
    rng = random.Random(seed)
    return b"".join(bytes(s.length) if s.is_pad else rng.randbytes(s.length) for s in layout.files)


def _piece(layout: Layout, blob: bytes, piece: int) -> bytes:
    start = piece * layout.piece_length
    return blob[start : start + layout.piece_size(piece)]


class GatedStorage(MemoryStorage):
    """Memory storage whose writes wait for a gate, and which counts what it is asked."""

    def __init__(self, layout: Layout) -> None:
        super().__init__(layout)
        self.gate = threading.Event()
        self.gate.set()
        self.read_gate = threading.Event()
        self.read_gate.set()
        self.has_read = threading.Event()  # set once a read_piece has its data
        self.active = 0
        self.most_active = 0
        self.piece_reads = 0
        self.count_lock = threading.Lock()

    def write(self, piece: int, begin: int, data: bytes | bytearray | memoryview) -> None:
        with self.count_lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            assert self.gate.wait(10)
            super().write(piece, begin, data)
        finally:
            with self.count_lock:
                self.active -= 1

    def read_piece(self, piece: int) -> bytes:
        with self.count_lock:
            self.piece_reads += 1
        data = super().read_piece(piece)
        self.has_read.set()
        assert self.read_gate.wait(10)  # hold the data read so far, as a slow disk would
        return data


async def _until(condition: Callable[[], bool]) -> None:
    """Poll (threads make progress on their own) until `condition` holds; fail after 10 s."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached in 10 s")


def test_hash_and_write_rejects_bad_data_and_writes_nothing() -> None:
    layout = Layout([FileSpec(("a",), 3000), FileSpec(("b",), 1000)], 1024)
    blob = _blob(layout)
    storage = MemoryStorage(layout)

    async def main() -> None:
        worker = DiskWorker(storage, threads=2)
        good = _piece(layout, blob, 2)
        bad = bytearray(good)
        bad[500] ^= 1
        sha = hashlib.sha1(good).digest()
        assert await worker.hash_and_write(2, bytes(bad), sha, None) is False
        assert storage.files == [None, None]
        assert await worker.hash_and_write(2, good, sha, None) is True
        assert await worker.read_block(2, 0, len(good)) == good
        with pytest.raises(LocalProtocolError):
            await worker.hash_and_write(2, good, None, None)
        with pytest.raises(LocalProtocolError):
            await worker.hash_and_write(2, good[:-1], sha, None)
        await worker.close()

    asyncio.run(main())


def test_hash_and_write_v2_with_padding() -> None:
    layout = Layout(
        [
            FileSpec(("a",), KIB16 + 10),
            FileSpec((".pad", "x"), KIB16 - 10, is_pad=True),
            FileSpec(("b",), 100),
        ],
        KIB16,
    )
    blob = _blob(layout)
    storage = MemoryStorage(layout)

    async def main() -> None:
        worker = DiskWorker(storage, threads=2)
        piece1 = _piece(layout, blob, 1)
        # a's last piece: 10 bytes, one leaf, padded to the piece's one leaf
        root = hashlib.sha256(piece1[:10]).digest()
        assert await worker.hash_and_write(1, piece1, None, root)
        tampered = piece1[:-1] + b"\x01"  # padding must be zeros
        assert not await worker.hash_and_write(1, tampered, None, root)
        assert await worker.read_block(1, 0, 10) == blob[KIB16 : KIB16 + 10]
        await worker.close()

    asyncio.run(main())


def test_check_existing_finds_exactly_the_good_pieces(tmp_path: Path) -> None:
    layout = Layout(
        [FileSpec(("one",), 5000), FileSpec(("two", "x"), 3000), FileSpec(("three",), 4100)],
        1024,
    )
    blob = _blob(layout)
    storage = FileStorage(tmp_path, layout)
    storage.create_files()
    for piece in range(layout.num_pieces):
        storage.write(piece, 0, _piece(layout, blob, piece))
    storage.close()
    # damage: flip a byte in piece 2 (file one), remove file two (pieces 4..7), truncate three
    with open(tmp_path / "one", "r+b") as f:
        f.seek(2 * 1024 + 7)
        f.write(bytes([blob[2 * 1024 + 7] ^ 0xFF]))
    os.unlink(tmp_path / "two" / "x")
    os.truncate(tmp_path / "three", 4000)  # pieces 11 (bytes 11264..12099) lose their end
    sha1s = [hashlib.sha1(_piece(layout, blob, i)).digest() for i in range(layout.num_pieces)]
    seen: list[tuple[int, int]] = []

    async def main() -> Bitfield:
        worker = DiskWorker(FileStorage(tmp_path, layout), threads=3)
        have = await worker.check_existing(
            sha1s.__getitem__, layout.num_pieces, progress=lambda d, t: seen.append((d, t))
        )
        await worker.close()
        return have

    have = asyncio.run(main())
    missing = {2} | set(layout.file_piece_range(1)) | {11}
    assert set(have) == set(range(layout.num_pieces)) - missing
    assert seen[-1] == (layout.num_pieces, layout.num_pieces)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_check_existing_v2_hashes_and_wrong_sizes() -> None:
    layout = Layout([FileSpec(("a",), 3 * KIB16)], KIB16)
    blob = _blob(layout)
    storage = MemoryStorage(layout)
    storage.write(0, 0, _piece(layout, blob, 0))
    storage.write(1, 0, _piece(layout, blob, 1))
    storage.write(2, 0, _piece(layout, blob, 2)[:-1] + b"\0")

    async def main() -> None:
        worker = DiskWorker(storage, threads=2)
        roots = [hashlib.sha256(_piece(layout, blob, i)).digest() for i in range(3)]
        have = await worker.check_existing(roots.__getitem__, 3)
        assert set(have) == ({0, 1} if blob[-1] else {0, 1, 2})
        with pytest.raises(LocalProtocolError):
            await worker.check_existing(lambda i: b"short", 3)
        with pytest.raises(LocalProtocolError):
            await worker.check_existing(roots.__getitem__, 4)
        await worker.close()

    asyncio.run(main())


def test_write_backpressure_is_bounded() -> None:
    layout = Layout([FileSpec(("a",), 10 * 1024)], 1024)
    blob = _blob(layout)
    storage = GatedStorage(layout)
    storage.gate.clear()

    async def main() -> None:
        worker = DiskWorker(storage, threads=8, cache_bytes=3 * 1024)
        tasks = [
            asyncio.create_task(worker.write_piece(i, _piece(layout, blob, i))) for i in range(10)
        ]
        await _until(lambda: storage.active == 3)
        for _ in range(20):
            await asyncio.sleep(0.005)
            assert worker.pending_bytes <= 3 * 1024
        assert worker.pending_bytes == 3 * 1024  # three queued, seven waiting
        assert storage.active == 3
        assert sum(t.done() for t in tasks) == 0
        storage.gate.set()
        await asyncio.gather(*tasks)
        assert worker.pending_bytes == 0
        assert storage.most_active <= 3
        assert await worker.read_block(9, 0, 1024) == _piece(layout, blob, 9)
        await worker.close()

    asyncio.run(main())


def test_cancelled_write_still_lands_and_releases_budget() -> None:
    layout = Layout([FileSpec(("a",), 2048)], 1024)
    storage = GatedStorage(layout)
    storage.gate.clear()

    async def main() -> None:
        worker = DiskWorker(storage, threads=2, cache_bytes=1024)
        first = asyncio.create_task(worker.write_piece(0, b"x" * 1024))
        await _until(lambda: storage.active == 1)
        first.cancel()
        await asyncio.sleep(0.01)
        assert worker.pending_bytes == 1024  # the write is still running in its thread
        second = asyncio.create_task(worker.write_piece(1, b"y" * 1024))
        await asyncio.sleep(0.02)
        assert not second.done()
        storage.gate.set()
        await second
        assert await worker.read_block(0, 0, 4) == b"xxxx"
        await worker.close()

    asyncio.run(main())


def test_read_cache_serves_blocks_and_is_dropped_by_writes() -> None:
    layout = Layout([FileSpec(("a",), 8 * 1024)], 1024)
    blob = _blob(layout)
    storage = GatedStorage(layout)
    for i in range(8):
        storage.write(i, 0, _piece(layout, blob, i))

    async def main() -> None:
        worker = DiskWorker(storage, threads=2, cache_bytes=3 * 1024)
        blocks = await asyncio.gather(*(worker.read_block(1, b * 256, 256) for b in range(4)))
        assert b"".join(blocks) == _piece(layout, blob, 1)
        assert storage.piece_reads == 1  # concurrent readers shared one read
        await worker.read_block(1, 0, 10)
        assert storage.piece_reads == 1
        await worker.write_piece(1, b"n" * 1024)
        assert await worker.read_block(1, 0, 3) == b"nnn"
        assert storage.piece_reads == 2
        for piece in range(8):
            await worker.read_block(piece, 0, 1)
        assert worker.cached_bytes <= 3 * 1024
        with pytest.raises(LocalProtocolError):
            await worker.read_block(7, 1000, 25)
        await worker.close()

    asyncio.run(main())


def test_cached_block_answers_without_waiting_only_from_the_cache() -> None:
    layout = Layout([FileSpec(("a",), 4 * 1024)], 1024)
    blob = _blob(layout)
    storage = GatedStorage(layout)
    for i in range(4):
        storage.write(i, 0, _piece(layout, blob, i))

    async def main() -> None:
        worker = DiskWorker(storage, threads=1, cache_bytes=2 * 1024)
        assert worker.cached_block(2, 0, 100) is None  # not loaded: no disk read started
        assert storage.piece_reads == 0
        await worker.read_block(2, 0, 1)
        assert worker.cached_block(2, 100, 50) == _piece(layout, blob, 2)[100:150]
        assert storage.piece_reads == 1
        with pytest.raises(LocalProtocolError):
            worker.cached_block(2, 1000, 25)
        await worker.close()

    asyncio.run(main())


def test_read_that_raced_a_write_is_not_cached() -> None:
    layout = Layout([FileSpec(("a",), 2048)], 1024)
    storage = GatedStorage(layout)
    storage.write(0, 0, b"o" * 1024)
    storage.read_gate.clear()

    async def main() -> None:
        worker = DiskWorker(storage, threads=2)
        stale = asyncio.create_task(worker.read_block(0, 0, 4))
        await _until(storage.has_read.is_set)  # the read has its (old) data, waits on the gate
        await worker.write_piece(0, b"n" * 1024)
        storage.read_gate.set()
        assert await stale == b"oooo"  # a snapshot from before the write: fine to return
        assert await worker.read_block(0, 0, 4) == b"nnnn"  # but it was not cached
        await worker.close()

    asyncio.run(main())


def test_read_during_a_running_write_is_not_kept() -> None:
    layout = Layout([FileSpec(("a",), 1024)], 1024)
    storage = GatedStorage(layout)
    storage.write(0, 0, b"o" * 1024)
    storage.gate.clear()

    async def main() -> None:
        worker = DiskWorker(storage, threads=2)
        write = asyncio.create_task(worker.write_piece(0, b"n" * 1024))
        await _until(lambda: storage.active == 1)  # the write is stuck in its thread
        assert await worker.read_block(0, 0, 4) == b"oooo"
        storage.gate.set()
        await write
        assert await worker.read_block(0, 0, 4) == b"nnnn"
        await worker.close()

    asyncio.run(main())


def test_disk_full_reaches_the_caller(tmp_path: Path) -> None:
    layout = Layout([FileSpec(("a",), 1024)], 1024)
    full = os.open("/dev/full", os.O_WRONLY)

    async def main() -> None:
        storage = FileStorage(tmp_path, layout, pwrite=lambda fd, d, o: os.pwrite(full, d, o))
        worker = DiskWorker(storage, threads=1)
        with pytest.raises(DiskFullError):
            await worker.write_piece(0, bytes(1024))
        assert worker.pending_bytes == 0
        await worker.close()

    try:
        asyncio.run(main())
    finally:
        os.close(full)


def test_resume_files_saved_atomically_and_loaded(tmp_path: Path) -> None:
    layout = Layout([FileSpec(("a",), 100)], 16)
    path = tmp_path / "state" / "t.resume"
    info_hash = bytes(range(20))
    have = Bitfield.from_indices(7, [1, 6]).to_bytes()
    data = ResumeData(info_hash, have, 7, [(100, 5)], 1, 2, 3)

    async def main() -> None:
        worker = DiskWorker(MemoryStorage(layout), threads=1)
        assert await worker.load_resume(path, info_hash=info_hash, num_pieces=7) is None
        await worker.save_resume(path, data)
        newer = ResumeData(info_hash, bytes(1), 7, [None], 4, 5, 6)
        await worker.save_resume(path, newer)  # replaces the old file
        assert await worker.load_resume(path, info_hash=info_hash, num_pieces=7) == newer
        assert [p.name for p in path.parent.iterdir()] == ["t.resume"]  # no temporary left
        path.write_bytes(b"d3:fooi1ee")
        with pytest.raises(ResumeError):
            await worker.load_resume(path, info_hash=info_hash, num_pieces=7)
        await worker.close()

    asyncio.run(main())


def test_close_flushes_closes_and_refuses_more_work(tmp_path: Path) -> None:
    layout = Layout([FileSpec(("a",), 64)], 64)
    storage = FileStorage(tmp_path, layout)

    async def main() -> None:
        worker = DiskWorker(storage)
        write = asyncio.create_task(worker.write_piece(0, b"w" * 64))
        await asyncio.sleep(0)
        await worker.close()
        assert write.done() and write.exception() is None
        with pytest.raises(LocalProtocolError):
            await worker.read_block(0, 0, 1)
        await worker.close()  # idempotent

    asyncio.run(main())
    assert (tmp_path / "a").read_bytes() == b"w" * 64

"""Rechecking existing data: multi-file hybrid torrents with padding, progress, stopping."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
from pathlib import Path

import pytest

from bitswarm.aio.disk import CheckStopped, DiskWorker
from bitswarm.aio.disk_pool import DiskPool
from bitswarm.aio.recheck import Recheck
from bitswarm.bitfield import Bitfield
from bitswarm.create import create_torrent
from bitswarm.errors import LocalProtocolError
from bitswarm.metainfo import Metainfo, parse_torrent
from bitswarm.session.torrent import build_layout
from bitswarm.storage import FileSpec, FileStorage, Layout, MemoryStorage

KIB16 = 16 * 1024
SIZES = [40_000, 70_000, 5_000, 33_000, 90_000]  # none piece-aligned: BEP 47 pad files


def _hybrid(tmp_path: Path) -> tuple[Metainfo, Path]:
    """A hybrid torrent of several files (with pad files between them) and its folder."""
    folder = tmp_path / "content"
    folder.mkdir()
    rng = random.Random(5)
    for i, size in enumerate(SIZES):
        (folder / f"f{i}").write_bytes(rng.randbytes(size))
    meta = parse_torrent(create_torrent(folder, piece_length=KIB16, version="hybrid", trackers=[]))
    return meta, tmp_path


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x5A]))


def _piece_of(meta: Metainfo, file_name: str, offset: int) -> int:
    entry = next(f for f in meta.info.files if f.path[-1] == file_name)
    return (entry.offset + offset) // meta.info.piece_length


def test_recheck_finds_a_corrupted_piece_in_the_middle_with_progress(tmp_path: Path) -> None:
    meta, root = _hybrid(tmp_path)
    layout = build_layout(meta)
    assert any(f.is_pad for f in layout.files)
    bad = _piece_of(meta, "f2", 1234)  # a short file between pad files, mid-torrent
    assert 0 < bad < layout.num_pieces - 1
    _flip(root / "content" / "f2", 1234)
    seen: list[tuple[int, int]] = []

    async def main() -> tuple[Bitfield, Bitfield]:
        worker = DiskWorker(FileStorage(root, layout), threads=3)
        v1 = await worker.check_existing(
            meta.info.piece_hash, layout.num_pieces, progress=lambda d, t: seen.append((d, t))
        )
        v2 = await worker.check_existing(meta.piece_hash_v2, layout.num_pieces)
        await worker.close()
        return v1, v2

    v1, v2 = asyncio.run(main())
    everything = set(range(layout.num_pieces))
    assert set(v1) == everything - {bad}  # SHA-1 over file bytes and zeroed padding
    assert set(v2) == everything - {bad}  # merkle roots over each file's own bytes
    assert seen and seen[-1] == (layout.num_pieces, layout.num_pieces)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert all(t == layout.num_pieces for _, t in seen)


def test_recheck_reports_each_batch_and_reuses_buffers() -> None:
    layout = Layout([FileSpec(("a",), 40 * 1024 + 7)], 1024)
    rng = random.Random(9)
    storage = MemoryStorage(layout)
    blob = rng.randbytes(layout.total_length)
    for piece in range(layout.num_pieces):
        start = piece * 1024
        storage.write(piece, 0, blob[start : start + layout.piece_size(piece)])
    sha1s = [hashlib.sha1(storage.read_piece(i)).digest() for i in range(layout.num_pieces)]
    sha1s[17] = bytes(20)  # expected hash that no data matches
    batches: list[int] = []

    async def main() -> Bitfield:
        have = Bitfield(layout.num_pieces)
        check = Recheck(
            storage, sha1s.__getitem__, range(layout.num_pieces), workers=2, slice_seconds=0.0
        )  # every job returns after one piece
        pool = DiskPool(2)
        try:
            await check.run(pool.executor, have, batches.append)
        finally:
            pool.shutdown()
        assert len(check._buffers) <= 2  # one buffer per job, reused across its slices
        return have

    have = asyncio.run(main())
    assert set(have) == set(range(layout.num_pieces)) - {17}
    assert sum(batches) == layout.num_pieces
    assert len(batches) >= layout.num_pieces // 2  # a report per returned job, not one at the end


class _SlowStorage(MemoryStorage):
    """Memory storage whose reads wait for a gate once `hold_from` pieces have been read."""

    def __init__(self, layout: Layout, hold_from: int) -> None:
        super().__init__(layout)
        self.gate = threading.Event()
        self.waiting = threading.Event()
        self.reads = 0
        self._hold_from = hold_from
        self._lock = threading.Lock()

    def readinto(self, piece: int, begin: int, target: memoryview) -> None:
        with self._lock:
            self.reads += 1
            hold = self.reads > self._hold_from
        if hold:
            self.waiting.set()
            assert self.gate.wait(10)
        super().readinto(piece, begin, target)


def _slow_worker(pieces: int) -> tuple[_SlowStorage, DiskWorker]:
    layout = Layout([FileSpec(("a",), pieces * 1024)], 1024)
    storage = _SlowStorage(layout, hold_from=5)
    storage.create_files()
    return storage, DiskWorker(storage, threads=2)


def test_closing_the_worker_stops_a_running_check_promptly() -> None:
    storage, worker = _slow_worker(500)

    async def main() -> None:
        check = asyncio.create_task(worker.check_existing(lambda i: bytes(20), 500))
        assert await asyncio.to_thread(storage.waiting.wait, 10)
        closing = asyncio.create_task(worker.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # it waits for the jobs, which wait on the disk
        storage.gate.set()
        async with asyncio.timeout(5):
            await closing
            with pytest.raises(CheckStopped):
                await check

    asyncio.run(main())
    assert storage.reads <= 5 + 2  # each job finished the piece it was on, then stopped


def test_cancelling_a_check_stops_its_jobs() -> None:
    storage, worker = _slow_worker(500)

    async def main() -> None:
        check = asyncio.create_task(worker.check_existing(lambda i: bytes(20), 500))
        assert await asyncio.to_thread(storage.waiting.wait, 10)
        check.cancel()
        await asyncio.sleep(0.02)
        storage.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await check
        reads = storage.reads
        await asyncio.sleep(0.05)
        assert storage.reads == reads  # nothing left running in the pool
        await worker.close()

    asyncio.run(main())
    assert storage.reads <= 5 + 2


def test_a_bad_expected_hash_fails_the_check_and_stops_the_others() -> None:
    storage, worker = _slow_worker(500)
    storage.gate.set()

    async def main() -> None:
        with pytest.raises(LocalProtocolError):
            await worker.check_existing(lambda i: bytes(20 if i < 40 else 7), 500)
        await worker.close()

    asyncio.run(main())
    assert storage.reads < 100


def test_storage_readinto_fills_padding_with_zeros(tmp_path: Path) -> None:
    layout = Layout(
        [FileSpec(("a",), 1000), FileSpec((".pad", "24"), 24, is_pad=True), FileSpec(("b",), 1500)],
        1024,
    )
    data = random.Random(2).randbytes(2500)
    for storage in (FileStorage(tmp_path, layout), MemoryStorage(layout)):
        storage.write(0, 0, data[:1000] + bytes(24))
        storage.write(1, 0, data[1000:2024])
        storage.write(2, 0, data[2024:])
        target = bytearray(b"\xff" * 1024)
        storage.readinto(0, 0, memoryview(target))
        assert bytes(target) == data[:1000] + bytes(24)
        target[:] = b"\xff" * 1024
        storage.readinto(0, 900, memoryview(target)[:124])
        assert bytes(target[:124]) == data[900:1000] + bytes(24)
        storage.readinto(1, 100, memoryview(target)[:924])
        assert bytes(target[:924]) == data[1100:2024]
        storage.close()

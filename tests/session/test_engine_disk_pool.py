"""One disk thread pool per session: shared by every torrent, shut down with the session."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from bitswarm.aio.disk import CheckStopped, DiskWorker
from bitswarm.aio.disk_pool import DiskPool
from bitswarm.errors import LocalProtocolError
from bitswarm.session import TorrentState
from bitswarm.storage import DiskFullError, FileSpec, FileStorage, Layout, MemoryStorage

from .helpers import make_multifile, make_torrent, start_session

TORRENTS = 12


def _disk_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("bitswarm-disk")]


def test_torrents_share_the_session_pool_and_it_ends_with_the_session(tmp_path: Path) -> None:
    metas = []
    for i in range(TORRENTS):
        content = make_multifile(tmp_path / f"t{i}", [30_000 + i, 20_000], seed=i)
        metas.append((make_torrent(content, piece_length=16 * 1024, version="v1"), content))
    before = len(_disk_threads())

    async def run() -> DiskPool:
        session = await start_session()
        pool = session.disk_pool
        try:
            runtimes = [await session.add(meta, content.parent) for meta, content in metas]
            assert all(rt.state is TorrentState.SEEDING for rt in runtimes)  # all checked
            assert all(rt.disk.pool is pool for rt in runtimes)
            # every torrent reads at once: still only the session's threads
            blocks = await asyncio.gather(*(rt.disk.read_block(0, 0, 100) for rt in runtimes))
            assert [b[:100] for b in blocks] == [
                (content / "file0.bin").read_bytes()[:100] for _, content in metas
            ]
            assert len(_disk_threads()) - before <= pool.threads < TORRENTS
            await session.remove(runtimes[0])  # one torrent leaves: the pool stays
            assert not pool.is_shut_down
            assert await runtimes[1].disk.read_block(1, 0, 10)
        finally:
            await session.close()
        return pool

    pool = asyncio.run(run())
    assert pool.is_shut_down
    with pytest.raises(RuntimeError):
        pool.executor.submit(int)
    for thread in _disk_threads():
        thread.join(5)
    assert len(_disk_threads()) == before


def test_workers_on_one_pool_keep_their_own_backlog_and_errors() -> None:
    layout = Layout([FileSpec(("a",), 8 * 1024)], 1024)
    gate = threading.Event()

    class Gated(MemoryStorage):
        def write(self, piece: int, begin: int, data: bytes | bytearray | memoryview) -> None:
            assert gate.wait(10)
            super().write(piece, begin, data)

    class Full(MemoryStorage):
        def write(self, piece: int, begin: int, data: bytes | bytearray | memoryview) -> None:
            raise DiskFullError("disk full: test")

    async def main() -> None:
        pool = DiskPool(6)
        slow = DiskWorker(Gated(layout), pool=pool, cache_bytes=2 * 1024)
        full = DiskWorker(Full(layout), pool=pool)
        quick = DiskWorker(MemoryStorage(layout), pool=pool)
        stuck = [asyncio.create_task(slow.write_piece(i, bytes(1024))) for i in range(5)]
        await asyncio.sleep(0.05)
        assert slow.pending_bytes == 2 * 1024  # its own budget: two queued, three waiting
        await asyncio.wait_for(quick.write_piece(0, b"q" * 1024), 5)  # not held up by it
        assert quick.pending_bytes == 0
        with pytest.raises(DiskFullError):
            await full.write_piece(0, bytes(1024))
        assert await quick.read_block(0, 0, 2) == b"qq"  # the error stayed with its torrent
        gate.set()
        await asyncio.gather(*stuck)
        for worker in (slow, full, quick):
            await worker.close()
        assert not pool.is_shut_down  # a shared pool is its owner's to shut down
        assert await asyncio.get_running_loop().run_in_executor(pool.executor, int, "7") == 7
        pool.shutdown()
        with pytest.raises(LocalProtocolError):
            DiskWorker(MemoryStorage(layout), pool=pool, threads=2)

    asyncio.run(main())


def test_removing_a_torrent_mid_check_stops_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = make_multifile(tmp_path / "t", [400 * 16 * 1024])
    meta = make_torrent(content, piece_length=16 * 1024, version="v1")
    reads = 0
    real = FileStorage.readinto

    def slow_readinto(self: FileStorage, piece: int, begin: int, target: memoryview) -> None:
        nonlocal reads
        reads += 1
        time.sleep(0.005)  # a slow disk: 400 pieces would take a second per thread
        real(self, piece, begin, target)

    monkeypatch.setattr(FileStorage, "readinto", slow_readinto)

    async def run() -> None:
        session = await start_session()
        try:
            adding = asyncio.create_task(session.add(meta, content.parent))
            async with asyncio.timeout(5):
                while not reads:  # noqa: ASYNC110 - polling a counter the threads bump
                    await asyncio.sleep(0.005)
            rt = session.torrents[meta.info.info_hashes.wire]
            before = rt.state  # a copy: asserting on rt.state would hold it narrowed below
            assert before is TorrentState.CHECKING
            async with asyncio.timeout(1):
                await session.remove(rt)
                with pytest.raises(CheckStopped):
                    await adding
            assert rt.state is TorrentState.STOPPED
            assert meta.info.info_hashes.wire not in session.torrents
        finally:
            await session.close()

    asyncio.run(run())
    assert reads < 100  # far from the 400 pieces: the check stopped

"""Waiting on a torrent ends: `wait_complete` and `fetch_metadata` raise `TorrentFailed`
when the torrent can no longer complete (a disk error, no metadata in time, stopped),
instead of waiting forever."""

from __future__ import annotations

import asyncio
import inspect
import os
from pathlib import Path

import pytest

from bitswarm.errors import TorrentFailed
from bitswarm.magnet import Magnet
from bitswarm.session import TorrentState
from bitswarm.session.metadata import MetadataTimeout
from bitswarm.storage.filesystem import FileStorage

from .helpers import make_multifile, make_torrent, start_session

PIECE = 16 * 1024


def test_a_disk_error_mid_download_makes_the_wait_raise(tmp_path: Path) -> None:
    """A file's path is taken by a folder while the download runs: writing the piece
    fails (EISDIR), the torrent pauses on the error, and the waiter gets it."""
    # More files than FileStorage keeps open: the first one is closed again after the
    # files are created at `add`, so its next write opens the path anew and meets the
    # folder (an open descriptor would keep writing to the replaced file).
    max_open = inspect.signature(FileStorage).parameters["max_open_files"].default
    content = make_multifile(tmp_path / "seed", [PIECE] * (max_open + 4))
    meta = make_torrent(content, piece_length=PIECE, version="v1")
    first = tmp_path / "leech" / Path(*meta.info.files[0].path)

    async def run() -> tuple[TorrentFailed, TorrentState, str | None]:
        seeder = await start_session()
        leecher = await start_session()
        try:
            await seeder.add(meta, tmp_path / "seed")
            rt = await leecher.add(
                meta, tmp_path / "leech", peers=[("127.0.0.1", seeder.listen_port)]
            )
            assert first.is_file()  # made by `add`; no block has arrived yet
            first.unlink()
            first.mkdir()
            async with asyncio.timeout(30):
                with pytest.raises(TorrentFailed) as caught:
                    await rt.wait_complete()
            return caught.value, rt.status().state, rt.status().error
        finally:
            await leecher.close()
            await seeder.close()

    exc, state, error = asyncio.run(run())
    assert state is TorrentState.ERROR
    assert error is not None and exc.reason == error
    assert str(first) in error and "\n" not in error, error
    assert str(exc) == f"{meta.info.name}: {error}"


def test_stopping_a_torrent_wakes_its_waiter(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [4 * PIECE])
    meta = make_torrent(content, piece_length=PIECE, version="v1")

    async def run() -> TorrentFailed:
        session = await start_session()
        try:
            rt = await session.add(meta, tmp_path / "leech")  # nobody to download from
            waiter = asyncio.ensure_future(rt.wait_complete())
            await asyncio.sleep(0)  # the waiter is waiting
            assert not waiter.done()
            await session.remove(rt)
            async with asyncio.timeout(10):
                with pytest.raises(TorrentFailed) as caught:
                    await waiter
            with pytest.raises(TorrentFailed):  # and a later wait raises at once
                await rt.wait_complete()
            return caught.value
        finally:
            await session.close()

    exc = asyncio.run(run())
    assert exc.reason == "stopped before it completed"


def test_waiting_on_a_complete_torrent_returns_at_once(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [3 * PIECE])
    meta = make_torrent(content, piece_length=PIECE, version="v1")

    async def run() -> None:
        session = await start_session()
        try:
            rt = await session.add(meta, tmp_path / "seed")  # the data is all there
            async with asyncio.timeout(5):
                await rt.wait_complete()
            await session.remove(rt)
            await rt.wait_complete()  # complete stays complete, stopped or not
        finally:
            await session.close()

    asyncio.run(run())


def test_a_magnet_nobody_serves_times_out_with_metadata_timeout(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [PIECE])
    magnet = Magnet.from_metainfo(make_torrent(content, piece_length=PIECE))  # no tracker, no peer

    async def run() -> MetadataTimeout:
        session = await start_session()
        try:
            async with asyncio.timeout(10):
                with pytest.raises(MetadataTimeout) as caught:
                    await session.fetch_metadata(magnet, give_up_after=0.5)
            assert not session.fetches  # the fetch is over, not left running
            return caught.value
        finally:
            await session.close()

    exc = asyncio.run(run())
    assert isinstance(exc, TorrentFailed)  # one `except` covers every way a torrent fails
    assert magnet.info_hashes.wire.hex() in str(exc) and "after 0 s" in str(exc)


def test_closing_the_session_ends_a_metadata_fetch_without_a_timeout(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [PIECE])
    magnet = Magnet.from_metainfo(make_torrent(content, piece_length=PIECE))

    async def run() -> TorrentFailed:
        session = await start_session()
        fetch = asyncio.ensure_future(session.fetch_metadata(magnet))  # would wait forever
        async with asyncio.timeout(10):
            while not session.fetches:  # noqa: ASYNC110 - waiting for the fetch to begin
                await asyncio.sleep(0)
            await session.close()
            with pytest.raises(TorrentFailed) as caught:
                await fetch
        return caught.value

    exc = asyncio.run(run())
    assert not isinstance(exc, MetadataTimeout)
    assert exc.reason == "the session was closed"
    assert os.linesep not in str(exc)

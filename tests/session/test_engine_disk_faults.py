"""Disk faults under a running download: EIO from a FUSE file system, a file deleted under
the torrent. Each stops the torrent in ERROR with a one-line reason, keeps every verified
piece, and a start after the fault resumes without fetching a verified piece again."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bitswarm.errors import StorageError
from bitswarm.metainfo import Metainfo
from bitswarm.session import Session, TorrentRuntime, TorrentState

from ..faultfs import FaultFs
from .helpers import digest_tree, make_multifile, make_torrent, start_session

MiB = 2**20
PIECE = 64 * 1024


async def _wait(cond: object) -> None:
    async with asyncio.timeout(60):
        while not cond():  # type: ignore[operator]  # noqa: ASYNC110 - polling a status
            await asyncio.sleep(0.02)


def _have(rt: TorrentRuntime) -> set[int]:
    assert rt.core is not None
    return set(rt.core.have)


async def _leech(
    session: Session, meta: Metainfo, folder: Path, seeder: Session, resume: Path
) -> TorrentRuntime:
    return await session.add(
        meta,
        folder,
        peers=[("127.0.0.1", seeder.listen_port)],
        resume_path=resume,
        download_limit=1.5 * MiB,  # slow enough to meet the fault half way
    )


def test_eio_on_write_pauses_and_a_restart_resumes(tmp_path: Path, fault_fs: FaultFs) -> None:
    content = make_multifile(tmp_path / "seed", [3 * MiB, 1 * MiB])
    meta = make_torrent(content, piece_length=PIECE, version="v1")
    resume = tmp_path / "leech.resume"

    async def run() -> tuple[str | None, set[int], set[int], int]:
        seeder = await start_session()
        leecher = await start_session()
        try:
            await seeder.add(meta, tmp_path / "seed")
            rt = await _leech(leecher, meta, fault_fs.mount, seeder, resume)
            await _wait(lambda: len(_have(rt)) >= 8)
            fault_fs.set_rules([{"op": "write", "path": "file0.bin"}])
            await _wait(lambda: rt.state is TorrentState.ERROR)
            error, kept = rt.error, _have(rt)
            assert not rt.protocols, "a paused torrent keeps no peers"
            await leecher.remove(rt)
            fault_fs.set_rules([])  # the disk is fixed; the person starts the torrent again
            rt = await _leech(leecher, meta, fault_fs.mount, seeder, resume)
            first = _have(rt)
            await asyncio.wait_for(rt.wait_complete(), 60)
            assert rt.core is not None
            return error, kept, first, rt.core.downloaded
        finally:
            await leecher.close()
            await seeder.close()

    error, kept, first, downloaded = asyncio.run(run())
    assert error is not None and "\n" not in error
    assert "Input/output error" in error and "file0.bin" in error, error
    assert kept <= first, f"verified pieces lost: {sorted(kept - first)}"
    # the second run fetched only what was missing (plus blocks of pieces in flight)
    assert downloaded <= (meta.info.num_pieces - len(first)) * PIECE + 8 * PIECE
    assert digest_tree(fault_fs.mount / "content") == digest_tree(content)


def test_deleted_file_errors_and_needs_data_or_a_recheck(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [2 * MiB, 2 * MiB])
    meta = make_torrent(content, piece_length=PIECE, version="v1")
    resume = tmp_path / "leech.resume"
    folder = tmp_path / "dl"
    victim = folder / "content" / "file0.bin"

    async def run() -> tuple[str | None, set[int], str, int]:
        seeder = await start_session()
        leecher = await start_session()
        try:
            await seeder.add(meta, tmp_path / "seed")
            rt = await _leech(leecher, meta, folder, seeder, resume)
            await _wait(lambda: len(_have(rt)) >= 8)
            await rt.save_resume()  # a sound save: it trusts the files as they are now
            os.unlink(victim)
            await _wait(lambda: rt.state is TorrentState.ERROR)
            error, kept = rt.error, _have(rt)
            await leecher.remove(rt)
            with pytest.raises(StorageError) as caught:  # never start over silently
                await _leech(leecher, meta, folder, seeder, resume)
            refused = str(caught.value)
            resume.unlink()  # the person asks for a recheck: the file's pieces are gone
            rt = await _leech(leecher, meta, folder, seeder, resume)
            await asyncio.wait_for(rt.wait_complete(), 60)
            assert rt.core is not None
            return error, kept, refused, rt.core.downloaded
        finally:
            await leecher.close()
            await seeder.close()

    error, kept, refused, downloaded = asyncio.run(run())
    assert error is not None and "\n" not in error
    assert "file0.bin" in error and "deleted" in error, error
    assert "no data found" in refused and "file0.bin" in refused, refused
    assert "\n" not in refused
    # after the recheck: file0 again, file1's verified pieces were not fetched twice
    in_file1 = {p for p in kept if p * PIECE >= 2 * MiB}
    assert downloaded <= meta.info.total_length - len(in_file1) * PIECE + 8 * PIECE
    assert digest_tree(folder / "content") == digest_tree(content)

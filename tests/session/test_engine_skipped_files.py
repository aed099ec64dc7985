"""Skipped files on a running torrent, between two bitswarm sessions on loopback: a v1
torrent whose file boundaries fall inside pieces, so the pieces beside a skipped file
straddle it. The skipped file never appears; its share of those pieces is kept in the
parts file and served to other peers from there; chosen live, it is completed, and the
parts file goes away. Sequential and first-last order are live settings of the runtime.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from bitswarm.metainfo import Metainfo
from bitswarm.session import TorrentState
from bitswarm.storage.parts import parts_file_name

from .helpers import digest_tree, make_multifile, make_torrent, start_session

PIECE = 16 * 1024
SIZES = [50_000, 70_000, 40_000]  # no multiple of the piece: boundaries inside pieces


async def until(check: Callable[[], bool], within: float = 30) -> None:
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - polling the session's state
            await asyncio.sleep(0.02)


def _index_of(meta: Metainfo, name: str) -> int:
    return next(i for i, f in enumerate(meta.info.files) if f.path[-1] == name)


def test_a_skipped_neighbour_stays_out_and_is_completed_when_chosen(tmp_path: Path) -> None:
    async def main() -> None:
        content = make_multifile(tmp_path / "seed", SIZES)
        meta = make_torrent(content, piece_length=PIECE, version="v1")
        assert all(f.length % PIECE for f in meta.info.files)
        seeder = await start_session()
        leecher = await start_session()
        third = await start_session()
        try:
            await seeder.add(meta, content.parent)
            skipped = _index_of(meta, "file1.bin")
            prios = [4] * len(meta.info.files)
            prios[skipped] = 0
            folder = tmp_path / "leech"
            rt = await leecher.add(
                meta,
                folder,
                peers=[("127.0.0.1", seeder.listen_port)],
                file_priorities=prios,
                sequential=True,
                first_last=True,
            )
            assert rt.core is not None and rt.core.picker.sequential
            assert rt.core.picker.first_last  # the edges of the two wanted files
            async with asyncio.timeout(60):
                await rt.wait_complete()
            parts = folder / parts_file_name(meta.info.info_hashes.wire)
            skipped_path = folder / "content" / "sub" / "file1.bin"
            assert not skipped_path.exists() and not skipped_path.parent.exists()
            assert parts.exists()
            got = digest_tree(folder / "content")
            want = digest_tree(content)
            assert got == {k: v for k, v in want.items() if k != "sub/file1.bin"}

            # A third peer that wants only file0 fetches its last piece, which straddles
            # file1, from the leecher (the seeder is gone): it is read from the parts file.
            await seeder.close()
            only_first = [4 if i == _index_of(meta, "file0.bin") else 0 for i in range(3)]
            other = await third.add(
                meta,
                tmp_path / "third",
                peers=[("127.0.0.1", leecher.listen_port)],
                file_priorities=only_first,
            )
            async with asyncio.timeout(60):
                await other.wait_complete()
            assert digest_tree(tmp_path / "third" / "content") == {"file0.bin": want["file0.bin"]}
            assert rt.state is not TorrentState.ERROR

            # Chosen live: the boundary bytes move in, the rest comes from the third peer
            # (which has file1's share of the boundary pieces only: not enough) -- so
            # bring the seeder back for the middle.
            seeder2 = await start_session()
            try:
                await seeder2.add(meta, content.parent)
                rt.set_file_priorities([4, 4, 4])
                rt.set_sequential(False)
                rt.set_first_last(False)
                assert not rt.core.picker.sequential and not rt.core.picker.first_last
                rt.add_peers([("127.0.0.1", seeder2.listen_port)])
                async with asyncio.timeout(60):
                    await rt.wait_complete()
                await until(lambda: not parts.exists())
                assert digest_tree(folder / "content") == want
                assert sorted(os.listdir(folder)) == ["content"]
            finally:
                await seeder2.close()
        finally:
            await third.close()
            await leecher.close()
            await seeder.close()

    asyncio.run(main())

"""A full disk pauses the torrent with a clear error and keeps every verified piece intact."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitswarm.errors import TorrentFailed
from bitswarm.session import TorrentState

from .helpers import make_multifile, make_torrent, start_session

MiB = 2**20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a real ENOSPC from the kernel, not a simulated one."""
    mount = tmp_path / "small"
    mount.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs (CI runs as root): {r.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_pauses_with_clear_error(tmp_path: Path, small_disk: Path) -> None:
    content = make_multifile(tmp_path / "seed", [3 * MiB])
    meta = make_torrent(content, piece_length=64 * 1024, version="v1")
    original = (content / "file0.bin").read_bytes()

    async def run() -> tuple[TorrentState, str | None, list[int]]:
        seeder = await start_session()
        leecher = await start_session()
        try:
            await seeder.add(meta, tmp_path / "seed")
            rt = await leecher.add(meta, small_disk, peers=[("127.0.0.1", seeder.listen_port)])
            async with asyncio.timeout(30):
                while rt.state is not TorrentState.ERROR:  # noqa: ASYNC110 - polling a status
                    await asyncio.sleep(0.05)
            assert rt.core is not None
            return rt.state, rt.error, list(rt.core.have)
        finally:
            await leecher.close()
            await seeder.close()

    state, error, have = asyncio.run(run())
    assert state is TorrentState.ERROR
    assert error is not None
    assert "full" in error.lower() or "no space" in error.lower(), error
    assert "\n" not in error
    assert have, "some pieces fit before the disk filled up"
    on_disk = (small_disk / "content" / "file0.bin").read_bytes()
    plen = meta.info.piece_length
    for piece in have:  # every piece reported verified is intact on disk
        assert (
            on_disk[piece * plen : (piece + 1) * plen]
            == original[piece * plen : (piece + 1) * plen]
        )


def test_waiting_on_a_download_that_fills_the_disk_raises(tmp_path: Path, small_disk: Path) -> None:
    """`wait_complete` ends with the disk error instead of waiting forever."""
    content = make_multifile(tmp_path / "seed", [3 * MiB])
    meta = make_torrent(content, piece_length=64 * 1024, version="v1")

    async def run() -> tuple[TorrentFailed, str | None]:
        seeder = await start_session()
        leecher = await start_session()
        try:
            await seeder.add(meta, tmp_path / "seed")
            rt = await leecher.add(meta, small_disk, peers=[("127.0.0.1", seeder.listen_port)])
            async with asyncio.timeout(30):
                with pytest.raises(TorrentFailed) as caught:
                    await rt.wait_complete()
            return caught.value, rt.error
        finally:
            await leecher.close()
            await seeder.close()

    exc, error = asyncio.run(run())
    assert error is not None and exc.reason == error
    assert "full" in error.lower() or "no space" in error.lower(), error

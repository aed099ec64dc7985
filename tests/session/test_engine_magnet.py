"""Magnet links: the metadata comes from peers (BEP 9), then the download runs as usual."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from bitswarm.magnet import Magnet

from .helpers import digest_tree, make_multifile, make_torrent, start_session, wait_all_complete

MiB = 2**20


def test_magnet_with_a_peer_address_downloads(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [2 * MiB + 11, 300_000])
    meta = make_torrent(content, version="hybrid")

    async def run() -> None:
        seeder = await start_session()
        leecher = await start_session()
        try:
            await seeder.add(meta, tmp_path / "seed")
            magnet = dataclasses.replace(
                Magnet.from_metainfo(meta), peers=(("127.0.0.1", seeder.listen_port),)
            )
            fetched = await leecher.fetch_metadata(magnet, give_up_after=20)
            assert fetched.info.info_hashes == meta.info.info_hashes
            assert fetched.info.raw == meta.info.raw
            rt = await leecher.add(fetched, tmp_path / "leech", peers=magnet.peers)
            await wait_all_complete([rt], within=30)
        finally:
            await leecher.close()
            await seeder.close()

    asyncio.run(run())
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)


# The CLI in a child process, with its own 60 s deadline, after the seeder's start.
@pytest.mark.timeout(90)
def test_cli_downloads_a_magnet_link(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [1 * MiB + 5])
    meta = make_torrent(content, version="v1")

    async def run() -> subprocess.CompletedProcess[str]:
        seeder = await start_session()
        try:
            await seeder.add(meta, tmp_path / "seed")
            magnet = dataclasses.replace(
                Magnet.from_metainfo(meta), peers=(("127.0.0.1", seeder.listen_port),)
            ).to_uri()
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bitswarm.cli.main",
                "download",
                magnet,
                "-o",
                str(tmp_path / "leech"),
                "--no-seed",
                "--json",
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--save-torrent",
                str(tmp_path / "saved.torrent"),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={"XDG_STATE_HOME": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"},
            )
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            return subprocess.CompletedProcess([], proc.returncode or 0, out.decode(), err.decode())
        finally:
            await seeder.close()

    result = asyncio.run(run())
    assert result.returncode == 0, result.stderr
    assert "metadata verified" in result.stdout
    assert digest_tree(tmp_path / "leech" / "content") == digest_tree(content)
    from bitswarm.metainfo import parse_torrent

    saved = parse_torrent((tmp_path / "saved.torrent").read_bytes())
    assert saved.info.info_hashes == meta.info.info_hashes

"""bitswarm peers that know nothing of each other meet through a real tracker (opentracker),
over HTTP and over UDP."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from .helpers import digest_tree, make_multifile, make_torrent, start_session, wait_all_complete

_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:  # the real-peer harness lives in the `tests.peers` package
    sys.path.insert(0, _REPO)

from tests.peers.opentracker import Opentracker  # noqa: E402

MiB = 2**20


@pytest.mark.interop
@pytest.mark.parametrize("transport", ["http", "udp"])
def test_peers_meet_through_opentracker(tmp_path: Path, transport: str) -> None:
    if shutil.which("opentracker") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("opentracker is not installed (Debian package opentracker)")
        pytest.skip("opentracker is not installed")
    content = make_multifile(tmp_path / "seed", [2 * MiB + 3, 1 * MiB])
    meta = make_torrent(content, version="hybrid")
    with Opentracker(tmp_path / "ot", info_hashes=(meta.info.info_hashes.wire.hex(),)) as ot:
        url = ot.announce_url if transport == "http" else ot.udp_announce_url

        async def run() -> str | None:
            seeder = await start_session()
            leechers = [await start_session() for _ in range(2)]
            try:
                await seeder.add(meta, tmp_path / "seed", trackers=[url])
                rts = [await s.add(meta, tmp_path / f"leech{i}", trackers=[url])
                       for i, s in enumerate(leechers)]
                await wait_all_complete(rts, within=60)
                return rts[0].status().tracker_message
            finally:
                for s in [*leechers, seeder]:
                    await s.close()

        message = asyncio.run(run())
    assert message is None, message
    for i in range(2):
        assert digest_tree(tmp_path / f"leech{i}" / "content") == digest_tree(content)

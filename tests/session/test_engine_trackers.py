"""bitswarm peers that know nothing of each other meet through a tracker: bitswarm's own
(`bitswarm tracker`, the default in these tests) and opentracker, over HTTP and UDP."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bitswarm_lab.peers.opentracker import Opentracker
from tests.tracker_server.tracker_server_helpers import TrackerProcess

from .helpers import digest_tree, make_multifile, make_torrent, start_session, wait_all_complete

MiB = 2**20


@contextmanager
def _tracker(kind: str, transport: str, workdir: Path, info_hash: str) -> Iterator[str]:
    if kind == "bitswarm":
        with TrackerProcess(workdir=workdir) as tracker:
            yield tracker.http_url if transport == "http" else tracker.udp_url
        return
    if shutil.which("opentracker") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("opentracker is not installed (Debian package opentracker)")
        pytest.skip("opentracker is not installed")
    with Opentracker(workdir, info_hashes=(info_hash,)) as ot:
        yield ot.announce_url if transport == "http" else ot.udp_announce_url


# Peers meeting through a real tracker (opentracker too): its own 60 s deadline for the
# transfer, after the tracker's start; the run-wide 60 s must not pre-empt it.
@pytest.mark.timeout(90)
@pytest.mark.interop
@pytest.mark.parametrize("transport", ["http", "udp"])
@pytest.mark.parametrize("kind", ["bitswarm", "opentracker"])
def test_peers_meet_through_a_tracker(tmp_path: Path, kind: str, transport: str) -> None:
    content = make_multifile(tmp_path / "seed", [2 * MiB + 3, 1 * MiB])
    meta = make_torrent(content, version="hybrid")
    with _tracker(kind, transport, tmp_path / "tracker", meta.info.info_hashes.wire.hex()) as url:

        async def run() -> str | None:
            seeder = await start_session()
            leechers = [await start_session() for _ in range(2)]
            try:
                await seeder.add(meta, tmp_path / "seed", trackers=[url])
                rts = [
                    await s.add(meta, tmp_path / f"leech{i}", trackers=[url])
                    for i, s in enumerate(leechers)
                ]
                await wait_all_complete(rts, within=60)
                return rts[0].status().tracker_message
            finally:
                for s in [*leechers, seeder]:
                    await s.close()

        message = asyncio.run(run())
    assert message is None, message
    for i in range(2):
        assert digest_tree(tmp_path / f"leech{i}" / "content") == digest_tree(content)

"""Issue 14 with a real downloader: libtorrent gets past a flood of idle peers.

Three times more idle peers than the bitswarm seeder has slots, each from its own
address and back the instant it is dropped (tests/session/flood.py), hold every slot.
A libtorrent 2.x session (python-libtorrent, in process: it runs on its own threads)
dials the seeder from 127.0.0.1: admitted on probation (session/slots.py), it says it is
interested and downloads the whole torrent within a minute (libtorrent exempts local
peers from its rate limits, so it may well finish before its probation is judged; the
bitswarm flood tests rate limit their downloader to see it take a flooder's slot). Under
`CI=true` a missing libtorrent module fails the test, it never skips.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from bitswarm.create import create_torrent
from bitswarm.metainfo import parse_torrent
from bitswarm.session import Session, SessionConfig
from tests.lt_sessions import loopback_session

from ..session.flood import Flood, settled_hosts
from ..session.helpers import digest_tree, make_multifile
from .tools import require_module

SLOTS = 8
KiB = 1024


def _lt_session(lt: Any) -> Any:
    return loopback_session(lt)


@pytest.mark.timeout(150)  # a minute is the bound under test, plus the flood's start
def test_libtorrent_gets_past_a_flood_three_times_the_slots(tmp_path: Path) -> None:
    lt = require_module("libtorrent")
    content = make_multifile(tmp_path / "seed", [2 * 2**20])
    raw = create_torrent(content, piece_length=64 * KiB, version="v1", trackers=[])
    meta = parse_torrent(raw)
    (tmp_path / "leech").mkdir()

    async def run() -> tuple[float, float]:
        seeder = Session(SessionConfig(listen_host="127.0.0.1", listen_port=0, max_peers=SLOTS))
        await seeder.start()
        lt_ses = _lt_session(lt)
        try:
            seed_rt = await seeder.add(meta, tmp_path / "seed")
            flood = Flood(seeder.listen_port, meta.info.info_hashes.wire, 3 * SLOTS, pause=0.0)
            async with flood:
                async with asyncio.timeout(30):  # the flood holds every slot
                    while len(settled_hosts(seed_rt)) < SLOTS:  # noqa: ASYNC110 - polling
                        await asyncio.sleep(0.05)
                await asyncio.sleep(3.0)  # the flood at full strength
                attempts = flood.counts.attempts
                params = lt.add_torrent_params()
                params.ti = lt.torrent_info(lt.bdecode(raw))
                params.save_path = str(tmp_path / "leech")
                handle = lt_ses.add_torrent(params)
                t0 = time.monotonic()
                handle.connect_peer(("127.0.0.1", seeder.listen_port))
                async with asyncio.timeout(90):  # its first payload
                    while not handle.status().total_wanted_done:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                got_in = time.monotonic() - t0
                assert len(settled_hosts(seed_rt)) <= SLOTS
                async with asyncio.timeout(90):
                    while not handle.status().is_seeding:  # noqa: ASYNC110 - libtorrent's
                        await asyncio.sleep(0.1)
                done = time.monotonic() - t0
                assert flood.counts.attempts - attempts > 3 * flood.size  # it kept hammering
            return got_in, done
        finally:
            lt_ses.pause()
            await seeder.close()

    got_in, done = asyncio.run(run())
    assert got_in < 60
    assert done < 60
    assert digest_tree(tmp_path / "leech") == digest_tree(tmp_path / "seed")

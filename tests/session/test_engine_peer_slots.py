"""Issue 14: idle peers never keep a real downloader out of a seeder's slots.

A flood of connections that complete the BEP 3 handshake, send `have_none` (BEP 6) and a
keep-alive now and then, and reconnect when dropped, used to hold every one of a
seeder's `--max-peers` slots for good: a real downloader was turned away ("too many
peers") and, retrying a minute later, turned away again. Now a newcomer to a full
torrent is admitted over the limit on probation; one that shows it is useful replaces an
idle peer whatever its age, one that shows nothing is closed and its address cools down
(session/slots.py). The slot times are libtorrent-like defaults; the flood tests rate
limit the downloader so that it is still there when its probation is judged.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bitswarm.session import Session, SessionConfig

from .flood import Flood, settled_hosts
from .helpers import digest_tree, make_multifile, make_torrent

SLOTS = 8
KiB = 1024
DOWNLOADER = "127.0.0.1"  # the flooders come from 127.0.0.2 on


async def _until(check: object, seconds: float) -> float:
    """Wait until `check()` is true; how long it took."""
    assert callable(check)
    t0 = time.monotonic()
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - polling the seeder's state
            await asyncio.sleep(0.05)
    return time.monotonic() - t0


def _flood_test(tmp_path: Path, flooders: int, pause: float) -> float:
    """`flooders` idle peers against a seeder of `SLOTS` slots, then a bitswarm
    downloader from 127.0.0.1: the seconds until it holds a slot (it completes, too)."""
    content = make_multifile(tmp_path / "seed", [2 * 2**20])
    meta = make_torrent(content, version="v1")
    info_hash = meta.info.info_hashes.wire

    async def run() -> float:
        config = SessionConfig(listen_host="127.0.0.1", listen_port=0, max_peers=SLOTS)
        seeder, leecher = Session(config), Session(SessionConfig(listen_host="127.0.0.1"))
        await seeder.start()
        await leecher.start()
        leecher.set_rate_limits(upload=0, download=512 * KiB)  # outlives its probation
        try:
            seed_rt = await seeder.add(meta, tmp_path / "seed")
            async with Flood(seeder.listen_port, info_hash, flooders, pause) as flood:
                await _until(lambda: len(settled_hosts(seed_rt)) == SLOTS, 30)
                await asyncio.sleep(3.0)  # the flood at full strength
                attempts, admitted = flood.counts.attempts, flood.counts.admitted
                rt = await leecher.add(
                    meta, tmp_path / "leech", peers=[("127.0.0.1", seeder.listen_port)]
                )
                assert DOWNLOADER not in settled_hosts(seed_rt)
                got_in = await _until(lambda: DOWNLOADER in settled_hosts(seed_rt), 90)
                assert len(settled_hosts(seed_rt)) <= SLOTS  # it took a flooder's place
                assert len(seed_rt.protocols) <= SLOTS + config.peer_slack
                async with asyncio.timeout(60):
                    await rt.wait_complete()
                if pause == 0:  # the flood kept hammering all along
                    assert flood.counts.attempts - attempts > 3 * flooders
                else:  # the flooder it replaced came back for more
                    await _until(lambda: flood.counts.admitted > admitted, 20)
            return got_in
        finally:
            await leecher.close()
            await seeder.close()

    got_in = asyncio.run(run())
    assert digest_tree(tmp_path / "leech") == digest_tree(tmp_path / "seed")
    return got_in


@pytest.mark.timeout(150)  # a minute is the bound under test, plus the flood's start
def test_a_flood_of_idle_peers_does_not_keep_a_downloader_out(tmp_path: Path) -> None:
    """As in the issue: as many idle peers as slots (50 for --max-peers 50)."""
    assert _flood_test(tmp_path, SLOTS, pause=0.2) < 60


@pytest.mark.timeout(150)
def test_a_flood_three_times_the_slots_reconnecting_at_once_lets_a_downloader_in(
    tmp_path: Path,
) -> None:
    """3x more flooders than slots, each from its own address, back the instant they are
    dropped: they keep each other young, so no idle timeout ever fires; probation and
    the cooldown of addresses that showed nothing let the downloader in within a minute."""
    assert _flood_test(tmp_path, 3 * SLOTS, pause=0.0) < 60


def test_a_socket_without_a_handshake_is_closed(tmp_path: Path) -> None:
    """Incoming: connect and send nothing; outgoing: a listener that accepts and is mute."""
    content = make_multifile(tmp_path / "seed", [64 * 1024])
    meta = make_torrent(content, version="v1")

    async def run() -> tuple[float, float]:
        session = Session(
            SessionConfig(listen_host="127.0.0.1", listen_port=0, handshake_timeout=1.0)
        )
        await session.start()
        mute_closed = asyncio.get_running_loop().create_future()

        async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            t0 = time.monotonic()
            await reader.read()  # until the session gives up on us
            mute_closed.set_result(time.monotonic() - t0)
            writer.close()

        server = await asyncio.start_server(mute, "127.0.0.1", 0)
        mute_port = server.sockets[0].getsockname()[1]
        try:
            await session.add(meta, tmp_path / "seed", peers=[("127.0.0.1", mute_port)])
            reader, writer = await asyncio.open_connection("127.0.0.1", session.listen_port)
            t0 = time.monotonic()
            async with asyncio.timeout(20):
                assert await reader.read() == b""  # closed by the session, nothing sent
            incoming = time.monotonic() - t0
            writer.close()
            async with asyncio.timeout(20):
                outgoing = await mute_closed
            return incoming, outgoing
        finally:
            server.close()
            await session.close()

    incoming, outgoing = asyncio.run(run())
    assert 0.5 < incoming < 10
    assert outgoing < 10

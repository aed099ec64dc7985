"""Issue 14: idle peers never keep a real downloader out of a seeder's slots.

A flood of connections that complete the BEP 3 handshake, send `have_none` (BEP 6) and a
keep-alive now and then, and reconnect when dropped, used to hold every one of a
seeder's `--max-peers` slots for good: a real downloader was turned away ("too many
peers") and, retrying a minute later, turned away again. Now a newcomer replaces the
least useful idle peer (session/slots.py), so the downloader gets in and completes.
The times are `SessionConfig` fields, shortened here so the test stays quick; the
property is the same as with libtorrent-like defaults and `--max-peers 50`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

from bitswarm.session import Session, SessionConfig

from .helpers import digest_tree, make_multifile, make_torrent

SLOTS = 8
FLOODERS = SLOTS  # as in the issue: 50 idle connections for --max-peers 50
PSTR = b"\x13BitTorrent protocol"
FAST = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04])  # BEP 10 extended + BEP 6 fast
HAVE_NONE = b"\x00\x00\x00\x01\x0f"
KEEPALIVE = bytes(4)


async def _flooder(port: int, info_hash: bytes, connected: list[int]) -> None:
    """Handshake, have_none, keep-alives; reconnect as soon as the seeder drops us."""
    while True:
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(PSTR + FAST + info_hash + b"-FL0001-" + os.urandom(12))
            await reader.readexactly(68)  # the seeder's handshake: we hold a slot now
            writer.write(HAVE_NONE)
            connected[0] += 1
            while True:
                await asyncio.sleep(0.5)
                writer.write(KEEPALIVE)
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.01):
                        if not await reader.read(65536):
                            break  # closed by the seeder
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if writer is not None:
                writer.close()
        await asyncio.sleep(0.2)


def test_a_flood_of_idle_peers_does_not_keep_a_downloader_out(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [2 * 2**20])
    meta = make_torrent(content, version="v1")
    info_hash = meta.info.info_hashes.wire

    async def run() -> float:
        seeder = Session(
            SessionConfig(
                listen_host="127.0.0.1",
                listen_port=0,
                max_peers=SLOTS,
                peer_replace_after=2.0,
                handshake_timeout=5.0,
            )
        )
        leecher = Session(SessionConfig(listen_host="127.0.0.1", listen_port=0))
        await seeder.start()
        await leecher.start()
        connected = [0]
        flood: list[asyncio.Task[None]] = []
        try:
            seed_rt = await seeder.add(meta, tmp_path / "seed")
            flood = [
                asyncio.create_task(_flooder(seeder.listen_port, info_hash, connected))
                for _ in range(FLOODERS)
            ]
            async with asyncio.timeout(30):  # the flood holds every slot
                while len(seed_rt.protocols) < SLOTS:  # noqa: ASYNC110 - polling the seeder
                    await asyncio.sleep(0.1)
            await asyncio.sleep(2.5)  # ... for longer than a newcomer's wait
            before = connected[0]
            started = time.monotonic()
            rt = await leecher.add(
                meta, tmp_path / "leech", peers=[("127.0.0.1", seeder.listen_port)]
            )
            async with asyncio.timeout(60):
                await rt.wait_complete()
            took = time.monotonic() - started
            assert len(seed_rt.protocols) <= SLOTS
            async with asyncio.timeout(20):  # the flooder it replaced came back for more
                while connected[0] <= before:  # noqa: ASYNC110 - polling the flood
                    await asyncio.sleep(0.1)
            return took
        finally:
            for task in flood:
                task.cancel()
            await asyncio.gather(*flood, return_exceptions=True)
            await leecher.close()
            await seeder.close()

    took = asyncio.run(run())
    assert took < 60
    assert digest_tree(tmp_path / "leech") == digest_tree(tmp_path / "seed")


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

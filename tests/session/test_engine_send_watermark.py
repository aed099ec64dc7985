"""A seed writes only `send_watermark` bytes ahead to a peer that does not keep up, so the
peer's later requests wait with the seed, where a CANCEL still takes them back.

Before, every requested block was read and written to the connection up to the transport's
4 MiB high-water mark: a CANCEL (end-game, BEP 3) then came too late and the block crossed
the link anyway. Here a peer over uTP (whose send buffer is the transport's, in user space:
the lab's peers talk uTP to each other) stops reading, asks for 200 blocks (3.1 MiB),
cancels the last 100 and reads again: none of those 100 may arrive.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Callable
from pathlib import Path

from bitswarm.aio.utp import UtpManager, open_utp_socket
from bitswarm.metainfo import Metainfo
from bitswarm.utp import UtpConfig
from bitswarm.wire.handshake import encode_handshake, make_reserved
from bitswarm.wire.messages import Cancel, Interested, Request, encode_message

from .helpers import make_multifile, make_torrent, start_session

BLOCK = 16 * 1024
PIECES = 256  # one block each
ASKED = 200
KEPT = range(100)
CANCELLED = range(100, ASKED)
PIECE_ID, UNCHOKE_ID = 7, 1


async def _wait(condition: Callable[[], bool], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polling the session's state
            await asyncio.sleep(0.02)


class _Peer(asyncio.BufferedProtocol):
    """The requesting side: keeps every byte, parses messages after the handshake."""

    def __init__(self) -> None:
        self.buf = bytearray(65536)
        self.data = bytearray()
        self.transport: asyncio.Transport | None = None
        self.pieces: set[int] = set()
        self.unchoked = False
        self._handshake = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self.buf)

    def buffer_updated(self, nbytes: int) -> None:
        self.data += self.buf[:nbytes]
        if self._handshake and len(self.data) >= 68:
            del self.data[:68]
            self._handshake = False
        while not self._handshake and len(self.data) >= 4:
            size = struct.unpack(">I", self.data[:4])[0]
            if len(self.data) < 4 + size:
                break
            if size and self.data[4] == PIECE_ID:
                self.pieces.add(struct.unpack(">I", self.data[5:9])[0])
            elif size and self.data[4] == UNCHOKE_ID:
                self.unchoked = True
            del self.data[: 4 + size]

    def connection_lost(self, exc: Exception | None) -> None:
        pass


def test_cancelled_requests_behind_a_slow_reader_are_not_sent(tmp_path: Path) -> None:
    content = make_multifile(tmp_path / "seed", [PIECES * BLOCK])
    meta = make_torrent(content, piece_length=BLOCK, version="v1")
    received = asyncio.run(_run(tmp_path, meta))
    assert set(KEPT) <= received, "every request not cancelled is answered"
    late = received & set(CANCELLED)
    assert not late, f"{len(late)} of {len(CANCELLED)} cancelled blocks were sent anyway"


async def _run(tmp_path: Path, meta: Metainfo) -> set[int]:
    session = await start_session(transport="utp")
    client = UtpManager(
        open_utp_socket("127.0.0.1", 0), accept=None, config=UtpConfig(recv_window=64 * 1024)
    )
    try:
        rt = await session.add(meta, tmp_path / "seed")
        await _wait(lambda: rt.core is not None and rt.core.is_seed)
        _, proto = await client.connect(("127.0.0.1", session.listen_port), _Peer)
        assert isinstance(proto, _Peer) and proto.transport is not None
        out = proto.transport
        reserved = make_reserved(fast=False, extended=False, dht=False)
        out.write(encode_handshake(meta.info.info_hashes.wire, b"-XX0001-" + os.urandom(12),
                                   reserved) + encode_message(Interested()))  # fmt: skip
        await _wait(lambda: proto.unchoked)
        out.pause_reading()  # a peer that does not keep up: the seed's sends back up
        out.write(b"".join(encode_message(Request(i, 0, BLOCK)) for i in range(ASKED)))
        await _wait(lambda: len(rt.protocols) == 1)
        seeder_side = next(iter(rt.protocols))
        conn = seeder_side.conn
        assert conn is not None
        await _wait(lambda: seeder_side.unsent_bytes > 0)
        await asyncio.sleep(0.3)  # whatever the seed writes ahead at once, it has by now
        out.write(b"".join(encode_message(Cancel(i, 0, BLOCK)) for i in CANCELLED))
        await _wait(lambda: not any(r[0] in CANCELLED for r in conn.peer_requests))
        out.resume_reading()
        await _wait(lambda: set(KEPT) <= proto.pieces)
        await _wait(lambda: not conn.peer_requests and seeder_side.unsent_bytes == 0)
        await asyncio.sleep(0.3)  # the last bytes in flight arrive
        return set(proto.pieces)
    finally:
        client.close()
        await session.close()

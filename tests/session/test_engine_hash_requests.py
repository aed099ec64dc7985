"""A peer's BEP 52 hash requests go through the upload path's write backpressure.

A peer that sends many hash requests and reads nothing must not grow our write buffer:
answers wait while the socket holds more than `WRITE_HIGH_WATER` unsent bytes. Before this,
every piece-layer request was answered at once, so 150 requests of 49 bytes put 19 MiB in
the buffer; each one still gets its answer once the peer reads.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path

from bitswarm.aio.peer import WRITE_HIGH_WATER, PeerProtocol
from bitswarm.session import Session, SessionConfig
from bitswarm.wire.handshake import encode_handshake, make_reserved
from bitswarm.wire.messages import HashRequest, Interested, encode_message

from .helpers import make_torrent

PIECE = 16 * 1024
PIECES = 4096  # one file: its piece layer (= block layer) holds 4096 hashes
REQUESTS = 150
ANSWER = 4 + 1 + 48 + 32 * PIECES  # a hashes message of the whole layer, no uncles


async def _wait(condition: Callable[[], bool], within: float = 60.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polling the session's state
            await asyncio.sleep(0.02)


def test_hash_requests_from_a_peer_that_reads_nothing_wait_for_the_socket(tmp_path: Path) -> None:
    asyncio.run(_slow_reader(tmp_path))


async def _slow_reader(tmp_path: Path) -> None:
    data = tmp_path / "seed" / "big.bin"
    data.parent.mkdir()
    with data.open("wb") as f:  # sparse: only the torrent's hashes are needed
        f.truncate(PIECE * PIECES)
    meta = make_torrent(data, piece_length=PIECE, version="v2")
    root = meta.info.files[0].pieces_root
    assert root is not None
    session = Session(SessionConfig(listen_host="127.0.0.1", listen_port=0))
    await session.start()
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a peer that reads slowly
    sock.setblocking(False)
    try:
        rt = await session.add(meta, tmp_path / "empty")  # serves layers without the data
        await loop.sock_connect(sock, ("127.0.0.1", session.listen_port))
        reserved = make_reserved(fast=False, extended=False, dht=False, v2=True)
        info_hash = meta.info.info_hashes.wire
        request = encode_message(HashRequest(root, 0, 0, PIECES, 0))
        await loop.sock_sendall(sock, encode_handshake(info_hash, b"-XX0001-" + os.urandom(12),
                                                       reserved))  # fmt: skip
        await loop.sock_sendall(sock, request * REQUESTS + encode_message(Interested()))

        def seeder_side() -> PeerProtocol | None:
            return next(iter(rt.protocols), None)

        def all_read() -> bool:  # the marker after the requests arrived: all were read
            proto = seeder_side()
            return proto is not None and proto.conn is not None and proto.conn.peer_interested

        await _wait(all_read)
        proto = seeder_side()
        assert proto is not None and proto.conn is not None
        await asyncio.sleep(0.2)  # what would be written at once has been by now
        assert proto.unsent_bytes <= WRITE_HIGH_WATER + ANSWER
        assert proto.conn.peer_hash_requests > REQUESTS // 2  # most still wait their turn

        # once the peer reads, every request gets its answer, in order
        answers = 0
        buf = bytearray()
        async with asyncio.timeout(60):
            buf += await _read_exactly(loop, sock, 68)  # the seeder's handshake
            buf.clear()
            while answers < REQUESTS:
                chunk = await loop.sock_recv(sock, 1 << 20)
                assert chunk, "the seeder closed the connection"
                buf += chunk
                while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                    size = struct.unpack(">I", buf[:4])[0]
                    if size and buf[4] == 22:  # hashes
                        assert size + 4 == ANSWER and bytes(buf[5:37]) == root
                        answers += 1
                    del buf[: 4 + size]
        assert answers == REQUESTS
        await _wait(lambda: proto.conn is not None and proto.conn.peer_hash_requests == 0)
    finally:
        sock.close()
        await session.close()


async def _read_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = await loop.sock_recv(sock, n - len(out))
        assert chunk
        out += chunk
    return bytes(out)

"""A lying seeder for tests: it speaks the wire protocol correctly but sends wrong bytes
for chosen pieces. Built on bitswarm's own sans-IO `PeerConnection`, driven by asyncio."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from bitswarm.bitfield import Bitfield
from bitswarm.metainfo import Metainfo
from bitswarm.peer_id import make_peer_id
from bitswarm.wire import PeerConnection
from bitswarm.wire import events as ev

__all__ = ["LyingSeeder"]


class _Proto(asyncio.Protocol):
    def __init__(self, seeder: LyingSeeder) -> None:
        self.seeder = seeder
        self.transport: asyncio.Transport | None = None
        info = seeder.meta.info
        self.conn = PeerConnection(
            info_hash=info.info_hashes.wire,
            our_peer_id=seeder.peer_id,
            num_pieces=info.num_pieces,
            piece_length=info.piece_length,
            total_length=info.piece_space_length,
            initiator=False,
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.seeder.connections += 1

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        conn.receive_data(data)
        for event in conn.events():
            match event:
                case ev.HandshakeReceived():
                    conn.send_bitfield(Bitfield(self.seeder.meta.info.num_pieces, full=True))
                case ev.Interested():
                    conn.send_unchoke()
                case ev.RequestReceived(index=i, begin=b, length=n):
                    data_out = self.seeder.payload[i * self.seeder.piece_length + b :][:n]
                    if self.seeder.lie_about(i):
                        data_out = bytes(x ^ 0x5A for x in data_out)
                        self.seeder.bad_blocks_sent += 1
                    conn.send_piece(i, b, data_out)
                case ev.ConnectionClosed():
                    pass
                case _:
                    pass
        out = conn.data_to_send()
        if out and self.transport is not None:
            self.transport.write(out)
        if conn.closed and self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.seeder.disconnects += 1


class LyingSeeder:
    """Serves `payload` (the torrent's piece space) but corrupts pieces `lie_about` picks."""

    def __init__(self, meta: Metainfo, payload: bytes, lie_about: Callable[[int], bool]) -> None:
        self.meta = meta
        self.payload = payload
        self.piece_length = meta.info.piece_length
        self.lie_about = lie_about
        self.peer_id = make_peer_id(random.Random(1), b"-XX0001-")
        self.server: asyncio.Server | None = None
        self.connections = 0
        self.disconnects = 0
        self.bad_blocks_sent = 0

    async def start(self, host: str) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Proto(self), host, 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

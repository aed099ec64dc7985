"""PeerProtocol's read buffer: small while a connection is idle, grown for a fast peer."""

from __future__ import annotations

import asyncio
import socket

from bitswarm.aio.peer import READ_BUFFER, READ_BUFFER_START, PeerProtocol
from bitswarm.wire import events as ev
from bitswarm.wire.connection import PeerConnection
from bitswarm.wire.handshake import encode_handshake, make_reserved

INFO_HASH = bytes(range(20))
THEIR_ID = b"-XX0000-" + bytes(12)


class _Owner:
    """A torrent of 64 pieces that only records what its peer sent."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.lost = asyncio.get_running_loop().create_future()

    def peer_connected(self, proto: PeerProtocol) -> PeerConnection:
        conn = PeerConnection(
            info_hash=INFO_HASH,
            our_peer_id=b"-BS0000-" + bytes(12),
            num_pieces=64,
            piece_length=2**16,
            total_length=2**22,
            initiator=True,
        )
        conn.send_handshake()
        return conn

    def peer_events(self, proto: PeerProtocol, events: list[ev.Event]) -> None:
        self.events += events

    def peer_lost(self, proto: PeerProtocol, reason: str) -> None:
        if not self.lost.done():
            self.lost.set_result(reason)

    def peer_backlogged(self, proto: PeerProtocol) -> None:
        pass

    def download_delay(self, nbytes: int) -> float:
        return 0.0

    def read_allowance(self) -> int | None:
        return None


async def _connect(server: socket.socket, owner: _Owner) -> tuple[PeerProtocol, socket.socket]:
    loop = asyncio.get_running_loop()
    host, port = server.getsockname()
    _, proto = await loop.create_connection(lambda: PeerProtocol(owner=owner), host, port)
    remote, _ = await loop.sock_accept(server)
    await loop.sock_sendall(
        remote,
        encode_handshake(INFO_HASH, THEIR_ID, make_reserved(fast=True, extended=False, dht=False)),
    )
    return proto, remote


def _buffer_size(proto: PeerProtocol) -> int:
    return len(proto.get_buffer(-1))


def test_idle_connection_keeps_a_small_buffer_and_a_fast_one_grows() -> None:
    async def main() -> None:
        server = socket.create_server(("127.0.0.1", 0))
        server.setblocking(False)
        loop = asyncio.get_running_loop()
        idle_owner, fast_owner = _Owner(), _Owner()
        idle, idle_remote = await _connect(server, idle_owner)
        fast, fast_remote = await _connect(server, fast_owner)
        assert _buffer_size(idle) == _buffer_size(fast) == READ_BUFFER_START
        # the fast peer sends 4 MiB of keep-alives (4 zero bytes each) as fast as it can,
        # then closes: the connection ends once every byte has been read
        await loop.sock_sendall(fast_remote, bytes(4 * 2**20))
        fast_remote.shutdown(socket.SHUT_WR)
        async with asyncio.timeout(10):
            await fast_owner.lost
        assert _buffer_size(fast) == READ_BUFFER
        await asyncio.sleep(0.05)
        assert any(isinstance(e, ev.HandshakeReceived) for e in idle_owner.events)
        assert _buffer_size(idle) == READ_BUFFER_START
        assert not idle_owner.lost.done()
        idle.close("test over")
        for sock in (idle_remote, fast_remote, server):
            sock.close()

    asyncio.run(main())

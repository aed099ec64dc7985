"""PeerProtocol's read buffer: small while a connection is idle, grown for a fast peer, and
the blocks lent from it (`PieceReceived.data`) never outliving it."""

from __future__ import annotations

import asyncio
import socket

import pytest

from bitswarm.aio.peer import READ_BUFFER, READ_BUFFER_START, PeerProtocol
from bitswarm.bitfield import Bitfield
from bitswarm.wire import events as ev
from bitswarm.wire.connection import PeerConnection
from bitswarm.wire.handshake import encode_handshake, make_reserved
from bitswarm.wire.messages import HaveAll, Piece, Request, decode_stream, encode_message

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


class _Downloader(_Owner):
    """Requests `BLOCKS` blocks once handshaken; copies each block out as it arrives (as
    TorrentCore does) and also keeps the events, which it must not read later."""

    BLOCKS = 64  # 1 MiB: the read buffer grows while blocks are lent from it

    def __init__(self) -> None:
        super().__init__()
        self.got = bytearray(self.BLOCKS * 2**14)
        self.kept: list[ev.PieceReceived] = []

    def peer_events(self, proto: PeerProtocol, events: list[ev.Event]) -> None:
        conn = proto.conn
        assert conn is not None
        for e in events:
            if isinstance(e, ev.HandshakeReceived):
                conn.send_bitfield(Bitfield(64))
                for i in range(self.BLOCKS):
                    assert conn.send_request(i // 4, (i % 4) * 2**14, 2**14)
            elif isinstance(e, ev.PieceReceived):
                at = e.index * 2**16 + e.begin
                self.got[at : at + len(e.data)] = e.data
                self.kept.append(e)


def _block(i: int) -> bytes:
    return bytes([i]) * 2**14


def test_blocks_are_lent_from_the_read_buffer_and_never_outlive_it() -> None:
    """The loop reads into one reused buffer, grown (replaced) when a read fills it; blocks
    are lent from it to the owner without a copy. Every block arrives intact, and a block
    the owner kept is unreadable (released) once the next read came in, never stale."""

    async def main() -> None:
        server = socket.create_server(("127.0.0.1", 0))
        server.setblocking(False)
        loop = asyncio.get_running_loop()
        owner = _Downloader()
        proto, remote = await _connect(server, owner)
        received = b""
        async with asyncio.timeout(10):
            while True:  # our handshake, have_none, then every request
                received += await loop.sock_recv(remote, 65536)
                if len(received) > 68:
                    messages, _ = decode_stream(received[68:])
                    if sum(isinstance(m, Request) for m in messages) == owner.BLOCKS:
                        break
        wire = encode_message(HaveAll()) + b"".join(
            encode_message(Piece(i // 4, (i % 4) * 2**14, _block(i))) for i in range(owner.BLOCKS)
        )
        await loop.sock_sendall(remote, wire)  # one write: reads fill the buffer, frames straddle
        remote.shutdown(socket.SHUT_WR)
        async with asyncio.timeout(10):
            reason = await owner.lost
        assert reason == "the peer closed the connection"
        assert owner.got == b"".join(_block(i) for i in range(owner.BLOCKS))
        assert _buffer_size(proto) > READ_BUFFER_START  # replaced while blocks were lent
        assert len(owner.kept) == owner.BLOCKS
        for e in owner.kept:
            assert isinstance(e.data, memoryview)
            with pytest.raises(ValueError, match="released"):
                bytes(e.data)
        remote.close()
        server.close()

    asyncio.run(main())

"""How a runtime knows its upload is saturated without asking every socket on each read:
`PeerProtocol.flush` reports a write the kernel did not take whole, and `Backlog` asks only
the peers so reported, forgetting each one once it has drained (loopback sockets)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from bitswarm.aio.peer import Backlog, PeerProtocol
from bitswarm.wire import events as ev
from bitswarm.wire.connection import PeerConnection
from bitswarm.wire.handshake import encode_handshake, make_reserved

INFO_HASH = bytes(range(20))
THEIR_ID = b"-XX0000-" + bytes(12)


class _Owner:
    """A torrent that keeps a `Backlog` as `TorrentRuntime` does."""

    def __init__(self) -> None:
        self.backlog = Backlog()
        self.reports = 0

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
        pass

    def peer_lost(self, proto: PeerProtocol, reason: str) -> None:
        self.backlog.discard(proto)

    def peer_backlogged(self, proto: PeerProtocol) -> None:
        self.reports += 1
        self.backlog.add(proto)

    def download_delay(self, nbytes: int) -> float:
        return 0.0

    def read_allowance(self) -> int | None:
        return None


async def _wait_for(condition: Callable[[], object], what: str, seconds: float = 10.0) -> None:
    """Poll `condition` (not a fixed wait) until it holds; fail naming `what` if it never does."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"no {what} after {seconds} s"
        await asyncio.sleep(0.01)


def test_a_backed_up_socket_is_reported_and_forgotten_once_drained() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = socket.create_server(("127.0.0.1", 0))
        server.setblocking(False)
        owner = _Owner()
        host, port = server.getsockname()
        _, proto = await loop.create_connection(lambda: PeerProtocol(owner=owner), host, port)
        remote, _ = await loop.sock_accept(server)
        # a small send buffer, so that the kernel surely cannot take 4 MiB at once
        sock = proto.transport.get_extra_info("socket") if proto.transport else None
        assert sock is not None
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        await loop.sock_sendall(
            remote,
            encode_handshake(
                INFO_HASH, THEIR_ID, make_reserved(fast=False, extended=False, dht=False)
            ),
        )
        await _wait_for(lambda: proto.conn is not None and proto.conn.remote_peer_id, "handshake")
        assert proto.conn is not None
        assert owner.reports == 0 and not owner.backlog.any()  # a few bytes went out whole

        # the remote reads nothing: 4 MiB of keep-alives cannot all leave at once
        for _ in range(2**20):
            proto.conn.send_keepalive()
        proto.flush()
        assert proto.unsent_bytes > 0
        assert owner.reports == 1 and len(owner.backlog) == 1
        assert owner.backlog.any()

        # the remote reads everything: the socket drains, and the backlog forgets it
        async def read_all() -> None:
            got = 0
            while got < 4 * 2**20:
                got += len(await loop.sock_recv(remote, 2**20))

        reader = asyncio.create_task(read_all())
        await _wait_for(lambda: proto.unsent_bytes == 0, "drained")
        assert not owner.backlog.any()
        assert len(owner.backlog) == 0
        await reader
        proto.close("test over")
        remote.close()
        server.close()

    asyncio.run(main())

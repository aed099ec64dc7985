"""Session.close ends every connection it accepted, those still in their handshake too.

An accepted connection belongs to no torrent until its BitTorrent handshake names one, so
no torrent's stop closes it. Before the fix such a socket outlived the session: until its
handshake timeout while the loop ran, for good once the loop was gone, and the garbage
collector then reported it (`ResourceWarning: unclosed <socket.socket ...>`) during some
later, unrelated test (two CI runs failed so).
"""

from __future__ import annotations

import asyncio
import os
import socket

from bitswarm.session import Session, SessionConfig

YA = 96  # an MSE initiator's public key: the session answers with its own (BEP 8 / MSE)


async def _recv_at_least(sock: socket.socket, n: int) -> bytes:
    """Up to `n` bytes, fewer when the stream ends first (the caller bounds the wait)."""
    loop = asyncio.get_running_loop()
    got = b""
    while len(got) < n:
        chunk = await loop.sock_recv(sock, 4096)
        if not chunk:
            break
        got += chunk
    return got


def test_close_ends_an_accepted_connection_still_in_its_handshake() -> None:
    async def run() -> bytes:
        # a handshake timeout far longer than the test: only close() can end the socket
        config = SessionConfig(listen_host="127.0.0.1", listen_port=0, handshake_timeout=600.0)
        session = Session(config)
        await session.start()
        loop = asyncio.get_running_loop()
        with socket.socket() as client:
            client.setblocking(False)
            try:
                await loop.sock_connect(client, ("127.0.0.1", session.listen_port))
                # the start of an MSE handshake: the session's answer (its own key) proves
                # the connection was accepted and is waiting for the rest of the handshake
                await loop.sock_sendall(client, os.urandom(YA))
                async with asyncio.timeout(30.0):
                    assert len(await _recv_at_least(client, YA)) >= YA
            finally:
                await session.close()
            # after close() the session's end is closed: the client reads the end of stream
            async with asyncio.timeout(5.0):  # before the fix: the handshake timeout's 600 s
                return await _recv_at_least(client, 1 << 20)

    assert asyncio.run(run()) == b""

"""Issue 14: a half-open limit bounds the outgoing connection attempts of a session.

Addresses that never answer (a dropped SYN, a host gone) each hold a connection attempt
for the dialer's connect timeout. Listeners here are made unreachable-but-slow the way a
busy host is: a listening socket with backlog 0 whose one queued connection is never
accepted, so the kernel drops every further SYN and the dialer's attempts sit in
SYN_SENT. Two torrents with a dozen such addresses each would open 8 attempts each (the
per-torrent bound); the session-wide `max_half_open` keeps them at 3 together, counted by
the kernel's own socket table (/proc/net/tcp), not only by the session.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from bitswarm.session import Session, SessionConfig

from .helpers import make_multifile, make_torrent

HALF_OPEN = 3
ADDRESSES = 12  # per torrent
SYN_SENT = "02"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/net/tcp")


def _syn_sent_to(ports: set[int]) -> int:
    """Sockets of this host in SYN_SENT towards 127.0.0.1 at one of `ports`."""
    count = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            remote, state = fields[2], fields[3]
            host, port = remote.split(":")
            if state == SYN_SENT and host == "0100007F" and int(port, 16) in ports:
                count += 1
    return count


def _deaf_listeners(stack: ExitStack, n: int) -> list[int]:
    """`n` listeners whose accept queue is full for good: every new SYN is dropped."""
    ports = []
    for _ in range(n):
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        stack.enter_context(socket.create_connection(("127.0.0.1", port)))  # fills the queue
        ports.append(port)
    return ports


def test_no_more_than_max_half_open_attempts_in_flight(tmp_path: Path) -> None:
    metas = [
        make_torrent(make_multifile(tmp_path / f"t{i}", [32 * 1024], seed=i), version="v1")
        for i in range(2)
    ]

    async def run() -> tuple[int, int]:
        session = Session(
            SessionConfig(listen_host="127.0.0.1", listen_port=0, max_half_open=HALF_OPEN)
        )
        await session.start()
        most_session = most_kernel = 0
        with ExitStack() as stack:
            ports = [_deaf_listeners(stack, ADDRESSES) for _ in metas]
            try:
                for i, meta in enumerate(metas):
                    peers = [("127.0.0.1", port) for port in ports[i]]
                    await session.add(meta, tmp_path / f"leech{i}", peers=peers)
                watched = {port for group in ports for port in group}
                loop = asyncio.get_running_loop()
                until = loop.time() + 3.0  # 3 s of the dialer's 10 s connect timeout
                while loop.time() < until:
                    most_session = max(most_session, session.half_open_count())
                    most_kernel = max(most_kernel, _syn_sent_to(watched))
                    await asyncio.sleep(0.02)
            finally:
                await session.close()
        return most_session, most_kernel

    most_session, most_kernel = asyncio.run(run())
    assert most_session == HALF_OPEN  # reached, never passed
    assert most_kernel == HALF_OPEN

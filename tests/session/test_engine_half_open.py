"""Issue 14: a half-open limit bounds the outgoing connection attempts of a session.

Addresses that never answer (a dropped SYN, a host gone) each hold a connection attempt
for the dialer's connect timeout. Listeners here are made unreachable-but-slow the way a
busy host is: a listening socket with backlog 0 whose one queued connection is never
accepted, so the kernel drops every further SYN and the dialer's attempts sit in
SYN_SENT. Two torrents with a dozen such addresses each would open 8 attempts each (the
per-torrent bound); the session-wide `max_half_open` keeps them at 3 together, counted by
the kernel's own socket table (/proc/net/tcp), not only by the session.

The kernel's table is the whole host's: only this process's sockets are counted (by inode),
each once. Any other process that dials one of the deaf listeners' port numbers (a dialer of
another test, or of the other xdist worker, retrying an address whose port number was free
again and went to a listener here) sits in SYN_SENT towards it as well; counted as ours, it
made "4 attempts against 3" of a session that kept its limit (forced in the second test).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import subprocess
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


def _own_socket_inodes() -> set[str]:
    """The inodes of this process's sockets (their /proc/net/tcp column 10)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed since the listing
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def _syn_sent_to(ports: set[int]) -> int:
    """Sockets of this process in SYN_SENT towards 127.0.0.1 at one of `ports`."""
    ours = _own_socket_inodes()
    found = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            remote, state, inode = fields[2], fields[3], fields[9]
            host, port = remote.split(":")
            if state != SYN_SENT or host != "0100007F" or int(port, 16) not in ports:
                continue
            if inode in ours:  # another process's dial to that port number is not ours
                found.add(inode)  # a table read while it changes may list one twice
    return len(found)


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


def test_the_kernel_count_is_of_this_process_only() -> None:
    """Another process dialling a deaf listener's port number is not counted; our own
    attempt to it is, once."""
    with ExitStack() as stack:
        (port,) = _deaf_listeners(stack, 1)
        outsider = stack.enter_context(
            subprocess.Popen(
                [sys.executable, "-c", _DIAL_AND_WAIT.format(port=port)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
        stack.callback(outsider.kill)  # runs first: Popen's exit then waits for it
        assert outsider.stdout is not None and outsider.stdout.readline() == "dialled\n"
        assert _syn_sent_to({port}) == 0
        ours = stack.enter_context(socket.socket())
        ours.setblocking(False)
        assert ours.connect_ex(("127.0.0.1", port)) == errno.EINPROGRESS
        assert _syn_sent_to({port}) == 1


_DIAL_AND_WAIT = """
import socket, sys
s = socket.socket()
s.setblocking(False)
s.connect_ex(("127.0.0.1", {port}))
print("dialled", flush=True)
sys.stdin.read()
"""

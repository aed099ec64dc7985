"""Where a session listens: one port number for every address family it listens on."""

from __future__ import annotations

import asyncio
import socket

import pytest

from bitswarm.session import Session, SessionConfig


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_any_free_port_is_one_port_for_ipv4_and_ipv6() -> None:
    """`listen_port=0` on every interface: the kernel would give IPv4 and IPv6 a number
    each, peers would be told only one of them, and a peer whose IPv4 port equals our IPv6
    number would be taken for ourselves and never dialled (the library example hung so)."""
    if not _ipv6_available():
        pytest.skip("this machine has no IPv6 loopback: one family, nothing to compare")

    async def run() -> list[tuple[int, int]]:
        seen = []
        for _ in range(5):  # the kernel's pick differs per family almost every time
            async with Session(SessionConfig(listen_port=0)) as session:
                server_ports = {s.getsockname()[1] for srv in session._servers for s in srv.sockets}
                families = {s.family for srv in session._servers for s in srv.sockets}
                assert families == {socket.AF_INET, socket.AF_INET6}
                assert server_ports == {session.listen_port}
                seen.append((session.listen_port, len(server_ports)))
        return seen

    assert len(asyncio.run(run())) == 5


def test_a_given_port_is_kept_and_a_taken_one_moves_on() -> None:
    async def run() -> None:
        async with Session(SessionConfig(listen_host="127.0.0.1", listen_port=0)) as first:
            taken = first.listen_port
            config = SessionConfig(listen_host="127.0.0.1", listen_port=taken)
            async with Session(config) as second:
                assert second.listen_port != taken  # find_free_port: the next free one
                assert taken < second.listen_port <= taken + 50

    asyncio.run(run())

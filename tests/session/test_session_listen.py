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


def test_a_port_taken_for_udp_moves_tcp_and_utp_to_the_next_one() -> None:
    """uTP (BEP 29) and a DHT on the peer port need the UDP number too: a port whose UDP
    side another program holds is skipped for both, rather than listening on TCP alone."""

    async def run() -> None:
        for _ in range(20):  # find a number free for TCP whose UDP side we can take
            holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            holder.bind(("127.0.0.1", 0))
            port = holder.getsockname()[1]
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                probe.bind(("127.0.0.1", port))
                break
            except OSError:
                holder.close()
            finally:
                probe.close()
        else:
            raise AssertionError("no port with a free TCP side")
        with holder:
            config = SessionConfig(listen_host="127.0.0.1", listen_port=port, dht_port=port)
            async with Session(config) as session:
                assert session.listen_port != port
                assert session.utp is not None
                assert session.utp.sockname == ("127.0.0.1", session.listen_port)
                assert session.dht is not None
                assert session.dht.addresses == [("127.0.0.1", session.listen_port)]

    asyncio.run(run())

"""A dead uTP peer is noticed at once (aio/utp.py `UtpManager` on real UDP sockets).

A SIGKILLed process sends nothing; its host answers our next datagram with ICMP port
unreachable, which the manager reads from the socket's error queue; a process restarted on
the same port answers the old connection's packets with ST_RESET; an idle connection sends
a keepalive, so the dead peer is found without any data to send.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable

import pytest

from bitswarm.aio.utp import UtpManager, UtpRefused, open_utp_socket
from bitswarm.utp import ST_FIN, ST_RESET, ST_STATE, UtpConfig, decode_packet, encode_packet


class Collector(asyncio.BufferedProtocol):
    """Keeps what arrives and how the connection ended."""

    def __init__(self) -> None:
        self.buf = bytearray(65536)
        self.data = bytearray()
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        self.got = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self.buf)

    def buffer_updated(self, nbytes: int) -> None:
        self.data += self.buf[:nbytes]
        self.got.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


def _kill(manager: UtpManager) -> None:
    """What SIGKILL does to a process's UDP socket: gone, without a word to its peers."""
    manager._closed = True
    manager.loop.remove_reader(manager.sock.fileno())
    manager.sock.close()


async def _within(aw: Awaitable[object], seconds: float) -> object:
    return await asyncio.wait_for(aw, seconds)


async def _pair(config: UtpConfig | None = None) -> tuple[UtpManager, UtpManager, Collector,
                                                          Collector]:  # fmt: skip
    incoming: list[Collector] = []

    def accept() -> Collector:
        incoming.append(Collector())
        return incoming[-1]

    a = UtpManager(open_utp_socket("127.0.0.1", 0), accept=accept, config=config)
    b = UtpManager(open_utp_socket("127.0.0.1", 0), accept=None, config=config)
    _, proto = await b.connect(a.sockname, Collector)
    assert isinstance(proto, Collector) and proto.transport is not None
    proto.transport.write(b"hello")
    while not incoming or not incoming[0].data:  # noqa: ASYNC110 - polling a condition
        await asyncio.sleep(0.01)
    return a, b, incoming[0], proto


def test_connect_to_a_closed_port_fails_at_once() -> None:
    async def main() -> float:
        gone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        gone.bind(("127.0.0.1", 0))
        addr = gone.getsockname()
        gone.close()
        b = UtpManager(open_utp_socket("127.0.0.1", 0), accept=None)
        start = time.monotonic()
        with pytest.raises(ConnectionError, match="unreachable"):
            await b.connect((addr[0], addr[1]), Collector)
        b.close()
        return time.monotonic() - start

    assert asyncio.run(main()) < 1.5  # not the 3 s SYN timeout and its resend


def test_a_killed_peer_is_dropped_when_we_send() -> None:
    async def main() -> None:
        a, b, _, theirs = await _pair()
        _kill(a)
        assert theirs.transport is not None
        theirs.transport.write(b"x" * 3000)
        exc = await _within(theirs.lost, 2.0)
        assert isinstance(exc, ConnectionError) and "unreachable" in str(exc)
        assert not b.conns
        b.close()

    asyncio.run(main())


def test_an_idle_connection_to_a_killed_peer_is_dropped_by_the_keepalive() -> None:
    async def main() -> None:
        a, b, _, theirs = await _pair(UtpConfig(keepalive_interval=0.5))
        await asyncio.sleep(0.1)  # the acks of "hello" are out: nothing in flight
        _kill(a)
        exc = await _within(theirs.lost, 3.0)  # nothing written: the keepalive finds it
        assert isinstance(exc, ConnectionError) and "unreachable" in str(exc)
        b.close()

    asyncio.run(main())


def test_idle_live_connections_stay_up_through_keepalives() -> None:
    async def main() -> None:
        a, b, mine, theirs = await _pair(UtpConfig(keepalive_interval=0.2))
        await asyncio.sleep(2.0)  # ten keepalive intervals each way
        assert not mine.lost.done() and not theirs.lost.done()
        assert theirs.transport is not None
        theirs.transport.write(b"still here")
        while b"still here" not in mine.data:  # noqa: ASYNC110 - polling a condition
            await asyncio.sleep(0.01)
        a.close()
        b.close()

    asyncio.run(main())


def test_a_restarted_process_resets_the_old_connection() -> None:
    async def main() -> None:
        a, b, _, theirs = await _pair()
        port = a.sockname[1]
        _kill(a)
        again = UtpManager(open_utp_socket("127.0.0.1", port), accept=lambda: Collector())
        assert theirs.transport is not None
        theirs.transport.write(b"x" * 3000)
        exc = await _within(theirs.lost, 2.0)
        assert isinstance(exc, ConnectionError) and "reset" in str(exc)
        assert not again.conns  # the old connection's data made no new one
        again.close()
        b.close()

    asyncio.run(main())


def test_a_packet_of_an_unknown_connection_is_answered_with_reset() -> None:
    async def main() -> None:
        a = UtpManager(open_utp_socket("127.0.0.1", 0), accept=lambda: Collector())
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        raw.bind(("127.0.0.1", 0))
        raw.settimeout(2.0)
        state = encode_packet(ST_STATE, 4242, timestamp=1, timestamp_diff=0, wnd_size=1000,
                              seq_nr=77, ack_nr=5)  # fmt: skip
        loop = asyncio.get_running_loop()
        raw.sendto(state, a.sockname)
        data = await loop.run_in_executor(None, raw.recv, 2048)
        reset = decode_packet(data)
        assert reset.type == ST_RESET
        assert reset.connection_id == 4242 and reset.ack_nr == 77
        raw.close()
        a.close()

    asyncio.run(main())


def test_a_syn_answered_with_fin_is_refused_at_once() -> None:
    """qBittorrent answers some SYNs with ST_FIN: a refused connect, not a connection."""

    async def main() -> float:
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        raw.bind(("127.0.0.1", 0))
        raw.setblocking(False)
        loop = asyncio.get_running_loop()

        def answer() -> None:
            data, addr = raw.recvfrom(2048)
            syn = decode_packet(data)
            if syn.type == 4:  # ST_SYN
                raw.sendto(encode_packet(ST_FIN, syn.connection_id, timestamp=1,
                                         timestamp_diff=0, wnd_size=1 << 20, seq_nr=900,
                                         ack_nr=syn.seq_nr), addr)  # fmt: skip

        loop.add_reader(raw.fileno(), answer)
        b = UtpManager(open_utp_socket("127.0.0.1", 0), accept=None)
        start = time.monotonic()
        with pytest.raises(UtpRefused):
            await b.connect(raw.getsockname(), Collector)
        took = time.monotonic() - start
        loop.remove_reader(raw.fileno())
        raw.close()
        b.close()
        return took

    assert asyncio.run(main()) < 1.0


def test_an_icmp_error_reported_by_a_send_does_not_eat_that_datagram() -> None:
    """With IP_RECVERR the kernel reports a pending ICMP error (about an earlier datagram,
    to anyone) on the next `sendto` and does not send it: that SYN must still go out."""

    async def main() -> float:
        gone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        gone.bind(("127.0.0.1", 0))
        dead = gone.getsockname()
        gone.close()
        a = UtpManager(open_utp_socket("127.0.0.1", 0), accept=lambda: Collector())
        b = UtpManager(open_utp_socket("127.0.0.1", 0), accept=None)
        b.loop.remove_reader(b.sock.fileno())  # nobody reads the error before the next send
        start = time.monotonic()
        to_dead = asyncio.ensure_future(b.connect((dead[0], dead[1]), Collector))
        await asyncio.sleep(0.05)  # its SYN is out, and ICMP came back
        b.loop.call_later(0.1, b.loop.add_reader, b.sock.fileno(), b._read_ready)
        await b.connect(a.sockname, Collector)
        took = time.monotonic() - start
        with pytest.raises(ConnectionError):
            await to_dead
        a.close()
        b.close()
        return took

    assert asyncio.run(main()) < 1.5  # not the SYN's 3 s resend


def test_syns_beyond_the_connection_cap_are_ignored() -> None:
    """A SYN flood (spoofed sources, most likely) opens at most `max_connections`."""

    async def main() -> tuple[int, int]:
        a = UtpManager(open_utp_socket("127.0.0.1", 0), accept=lambda: Collector(),
                       max_connections=5)  # fmt: skip
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        raw.bind(("127.0.0.1", 0))
        raw.settimeout(2.0)
        for n in range(12):
            raw.sendto(encode_packet(4, 1000 + 2 * n, timestamp=0, timestamp_diff=0,
                                     wnd_size=1 << 20, seq_nr=n, ack_nr=0), a.sockname)  # fmt: skip
        answers = 0
        loop = asyncio.get_running_loop()
        try:
            while True:
                await loop.run_in_executor(None, raw.recv, 2048)
                answers += 1
                raw.settimeout(0.5)
        except TimeoutError:
            pass
        conns = len(a.conns)
        raw.close()
        a.close()
        return conns, answers

    conns, answers = asyncio.run(main())
    assert conns == 5
    assert answers == 5  # the others got nothing back, not even a RESET

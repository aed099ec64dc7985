"""The asyncio driver of uTP: one UDP socket, its connections, and the DHT beside them.

`UtpManager` owns a non-blocking UDP socket bound to the peer port (the same number as
the TCP listener, as libtorrent does) and demultiplexes what arrives (libtorrent's
utp_socket_manager): a datagram whose first byte reads as uTP version 1 with a type of at
most 4 goes to the `UtpSocket` whose receive id (and address) it names, a SYN for no
known connection makes a new incoming one; anything else -- a bencoded KRPC message
starts with 'd' -- goes to the DHT node sharing the socket (`attach_datagram_protocol`).

It reads the socket until it is drained (many datagrams per wake-up) and only then lets
every connection that received something answer, so a burst of data packets gets one
ack, as libtorrent's "socket drained" does; writes from the peer code are flushed once
per loop iteration. Each connection's one timer is re-armed after every flush.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import socket
from collections.abc import Callable

from ..utp import (
    ST_DATA,
    ST_FIN,
    ST_RESET,
    ST_SYN,
    Packet,
    UtpConfig,
    UtpPacketError,
    UtpSocket,
    decode_packet,
    encode_packet,
    looks_like_utp,
)
from .utp_transport import UtpTransport

__all__ = ["UtpManager", "open_utp_socket"]

log = logging.getLogger("bitswarm.utp")

Addr = tuple[str, int]
READ_BATCH = 512  # datagrams read per wake-up at most (then other work gets a turn)
DATAGRAM_MAX = 65536
SOCKET_BUFFER = 4 * 2**20


def open_utp_socket(host: str, port: int) -> socket.socket:
    """A non-blocking UDP socket on (host, port), with large kernel buffers.

    Raises:
        OSError: the port cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
            except OSError:
                pass
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _SharedDatagramTransport(asyncio.DatagramTransport):
    """What a DHT endpoint sees of the shared socket: `sendto` and its address; closing
    it detaches the endpoint and leaves the socket to the manager."""

    def __init__(self, manager: UtpManager) -> None:
        super().__init__()
        self._manager = manager
        self._closing = False

    def sendto(self, data: bytes | bytearray | memoryview, addr: object = None) -> None:
        if not self._closing and isinstance(addr, tuple):
            self._manager.sendto(bytes(data), (str(addr[0]), int(addr[1])))

    def get_extra_info(self, name: str, default: object = None) -> object:
        if name == "sockname":
            return self._manager.sockname
        if name == "socket":
            return None
        return default

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._manager.detach_datagram_protocol()

    def abort(self) -> None:
        self.close()


class UtpManager:
    """One UDP socket: its uTP connections by (address, receive id), and the DHT beside."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        accept: Callable[[], asyncio.BufferedProtocol] | None,
        config: UtpConfig | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.accept = accept  # None: incoming uTP connections are refused (transport "tcp")
        self.config = config or UtpConfig()
        self._rng = rng or random.Random()
        name = sock.getsockname()
        self.sockname: Addr = (str(name[0]), int(name[1]))
        self.conns: dict[tuple[Addr, int], UtpTransport] = {}
        self._dirty: dict[UtpTransport, None] = {}
        self._flush_soon = False
        self._other: asyncio.DatagramProtocol | None = None
        self._closed = False
        self._rbuf = bytearray(DATAGRAM_MAX)
        self.send_errors = 0
        self.loop.add_reader(sock.fileno(), self._read_ready)

    # ---------------------------------------------------------------- the DHT beside
    def attach_datagram_protocol(self, protocol: asyncio.DatagramProtocol) -> None:
        """Hand the datagrams that are not uTP to `protocol` (the DHT), which sends
        through this socket."""
        self._other = protocol
        protocol.connection_made(_SharedDatagramTransport(self))

    def detach_datagram_protocol(self) -> None:
        protocol, self._other = self._other, None
        if protocol is not None:
            protocol.connection_lost(None)

    # ---------------------------------------------------------------- outgoing
    async def connect(self, addr: Addr, factory: Callable[[], asyncio.BufferedProtocol]
                      ) -> tuple[UtpTransport, asyncio.BufferedProtocol]:  # fmt: skip
        """Open a uTP connection to `addr` and give it a protocol from `factory`.

        Raises:
            ConnectionError: the peer refused (ST_RESET) or never answered.
        """
        if self._closed:
            raise ConnectionError("the uTP socket is closed")
        for _ in range(64):
            recv_id = self._rng.randrange(0x10000)
            taken = (addr, recv_id) in self.conns or (addr, (recv_id + 1) & 0xFFFF) in self.conns
            if not taken:
                break
        else:
            raise ConnectionError(f"no free uTP connection id for {addr[0]}:{addr[1]}")
        now = self.loop.time()
        core = UtpSocket.connect(recv_id=recv_id, seq_nr=self._rng.randrange(0x10000), now=now,
                                 config=self.config)  # fmt: skip
        connected: asyncio.Future[None] = self.loop.create_future()
        transport = UtpTransport(self, core, addr, connected=connected)
        self.conns[(addr, core.recv_id)] = transport
        self.flush(transport)
        try:
            await connected
        except BaseException:
            transport.abort()
            raise
        protocol = factory()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        transport.after_connect()
        return transport, protocol

    def typical_rtt(self) -> float | None:
        """The median smoothed round trip (seconds) of the connections open now, None
        before any has measured one: how long a new peer's SYN answer may take."""
        rtts = sorted(t.core.rtt.mean for t in self.conns.values() if t.core.rtt.samples)
        return rtts[len(rtts) // 2] if rtts else None

    # ---------------------------------------------------------------- incoming
    def _read_ready(self) -> None:
        sock, buf = self.sock, self._rbuf
        for _ in range(READ_BATCH):
            try:
                n, addr = sock.recvfrom_into(buf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # an ICMP error reported on the socket: nothing to read
                if exc.errno not in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                    log.debug("uTP socket %s: %s", self.sockname, exc)
                continue
            data = bytes(buf[:n])
            self._datagram((str(addr[0]), int(addr[1])), data)
        self._flush_dirty()

    def _datagram(self, addr: Addr, data: bytes) -> None:
        if not looks_like_utp(data):
            if self._other is not None:
                self._other.datagram_received(data, addr)
            return
        try:
            pkt = decode_packet(data)
        except UtpPacketError:
            if self._other is not None and data[:1] == b"d":
                self._other.datagram_received(data, addr)
            return
        now = self.loop.time()
        transport = self.conns.get((addr, pkt.connection_id))
        if transport is None and pkt.type == ST_RESET:  # some send RESET with the other id
            transport = self.conns.get((addr, (pkt.connection_id + 1) & 0xFFFF))
        if transport is None and pkt.type == ST_SYN:
            transport = self.conns.get((addr, (pkt.connection_id + 1) & 0xFFFF))
            if transport is None:
                self._accept(addr, pkt, now)
                return
        if transport is None:
            if pkt.type in (ST_DATA, ST_FIN):  # a connection we do not know (any more)
                self.sendto(encode_packet(ST_RESET, pkt.connection_id, timestamp=0,
                                          timestamp_diff=0, wnd_size=0, seq_nr=0,
                                          ack_nr=pkt.seq_nr), addr)  # fmt: skip
            return
        transport.core.receive_packet(pkt, now)
        self._dirty[transport] = None

    def _accept(self, addr: Addr, syn: Packet, now: float) -> None:
        if self.accept is None or self._closed:
            self.sendto(encode_packet(ST_RESET, syn.connection_id, timestamp=0,
                                      timestamp_diff=0, wnd_size=0, seq_nr=0,
                                      ack_nr=syn.seq_nr), addr)  # fmt: skip
            return
        core = UtpSocket.accept(syn, seq_nr=self._rng.randrange(0x10000), now=now,
                                config=self.config)  # fmt: skip
        transport = UtpTransport(self, core, addr)
        self.conns[(addr, core.recv_id)] = transport
        protocol = self.accept()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        self._dirty[transport] = None

    # ---------------------------------------------------------------- sending
    def sendto(self, data: bytes, addr: Addr) -> None:
        try:
            self.sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            self.send_errors += 1  # the kernel's buffer is full: a loss uTP repairs
        except OSError as exc:
            self.send_errors += 1
            log.debug("uTP send to %s:%d failed: %s", addr[0], addr[1], exc)

    def mark_dirty(self, transport: UtpTransport) -> None:
        """`transport` has something to send: flush it later in this loop iteration."""
        self._dirty[transport] = None
        if not self._flush_soon:
            self._flush_soon = True
            self.loop.call_soon(self._flush_dirty)

    def _flush_dirty(self) -> None:
        self._flush_soon = False
        while self._dirty:
            dirty = list(self._dirty)
            self._dirty.clear()
            for transport in dirty:
                self.flush(transport)

    def flush(self, transport: UtpTransport) -> None:
        """Send what the connection has, dispatch its events, re-arm its timer."""
        now = self.loop.time()
        for data in transport.core.datagrams_to_send(now):
            self.sendto(data, transport.address)
        transport.dispatch(transport.core.events())
        for data in transport.core.datagrams_to_send(now):  # what the events wrote
            self.sendto(data, transport.address)
        transport.rearm(transport.core.get_timer())

    def forget(self, transport: UtpTransport) -> None:
        key = (transport.address, transport.core.recv_id)
        if self.conns.get(key) is transport:
            del self.conns[key]
        self._dirty.pop(transport, None)

    def close(self) -> None:
        """Reset every connection and release the socket."""
        if self._closed:
            return
        self._closed = True
        for transport in list(self.conns.values()):
            transport.abort()
        self.detach_datagram_protocol()
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

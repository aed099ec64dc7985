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

A dead peer is noticed at once, not after the resend timeouts (a SIGKILLed process sends
nothing, unlike a TCP stack that resets): the socket has IP_RECVERR (IPV6_RECVERR), so the
ICMP "port unreachable" its host answers to our next datagram -- data, or the keepalive
an idle connection sends every 29 s -- is queued on the socket's error queue with the
address it was sent to; `_read_errors` reads that queue (MSG_ERRQUEUE) and fails every
connection to the address (libutp's utp_process_icmp_error; libtorrent only logs the
error). A packet for a connection we do not know, other than SYN and RESET, is answered
with ST_RESET (libutp's; libtorrent leaves it unanswered), so a peer whose process was
restarted on the same port learns at once that its old connection is gone.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import socket
import struct
import sys
from collections.abc import Callable

from ..utp import (
    ST_RESET,
    ST_SYN,
    Packet,
    UtpConfig,
    UtpPacketError,
    UtpSocket,
    UtpState,
    decode_packet,
    encode_packet,
    looks_like_utp,
)
from .utp_transport import UtpRefused, UtpTransport

__all__ = ["UtpManager", "UtpRefused", "open_utp_socket"]

log = logging.getLogger("bitswarm.utp")
# every uTP datagram in and out, when this logger is at DEBUG as the manager starts
trace = logging.getLogger("bitswarm.utp.packets")
_TYPES = ("DATA", "FIN", "STATE", "RESET", "SYN")


def describe(data: bytes) -> str:
    """One line for the packet log: type, ids, numbers, window, SACK, payload size."""
    try:
        p = decode_packet(data)
    except UtpPacketError:
        return f"not uTP ({len(data)} bytes)"
    sack = f" sack={p.sack.hex()}" if p.sack else ""
    return (f"{_TYPES[p.type]} id={p.connection_id} seq={p.seq_nr} ack={p.ack_nr} "
            f"wnd={p.wnd_size} len={len(p.payload)}{sack}")  # fmt: skip


Addr = tuple[str, int]
READ_BATCH = 512  # datagrams read per wake-up at most (then other work gets a turn)
DATAGRAM_MAX = 65536
SOCKET_BUFFER = 4 * 2**20
MAX_CONNECTIONS = 800  # libtorrent: SYNs ignored above twice its connections_limit
# Linux values (Python 3.11's socket module lacks the names)
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
# ICMP errors that end every connection to the address (port unreachable: no process
# there), and those that end only connections still connecting (a route that may recover)
FATAL_ERRORS = frozenset({errno.ECONNREFUSED, errno.ECONNRESET})
CONNECT_ERRORS = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN})


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
        if sys.platform == "linux":  # ICMP errors onto the error queue, with their address
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
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
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.accept = accept  # None: incoming uTP connections are refused (transport "tcp")
        self.config = config or UtpConfig()
        self.max_connections = max_connections  # a SYN beyond it is ignored (a flood)
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
        self.trace = trace.isEnabledFor(logging.DEBUG)
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
            UtpRefused: the peer answered the SYN with FIN or RESET.
            ConnectionError: the peer never answered, or its host says no one is there.
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
        errors = False
        for i in range(READ_BATCH):
            try:
                n, addr = sock.recvfrom_into(buf)
            except (BlockingIOError, InterruptedError):
                errors |= i == 0  # woken with nothing to read: an error queued (EPOLLERR)
                break
            except OSError as exc:  # an ICMP error reported on the socket: nothing to read
                errors = True
                if exc.errno not in FATAL_ERRORS | CONNECT_ERRORS:
                    log.debug("uTP socket %s: %s", self.sockname, exc)
                continue
            data = bytes(buf[:n])
            self._datagram((str(addr[0]), int(addr[1])), data)
        if errors:
            self._read_errors()
        self._flush_dirty()

    def _read_errors(self) -> None:
        """Drain the socket's error queue: each ICMP error names the address our datagram
        went to; fail the connections to it (see the module docstring)."""
        for _ in range(READ_BATCH):
            try:
                _, ancdata, _, addr = self.sock.recvmsg(1, 1024, MSG_ERRQUEUE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("uTP socket %s: error queue: %s", self.sockname, exc)
                return
            for level, kind, data in ancdata:
                is_err = (level, kind) in ((socket.IPPROTO_IP, IP_RECVERR),
                                           (socket.IPPROTO_IPV6, IPV6_RECVERR))  # fmt: skip
                if is_err and len(data) >= 4 and isinstance(addr, tuple):
                    (code,) = struct.unpack_from("=I", data)
                    self.incoming_error(code, (str(addr[0]), int(addr[1])))

    def incoming_error(self, code: int, addr: Addr) -> None:
        """The host of `addr` reported error `code` (an errno) for a datagram we sent it."""
        fatal = code in FATAL_ERRORS
        if not fatal and code not in CONNECT_ERRORS:
            return
        reason = "unreachable" if fatal else f"unreachable ({errno.errorcode.get(code, code)})"
        for (peer, _), transport in list(self.conns.items()):
            if peer != addr or (not fatal and transport.core.state is not UtpState.SYN_SENT):
                continue
            transport.core.fail(reason)
            self._dirty[transport] = None

    def _datagram(self, addr: Addr, data: bytes) -> None:
        if self.trace and looks_like_utp(data):
            trace.debug("%s < %s:%d %s", self.sockname[1], addr[0], addr[1], describe(data))
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
        if transport is None and pkt.type == ST_RESET:
            transport = self._reset_target(addr, pkt.connection_id)
        if transport is None and pkt.type == ST_SYN:
            transport = self.conns.get((addr, (pkt.connection_id + 1) & 0xFFFF))
            if transport is None:
                self._accept(addr, pkt, now)
                return
        if transport is None:
            if pkt.type != ST_RESET:  # a connection we do not know (any more): libutp's
                self.sendto(encode_packet(ST_RESET, pkt.connection_id, timestamp=0,
                                          timestamp_diff=0, wnd_size=0,
                                          seq_nr=self._rng.randrange(0x10000),
                                          ack_nr=pkt.seq_nr), addr)  # fmt: skip
            return
        transport.core.receive_packet(pkt, now)
        self._dirty[transport] = None

    def _reset_target(self, addr: Addr, conn_id: int) -> UtpTransport | None:
        """The connection a RESET names: a RESET carries the id its sender received,
        our send id, so our receive id is one above or below it (libutp's lookup)."""
        for recv_id in ((conn_id + 1) & 0xFFFF, (conn_id - 1) & 0xFFFF):
            transport = self.conns.get((addr, recv_id))
            if transport is not None and transport.core.send_id == conn_id:
                return transport
        return None

    def _accept(self, addr: Addr, syn: Packet, now: float) -> None:
        if len(self.conns) >= self.max_connections:
            return  # a SYN flood (spoofed sources, most likely): not even a RESET back
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
        if self.trace and looks_like_utp(data):
            trace.debug("%s > %s:%d %s", self.sockname[1], addr[0], addr[1], describe(data))
        for _ in range(2):
            try:
                self.sock.sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                self.send_errors += 1  # the kernel's buffer is full: a loss uTP repairs
            except OSError as exc:
                if exc.errno in FATAL_ERRORS | CONNECT_ERRORS:
                    # an ICMP error about an earlier datagram (to anyone), reported by this
                    # call instead of sending: send again; the error queue tells whose
                    continue
                self.send_errors += 1
                log.debug("uTP send to %s:%d failed: %s", addr[0], addr[1], exc)
            return

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

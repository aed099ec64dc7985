"""Local service discovery driver (L2): a UDP multicast socket around `LsdAnnouncer` (BEP 14).

It joins 239.192.152.143:6771, sends the announces the pure `ext.lsd.LsdAnnouncer` asks
for at the times it asks (one timer, aioquic style), and hands every local peer it learns
to a callback as ``on_peer(info_hash, (host, port))``.

Socket choices: SO_REUSEADDR and SO_REUSEPORT so several clients (or two sessions in one
process) share the port; multicast loopback on, so sessions on one host see each other
(our own echoes are dropped by cookie); TTL 1, so announces stay on the local link.
Machines without a multicast route are common (containers, CI): then `start` returns
False and `error` holds one line saying why; nothing raises and the session goes on.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import struct
from collections.abc import Callable
from typing import Any

from ..ext.lsd import (
    ANNOUNCE_INTERVAL,
    LSD_GROUP4,
    LSD_PORT,
    MIN_SEND_GAP,
    LsdAnnouncer,
)

__all__ = ["LsdService", "PeerFound"]

log = logging.getLogger(__name__)

PeerFound = Callable[[bytes, tuple[str, int]], None]
"""``on_peer(info_hash, (host, port))``: a local peer for one of our torrents."""


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, service: LsdService) -> None:
        self.service = service

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.service._received(data, (str(addr[0]), addr[1]))

    def error_received(self, exc: Exception) -> None:
        self.service._report(f"local peer discovery (LSD): sending failed: {exc}")


class LsdService:
    """BEP 14 on one IPv4 interface.

    Args:
        listen_port: our BitTorrent TCP port (what we announce).
        on_peer: called for each local peer found for a torrent we announce.
        interface: the local address to send and join on; "0.0.0.0" lets the kernel choose
            by its routes (tests pass "127.0.0.1").
        port, group: the multicast port and group; tests use a free port of their own.
        interval, min_gap: `LsdAnnouncer`'s timing (5 min per torrent, 1 min between sends).
    """

    def __init__(
        self,
        *,
        listen_port: int,
        on_peer: PeerFound,
        interface: str = "0.0.0.0",
        port: int = LSD_PORT,
        group: str = LSD_GROUP4,
        interval: float = ANNOUNCE_INTERVAL,
        min_gap: float = MIN_SEND_GAP,
        cookie: str | None = None,
    ) -> None:
        self.on_peer = on_peer
        self.interface = interface
        self.port = port
        self.group = group
        self.announcer = LsdAnnouncer(
            listen_port=listen_port,
            cookie=cookie or secrets.token_hex(8),
            interval=interval,
            min_gap=min_gap,
        )
        self.error: str | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._transport is not None

    async def start(self) -> bool:
        """Open the socket and join the group; False (with `error` set) if that fails."""
        if self._transport is not None:
            return True
        self._loop = asyncio.get_running_loop()
        try:
            sock = self._open_socket()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self._report(
                f"local peer discovery (LSD) is off: cannot join {self.group}:"
                f"{self.port} on {self.interface}: {reason}"
            )
            return False
        transport, _ = await self._loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        self._transport = transport
        self._arm()
        return True

    def _open_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            # Bound to the group, the socket sees only datagrams sent to the group.
            sock.bind((self.group, self.port))
            group, interface = socket.inet_aton(self.group), socket.inet_aton(self.interface)
            mreq = struct.pack("4s4s", group, interface)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            if self.interface != "0.0.0.0":
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, interface)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    def add_torrent(self, info_hash: bytes) -> None:
        """Announce a torrent (its 20-byte wire info-hash). Never a private one (BEP 27)."""
        self.announcer.add_torrent(info_hash, now=self._now())
        self._arm()

    def remove_torrent(self, info_hash: bytes) -> None:
        self.announcer.remove_torrent(info_hash)

    def close(self) -> None:
        """Leave the group and stop announcing. Safe to call twice."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # ---- internals ------------------------------------------------------------------------

    def _now(self) -> float:
        return self._loop.time() if self._loop is not None else 0.0

    def _arm(self) -> None:
        if self._transport is None or self._loop is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = self.announcer.get_timer()
        if when is not None:
            self._deadline = when
            self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        transport = self._transport
        if transport is None:
            return
        # call_at may fire a clock tick early; never let the announcer see time go short.
        now = max(self._now(), self._deadline)
        for datagram in self.announcer.datagrams_to_send(now=now):
            transport.sendto(datagram, (self.group, self.port))
        self._arm()

    def _received(self, data: bytes, source: tuple[str, int]) -> None:
        for peer in self.announcer.receive(data, source, now=self._now()):
            self.on_peer(peer.info_hash, peer.address)

    def _report(self, line: str) -> None:
        if self.error != line:
            log.warning("%s", line)
        self.error = line

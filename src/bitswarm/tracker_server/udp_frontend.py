"""The UDP tracker (BEP 15): a non-blocking socket drained in batches on the event loop.

asyncio's datagram transport wakes the loop once per datagram; a busy tracker receives
thousands a second, so this front-end registers its own reader and drains up to
`_BATCH` datagrams per wake-up, answering each with a plain `sendto`. A reply that does
not fit the socket buffer is dropped, as UDP would drop it anyway.

Per datagram (BEP 15 unless noted):

* shorter than 16 bytes, or a connect without the protocol magic: dropped unanswered;
* over the rate limit for its address: dropped (never answer a flood with a flood);
* connect: a connection id that is a keyed MAC of (client IP, time window) (conn_ids.py);
* anything else must carry a connection id that checks out for its source address,
  else it is dropped: a spoofed source never saw its id;
* announce: the reply's peers have the stride of the packet's address family (6 bytes
  for IPv4, 18 for IPv6, "IPv6" section); the IP field is honoured only from a trusted
  proxy; BEP 41 URLData is parsed and accepted;
* errors the client should hear (malformed body, not authorized, store down) are an
  action-3 error reply with a short message.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Coroutine

from ..tracker.announce import AnnounceEvent
from ..tracker.udp_codec import (
    UdpAnnounce,
    UdpConnect,
    UdpMalformed,
    UdpScrape,
    encode_announce_reply,
    encode_connect_reply,
    encode_error,
    encode_scrape_reply,
    parse_request,
)
from .config import RequestRefused
from .conn_ids import ConnectionIds
from .service import TrackerService
from .store import EMPTY_STATS, PeerAnnounce, SwarmReply

__all__ = ["UdpFrontend"]

log = logging.getLogger("bitswarm.tracker.udp")
_BATCH = 256
_MAX_DATAGRAM = 2048
_MAX_PENDING = 10_000  # announces waiting on a remote store; beyond that, drop
_MAPPED = "::ffff:"


class UdpFrontend:
    """Serves one bound UDP socket (IPv4 or IPv6)."""

    def __init__(self, service: TrackerService, conn_ids: ConnectionIds) -> None:
        self.service = service
        self.conn_ids = conn_ids
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._drain)

    def bound_socket(self) -> socket.socket | None:
        return self._sock

    async def stop(self) -> None:
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            for task in list(self._pending):
                task.cancel()
            self._sock.close()
            self._sock = None

    def _drain(self) -> None:
        sock = self._sock
        if sock is None:
            return
        now = self.service.clock()
        wall = time.time()
        for _ in range(_BATCH):
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. an ICMP error queued on the socket
                log.debug("udp receive error", extra={"error": str(exc)})
                continue
            try:
                reply = self._handle(data, addr, now, wall)
            except Exception:  # a bug must not stop the reader
                log.exception("internal error on a udp datagram")
                self.service.metrics.error("internal", "udp")
                continue
            if reply is not None:
                self._send(reply, addr)

    def _send(self, reply: bytes, addr: tuple[str, int] | tuple[str, int, int, int]) -> None:
        if self._sock is None:
            return
        try:
            self._sock.sendto(reply, addr)
        except OSError:  # buffer full, or the address went away: UDP may lose it
            self.service.metrics.error("send_failed", "udp")

    def _handle(
        self, data: bytes, addr: tuple[str, int] | tuple[str, int, int, int], now: float,
        wall: float,
    ) -> bytes | None:  # fmt: skip
        started = time.perf_counter()
        service = self.service
        metrics = service.metrics
        host = addr[0]
        if host.startswith(_MAPPED) and "." in host:
            host = host[len(_MAPPED) :]
        v6 = ":" in host
        ip = socket.inet_pton(socket.AF_INET6 if v6 else socket.AF_INET, host)
        req = parse_request(data)
        if req is None:
            metrics.error("malformed", "udp")
            return None
        try:
            service.admit(host, now)
        except RequestRefused:
            metrics.error("rate_limited", "udp")
            return None
        if isinstance(req, UdpConnect):
            metrics.connect()
            return encode_connect_reply(req.transaction_id, self.conn_ids.issue(ip, now=wall))
        if not self.conn_ids.check(req.connection_id, ip, now=wall):
            metrics.error("bad_connection_id", "udp")
            return None
        tid = req.transaction_id
        try:
            match req:
                case UdpMalformed(reason=reason):
                    raise RequestRefused(reason)
                case UdpScrape(info_hashes=hashes):
                    return self._scrape(tid, hashes, addr, started)
                case UdpAnnounce():
                    return self._announce(req, host, ip, v6, addr, started)
        except RequestRefused as exc:
            metrics.error(exc.kind, "udp")
            return encode_error(tid, exc.reason)
        return None

    def _announce(
        self, req: UdpAnnounce, host: str, ip: bytes, v6: bool,
        addr: tuple[str, int] | tuple[str, int, int, int], started: float,
    ) -> bytes | None:  # fmt: skip
        service = self.service
        service.authorize(req.request.info_hash)
        if req.ip and not v6 and service.config.is_trusted_proxy(host):
            ip = int(req.ip).to_bytes(4, "big")
            host = str(ipaddress.IPv4Address(ip))
        packed = ip + req.request.port.to_bytes(2, "big")
        ann = PeerAnnounce(req.request, packed, service.config.numwant(req.numwant),
                           both_families=False)  # fmt: skip
        local = service.sync_for(req.request.info_hash)
        if local is not None:
            reply = service.announce_now(ann, local)
            return self._announce_reply(req, reply, v6, started)
        self._spawn(self._announce_later(req, ann, v6, addr, started))
        return None

    async def _announce_later(
        self, req: UdpAnnounce, ann: PeerAnnounce, v6: bool,
        addr: tuple[str, int] | tuple[str, int, int, int], started: float,
    ) -> None:  # fmt: skip
        try:
            reply = await self.service.announce(ann)
        except RequestRefused as exc:
            self.service.metrics.error(exc.kind, "udp")
            self._send(encode_error(req.transaction_id, exc.reason), addr)
            return
        self._send(self._announce_reply(req, reply, v6, started), addr)

    def _announce_reply(
        self, req: UdpAnnounce, reply: SwarmReply, v6: bool, started: float
    ) -> bytes:
        peers = reply.peers6 if v6 else reply.peers4  # the stride of the client's family
        out = encode_announce_reply(
            req.transaction_id, self.service.config.interval, reply.incomplete,
            reply.complete, (packed for _, packed in peers),
        )  # fmt: skip
        event = req.request.event
        self.service.metrics.announce(
            "udp", event.value if event is not AnnounceEvent.NONE else "none",
            time.perf_counter() - started,
        )  # fmt: skip
        return out

    def _scrape(
        self, tid: int, hashes: tuple[bytes, ...],
        addr: tuple[str, int] | tuple[str, int, int, int], started: float,
    ) -> bytes | None:  # fmt: skip
        service = self.service
        local = service.sync_for_all(hashes)
        if local is not None:
            allowed = service.whitelist.allows
            found = iter(local.scrape_now([h for h in hashes if allowed(h)], service.clock()))
            stats = [next(found) if allowed(h) else EMPTY_STATS for h in hashes]
            service.metrics.scrape("udp", time.perf_counter() - started)
            return encode_scrape_reply(tid, stats)
        self._spawn(self._scrape_later(tid, hashes, addr, started))
        return None

    async def _scrape_later(
        self, tid: int, hashes: tuple[bytes, ...],
        addr: tuple[str, int] | tuple[str, int, int, int], started: float,
    ) -> None:  # fmt: skip
        try:
            stats = await self.service.scrape(hashes)
        except RequestRefused as exc:
            self.service.metrics.error(exc.kind, "udp")
            self._send(encode_error(tid, exc.reason), addr)
            return
        self.service.metrics.scrape("udp", time.perf_counter() - started)
        self._send(encode_scrape_reply(tid, stats), addr)

    def _spawn(self, coro: Coroutine[None, None, None]) -> None:
        """Run a request that waits on a remote store; drop it when too many wait already."""
        if len(self._pending) >= _MAX_PENDING or self._loop is None:
            coro.close()
            self.service.metrics.error("overloaded", "udp")
            return
        task = self._loop.create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

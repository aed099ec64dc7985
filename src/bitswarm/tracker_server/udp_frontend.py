"""The UDP tracker (BEP 15): a non-blocking socket drained in batches on the event loop.

asyncio's datagram transport wakes the loop once per datagram; a busy tracker receives
thousands a second, so this front-end registers its own reader and drains up to
`_BATCH` datagrams per wake-up, answering each with a plain `sendto`. A reply the
kernel cannot take now (EAGAIN) waits in a bounded queue flushed when the socket is
writable again; past `_MAX_QUEUED` replies, or on any other send error, it is dropped,
as UDP would drop it anyway.

The hot path (bench/RESULTS.md, "Tracker", has its profile): a plain announce whose
swarm this process holds is read with `announce_fields` (one struct, no objects), its
connection id is checked against the ids already verified (conn_ids.py), the store
applies it and returns the peers as compact bytes (`MemorySwarmStore.announce_packed`),
and the reply is a 20-byte head plus those bytes. Everything else -- connects, scrapes,
malformed datagrams, a trusted proxy's IP field, a swarm another worker holds, a store
that awaits (Redis) -- goes through `parse_request` and the general path below.

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
import collections
import ipaddress
import logging
import socket
import time
from collections.abc import Coroutine

from ..tracker.announce import AnnounceEvent
from ..tracker.udp_codec import (
    AnnounceFields,
    UdpAnnounce,
    UdpConnect,
    UdpMalformed,
    UdpScrape,
    announce_fields,
    announce_reply_head,
    encode_announce_reply,
    encode_connect_reply,
    encode_error,
    encode_scrape_reply,
    parse_request,
)
from .config import TRACKER_FULL, RequestRefused
from .conn_ids import ConnectionIds
from .service import NOT_AUTHORIZED, TrackerService
from .store import EMPTY_STATS, PeerAnnounce, SwarmReply, SwarmsFull

__all__ = ["UdpFrontend"]

log = logging.getLogger("bitswarm.tracker.udp")
_BATCH = 256
_MAX_DATAGRAM = 2048
_MAX_PENDING = 10_000  # announces waiting on a remote store; beyond that, drop
_MAX_QUEUED = 4_096  # replies waiting for the socket to take them (EAGAIN); beyond: drop
_MAX_ADDRESSES = 65_536  # source hosts whose packed form is remembered; emptied when full
_MAPPED = "::ffff:"

Address = tuple[str, int] | tuple[str, int, int, int]


class UdpFrontend:
    """Serves one bound UDP socket (IPv4 or IPv6)."""

    def __init__(self, service: TrackerService, conn_ids: ConnectionIds) -> None:
        self.service = service
        self.conn_ids = conn_ids
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._queued: collections.deque[tuple[bytes, Address]] = collections.deque()
        self._hosts: dict[str, tuple[str, bytes, bool]] = {}  # source host -> _address()

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
            if self._queued:
                self._loop.remove_writer(self._sock.fileno())
                self._queued.clear()
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
        recvfrom, sendto, handle = sock.recvfrom, sock.sendto, self._handle
        queued = self._queued
        for _ in range(_BATCH):
            try:
                data, addr = recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. an ICMP error queued on the socket
                log.debug("udp receive error", extra={"error": str(exc)})
                continue
            try:
                reply = handle(data, addr, now, wall)
            except Exception:  # a bug must not stop the reader
                log.exception("internal error on a udp datagram")
                self.service.metrics.error("internal", "udp")
                continue
            if reply is None:
                continue
            if queued:  # `_send`, inlined: this runs for every datagram
                self._enqueue(reply, addr)
                continue
            try:
                sendto(reply, addr)
            except (BlockingIOError, InterruptedError):
                self._enqueue(reply, addr)
            except OSError:
                self.service.metrics.error("send_failed", "udp")

    def _send(self, reply: bytes, addr: Address) -> None:
        sock = self._sock
        if sock is None:
            return
        if self._queued:  # keep to the queue until it has drained
            self._enqueue(reply, addr)
            return
        try:
            sock.sendto(reply, addr)
        except (BlockingIOError, InterruptedError):  # the socket's buffer is full: wait
            self._enqueue(reply, addr)
        except OSError:  # the address went away (an ICMP error): UDP may lose it
            self.service.metrics.error("send_failed", "udp")

    def _enqueue(self, reply: bytes, addr: Address) -> None:
        if len(self._queued) >= _MAX_QUEUED or self._sock is None or self._loop is None:
            self.service.metrics.error("send_failed", "udp")
            return
        if not self._queued:
            self._loop.add_writer(self._sock.fileno(), self._flush)
        self._queued.append((reply, addr))

    def _flush(self) -> None:
        """Writable again: send what waits, oldest first, until empty or EAGAIN."""
        queued, sock = self._queued, self._sock
        while queued and sock is not None:
            reply, addr = queued[0]
            try:
                sock.sendto(reply, addr)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.service.metrics.error("send_failed", "udp")
            queued.popleft()
        if sock is not None and self._loop is not None:
            self._loop.remove_writer(sock.fileno())

    def _address(self, host: str) -> tuple[str, bytes, bool]:
        """(host, packed IP, is IPv6) of a source host; IPv4-mapped IPv6 as IPv4."""
        known = self._hosts.get(host)
        if known is None:
            plain = host[len(_MAPPED) :] if host.startswith(_MAPPED) and "." in host else host
            v6 = ":" in plain
            known = (plain, socket.inet_pton(socket.AF_INET6 if v6 else socket.AF_INET, plain),
                     v6)  # fmt: skip
            if len(self._hosts) >= _MAX_ADDRESSES:
                self._hosts.clear()
            self._hosts[host] = known
        return known

    def _handle(self, data: bytes, addr: Address, now: float, wall: float) -> bytes | None:
        started = time.perf_counter()
        service = self.service
        metrics = service.metrics
        host, ip, v6 = self._hosts.get(addr[0]) or self._address(addr[0])
        fields = announce_fields(data)
        req = parse_request(data) if fields is None else None
        if fields is None and req is None:
            metrics.error("malformed", "udp")
            return None
        if service.limiter is not None:
            try:
                service.admit(host, now)
            except RequestRefused:
                metrics.error("rate_limited", "udp")
                return None
        if isinstance(req, UdpConnect):
            metrics.connect()
            return encode_connect_reply(req.transaction_id, self.conn_ids.issue(ip, now=wall))
        cid = fields[0] if fields is not None else req.connection_id  # type: ignore[union-attr]
        if not self.conn_ids.check(cid, ip, now=wall):
            metrics.error("bad_connection_id", "udp")
            return None
        if fields is not None:
            reply = self._announce_fast(fields, host, ip, v6, now, started)
            if reply is not None:
                return reply
            req = parse_request(data)  # not for the hot path: the general one
        assert req is not None
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

    def _announce_fast(
        self, fields: AnnounceFields, host: str, ip: bytes, v6: bool, now: float,
        started: float,
    ) -> bytes | None:  # fmt: skip
        """The hot path's announce (module docstring); None: take the general path."""
        _cid, tid, info_hash, peer_id, left, event, ip_field, numwant, port = fields
        service = self.service
        if ip_field and not v6 and service.config.trusted_proxies:
            return None  # a proxy may speak for another address: the general path decides
        local = service.sync_for(info_hash)
        if local is None:
            return None
        metrics = service.metrics
        config = service.config
        if not service.whitelist.allows(info_hash):
            metrics.error("unauthorized", "udp")
            return encode_error(tid, NOT_AUTHORIZED)
        want = config.default_numwant if numwant < 0 else min(numwant, config.max_numwant)
        try:
            seeders, leechers, _done, peers = local.announce_packed(
                info_hash, peer_id, ip + port.to_bytes(2, "big"), left, event, want, now
            )
        except SwarmsFull:
            metrics.error("full", "udp")
            return encode_error(tid, TRACKER_FULL)
        metrics.announce("udp", event.value or "none", time.perf_counter() - started)
        return announce_reply_head(tid, config.interval, leechers, seeders) + peers

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

"""BEP 15 UDP tracker client as a sans-IO core: datagrams and `now` in, events out.

Rules (BEP 15 unless noted):

* Before announcing or scraping, obtain a connection id with a connect request. A
  connection id may be reused for requests until one minute after it was received.
  One connect is shared by every request that waits for it.
* A request not answered after 15 * 2**n seconds is sent again, n starting at 0 and
  growing by one per retransmission up to 8; then the request times out. The counter
  belongs to the request and survives a reconnect, as in BEP 15's "announce times out"
  example. The connection id is checked when retransmitting: an expired one triggers a
  connect first. `retransmit_base` and `max_retries` shorten this for tests and drivers.
* Transaction ids are random 32-bit values from the injected rng. A reply is matched by
  transaction id, action and minimum size; anything else (too short, unknown id, wrong
  action, wrong source address) is dropped and counted in `dropped`, never raised: on
  UDP anyone can send us anything.
* Action 3 ("error") with a known transaction id fails that request with the
  tracker's message. An error answering a connect fails every request waiting for it.
* The announce reply holds 6-byte peers when the tracker is reached over IPv4 and
  18-byte peers over IPv6 (BEP 15 "IPv6"); a tail shorter than one peer is ignored.
* BEP 41: the URL's path and query follow the announce as URLData options (255 B each).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from ..addresses import IPV4_STRIDE, IPV6_STRIDE, is_ipv6
from ..errors import LocalProtocolError
from .announce import AnnounceRequest, AnnounceResponse, ScrapeResponse
from .compact import decode_peers
from .udp_codec import (
    MAX_SCRAPE_HASHES,
    REPLY_HEADER_SIZE,
    Action,
    announce_body,
    decode_announce_reply,
    decode_connect_reply,
    decode_error_reply,
    decode_reply_header,
    decode_scrape_reply,
    encode_connect_request,
    encode_request,
)

__all__ = [
    "AnnounceDone", "DropCounters", "RequestFailed", "RequestTimedOut", "ScrapeDone",
    "TransactionRng", "UdpTrackerClient", "UdpTrackerEvent",
]  # fmt: skip

CONNECTION_TTL = 60.0


class TransactionRng(Protocol):
    """What the core needs from its rng (`random.Random` and `SystemRandom` fit)."""

    def getrandbits(self, k: int, /) -> int: ...


@dataclass(frozen=True, slots=True)
class AnnounceDone:
    """The announce with this handle got its reply."""

    handle: int
    response: AnnounceResponse


@dataclass(frozen=True, slots=True)
class ScrapeDone:
    """The scrape with this handle got its reply."""

    handle: int
    response: ScrapeResponse


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """The tracker answered this request with an error (action 3) and this message."""

    handle: int
    reason: str


@dataclass(frozen=True, slots=True)
class RequestTimedOut:
    """This request went unanswered after all its retransmissions."""

    handle: int
    attempts: int


UdpTrackerEvent: TypeAlias = AnnounceDone | ScrapeDone | RequestFailed | RequestTimedOut


@dataclass(slots=True)
class DropCounters:
    """Datagrams the core ignored, by reason (for logs and tests)."""

    short: int = 0
    unknown_transaction: int = 0
    wrong_address: int = 0
    wrong_action: int = 0


class _Phase(enum.Enum):
    CONNECTING = enum.auto()  #: waiting for a connection id
    SENT = enum.auto()  #: request sent with a connection id, waiting for the reply


@dataclass(slots=True)
class _Request:
    handle: int
    action: Action
    body: bytes  # everything after the 16-byte header
    hashes: tuple[bytes, ...]
    attempt: int
    deadline: float
    phase: _Phase = _Phase.CONNECTING
    tid: int | None = None


def _canonical(addr: tuple[str, int] | tuple[str, int, int, int]) -> tuple[str, int]:
    host = addr[0].strip("[]").split("%", 1)[0]
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        pass
    return host, addr[1]


class UdpTrackerClient:
    """Talks BEP 15 to one tracker address. Create one per (tracker, address family).

    Commands (`announce`, `scrape`, `cancel`) return or take an integer handle; results
    come out of `events()` carrying that handle.
    """

    def __init__(
        self, tracker_addr: tuple[str, int] | tuple[str, int, int, int], *,
        rng: TransactionRng, request_string: bytes = b"",
        retransmit_base: float = 15.0, max_retries: int = 8,
        connection_ttl: float = CONNECTION_TTL, max_peers: int = 200,
    ) -> None:  # fmt: skip
        if retransmit_base <= 0 or max_retries < 0:
            raise LocalProtocolError("retransmit_base must be > 0 and max_retries >= 0")
        self.tracker_addr = _canonical(tracker_addr)
        self.ipv6 = is_ipv6(self.tracker_addr[0])
        self.request_string = request_string
        self.retransmit_base = retransmit_base
        self.max_retries = max_retries
        self.connection_ttl = connection_ttl
        self.max_peers = max_peers
        self.dropped = DropCounters()
        self._rng = rng
        self._requests: dict[int, _Request] = {}
        self._by_tid: dict[int, _Request] = {}
        self._connect_tids: set[int] = set()
        self._connect_queued_at: float | None = None
        self._conn_id: int | None = None
        self._conn_expiry = 0.0
        self._next_handle = 1
        self._outbox: list[bytes] = []
        self._events: list[UdpTrackerEvent] = []

    # -- commands -------------------------------------------------------------------

    def announce(self, req: AnnounceRequest, *, now: float) -> int:
        """Queue an announce; returns its handle."""
        body = announce_body(req, ipv6=self.ipv6, request_string=self.request_string)
        return self._start(Action.ANNOUNCE, body, (), now)

    def scrape(self, info_hashes: Iterable[bytes], *, now: float) -> int:
        """Queue a scrape of 1..74 info-hashes; returns its handle."""
        hashes = tuple(info_hashes)
        if not 1 <= len(hashes) <= MAX_SCRAPE_HASHES:
            raise LocalProtocolError(f"scrape takes 1..{MAX_SCRAPE_HASHES} info-hashes")
        if any(len(h) != 20 for h in hashes):
            raise LocalProtocolError("every info-hash must be 20 bytes")
        return self._start(Action.SCRAPE, b"".join(hashes), hashes, now)

    def cancel(self, handle: int) -> None:
        """Forget a request; a late reply to it is then dropped as unknown."""
        req = self._requests.pop(handle, None)
        if req is not None and req.tid is not None:
            self._by_tid.pop(req.tid, None)

    @property
    def pending(self) -> int:
        """How many requests are waiting for a reply."""
        return len(self._requests)

    def connection_valid(self, *, now: float) -> bool:
        """Whether a connection id is held that may still be used at `now`."""
        return self._conn_id is not None and now < self._conn_expiry

    # -- sans-IO plumbing -------------------------------------------------------------

    def datagrams_to_send(self, *, now: float) -> list[tuple[bytes, tuple[str, int]]]:
        """Drain the datagrams to send, each with the tracker's address."""
        out, self._outbox = self._outbox, []
        return [(d, self.tracker_addr) for d in out]

    def events(self) -> list[UdpTrackerEvent]:
        """Drain the events produced since the last call."""
        out, self._events = self._events, []
        return out

    def get_timer(self) -> float | None:
        """The next retransmission deadline, or None when nothing is outstanding."""
        return min((r.deadline for r in self._requests.values()), default=None)

    def handle_timer(self, *, now: float) -> None:
        """Retransmit (or give up on) every request whose deadline has passed."""
        for req in [r for r in self._requests.values() if r.deadline <= now]:
            req.attempt += 1
            if req.attempt > self.max_retries:
                self.cancel(req.handle)
                self._events.append(RequestTimedOut(req.handle, req.attempt))
                continue
            req.deadline = now + self._timeout(req.attempt)
            if self.connection_valid(now=now):
                # Same transaction id when there is one: a late reply still counts.
                self._send_request(req, keep_tid=req.phase is _Phase.SENT)
            else:
                self._drop_tid(req)
                req.phase = _Phase.CONNECTING
                self._send_connect(now, force=True)
        if not any(r.phase is _Phase.CONNECTING for r in self._requests.values()):
            self._connect_tids.clear()

    def receive_datagram(
        self, data: bytes | bytearray | memoryview,
        addr: tuple[str, int] | tuple[str, int, int, int], *, now: float,
    ) -> None:  # fmt: skip
        """Feed one datagram that arrived from `addr`."""
        data = bytes(data)
        if _canonical(addr) != self.tracker_addr:
            self.dropped.wrong_address += 1
            return
        if len(data) < REPLY_HEADER_SIZE:
            self.dropped.short += 1
            return
        action, tid = decode_reply_header(data)
        if tid in self._connect_tids:
            self._on_connect_reply(action, data, now)
            return
        req = self._by_tid.get(tid)
        if req is None:
            self.dropped.unknown_transaction += 1
            return
        if action == Action.ERROR:
            self._finish(req, RequestFailed(req.handle, decode_error_reply(data)))
        elif action != req.action:
            self.dropped.wrong_action += 1
        elif action == Action.ANNOUNCE:
            reply = decode_announce_reply(data)
            if reply is None:
                self.dropped.short += 1
                return
            self._finish(req, AnnounceDone(req.handle, self._announce_reply(*reply)))
        else:
            # (seeders, completed, leechers) per hash in request order; may be cut short
            stats = decode_scrape_reply(data, req.hashes)
            self._finish(req, ScrapeDone(req.handle, ScrapeResponse(stats)))

    # -- internals --------------------------------------------------------------------

    def _timeout(self, attempt: int) -> float:
        return self.retransmit_base * float(2 ** min(attempt, 8))

    def _new_tid(self) -> int:
        while True:
            tid = self._rng.getrandbits(32)
            if tid not in self._by_tid and tid not in self._connect_tids:
                return tid

    def _start(self, action: Action, body: bytes, hashes: tuple[bytes, ...], now: float) -> int:
        handle = self._next_handle
        self._next_handle += 1
        req = _Request(handle, action, body, hashes, attempt=0, deadline=now + self._timeout(0))
        self._requests[handle] = req
        if self.connection_valid(now=now):
            self._send_request(req)
        else:
            self._send_connect(now, force=False)
        return handle

    def _send_connect(self, now: float, *, force: bool) -> None:
        """Send a connect unless one is outstanding (or, forced, unless sent at `now`)."""
        if self._connect_tids and (not force or self._connect_queued_at == now):
            return
        tid = self._new_tid()
        self._connect_tids.add(tid)
        self._connect_queued_at = now
        self._outbox.append(encode_connect_request(tid))

    def _send_request(self, req: _Request, *, keep_tid: bool = False) -> None:
        assert self._conn_id is not None
        if not keep_tid or req.tid is None:
            self._drop_tid(req)
            req.tid = self._new_tid()
        req.phase = _Phase.SENT
        self._by_tid[req.tid] = req
        self._outbox.append(encode_request(self._conn_id, req.action, req.tid, req.body))

    def _drop_tid(self, req: _Request) -> None:
        if req.tid is not None:
            self._by_tid.pop(req.tid, None)
            req.tid = None

    def _finish(self, req: _Request, event: UdpTrackerEvent) -> None:
        self.cancel(req.handle)
        self._events.append(event)

    def _on_connect_reply(self, action: int, data: bytes, now: float) -> None:
        waiting = [r for r in self._requests.values() if r.phase is _Phase.CONNECTING]
        if action == Action.ERROR:
            self._connect_tids.clear()
            reason = decode_error_reply(data)
            for req in waiting:
                self._finish(req, RequestFailed(req.handle, reason))
            return
        if action != Action.CONNECT:
            self.dropped.wrong_action += 1
            return
        conn_id = decode_connect_reply(data)
        if conn_id is None:
            self.dropped.short += 1
            return
        self._conn_id = conn_id
        self._conn_expiry = now + self.connection_ttl
        self._connect_tids.clear()
        for req in waiting:
            # The wait for a reply starts when the request leaves (BEP 15: sent at t=2,
            # resent at t=17); the retransmission count n carries on.
            req.deadline = now + self._timeout(req.attempt)
            self._send_request(req)

    def _announce_reply(
        self, interval: int, leechers: int, seeders: int, packed: bytes
    ) -> AnnounceResponse:
        stride = IPV6_STRIDE if self.ipv6 else IPV4_STRIDE
        peers = decode_peers(packed, stride, limit=self.max_peers, strict=False)
        return AnnounceResponse(
            interval=interval, min_interval=None, peers=tuple(peers), complete=seeders,
            incomplete=leechers, tracker_id=None, warning=None,
        )  # fmt: skip

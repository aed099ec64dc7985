"""BEP 15 from the tracker's side: request datagrams in, reply datagrams out. Pure.

The client core (`bitswarm.tracker.udp`) builds requests and reads replies; this is the
mirror image. `parse_request` never raises on bytes from the network: anything shorter
than the 16-byte header, or a connect without the protocol magic, is `None` (dropped,
BEP 15 gives the sender nothing to learn); a request with a header but a bad body comes
back as `UdpMalformed`, which the front-end answers with an error (action 3) once the
connection id checked out.

Layouts (BEP 15; all big-endian):

    request header   connection_id u64 | action u32 | transaction_id u32        (16)
    announce body    info_hash 20 | peer_id 20 | downloaded u64 | left u64 | uploaded u64
                     | event u32 | ip u32 | key u32 | num_want i32 | port u16   (82)
                     then BEP 41 options: 0 end, 1 nop, 2 URLData (len byte + data), ...
    scrape body      info_hash 20 * n (n <= 74)
    replies          action u32 | transaction_id u32 | ...
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from ..tracker.announce import AnnounceEvent, AnnounceRequest, ScrapeStats
from ..tracker.udp import MAX_SCRAPE_HASHES, PROTOCOL_ID
from .store import StoredPeer

__all__ = [
    "ANNOUNCE_SIZE",
    "UdpAnnounce",
    "UdpConnect",
    "UdpMalformed",
    "UdpRequest",
    "UdpScrape",
    "encode_announce_reply",
    "encode_connect_reply",
    "encode_error",
    "encode_scrape_reply",
    "parse_request",
]

ACTION_CONNECT, ACTION_ANNOUNCE, ACTION_SCRAPE, ACTION_ERROR = 0, 1, 2, 3
ANNOUNCE_SIZE = 98
_HEADER = struct.Struct(">QII")
_ANNOUNCE = struct.Struct(">20s20sQQQIIIiH")
_REPLY = struct.Struct(">II")
_CONNECT_REPLY = struct.Struct(">IIQ")
_ANNOUNCE_REPLY = struct.Struct(">IIIII")
_TRIPLE = struct.Struct(">III")
_I64_MAX = 2**63 - 1
_U32_MAX = 0xFFFFFFFF
_ERROR_MAX = 200  # bytes of error text; keeps replies smaller than requests (no amplification)
# BEP 15: "0: none; 1: completed; 2: started; 3: stopped"
_EVENTS = (AnnounceEvent.NONE, AnnounceEvent.COMPLETED, AnnounceEvent.STARTED,
           AnnounceEvent.STOPPED)  # fmt: skip


@dataclass(frozen=True, slots=True)
class UdpConnect:
    transaction_id: int


@dataclass(frozen=True, slots=True)
class UdpAnnounce:
    """A well-formed announce. `ip` is the request's IPv4 field (0: "default")."""

    connection_id: int
    transaction_id: int
    request: AnnounceRequest
    numwant: int | None  # None for BEP 15's "-1 // default" (and any negative value)
    ip: int
    url_data: bytes


@dataclass(frozen=True, slots=True)
class UdpScrape:
    connection_id: int
    transaction_id: int
    info_hashes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class UdpMalformed:
    """A request with a valid header but an unusable body; `reason` goes in the error."""

    connection_id: int
    transaction_id: int
    reason: str


UdpRequest: TypeAlias = UdpConnect | UdpAnnounce | UdpScrape | UdpMalformed


def parse_request(data: bytes) -> UdpRequest | None:
    """One datagram as a request, or None when it is to be dropped unanswered."""
    if len(data) < _HEADER.size:
        return None
    connection_id, action, tid = _HEADER.unpack_from(data)
    if action == ACTION_CONNECT:
        # The magic keeps stray datagrams from being answered at all.
        return UdpConnect(tid) if connection_id == PROTOCOL_ID else None
    if action == ACTION_ANNOUNCE:
        return _parse_announce(data, connection_id, tid)
    if action == ACTION_SCRAPE:
        count = (len(data) - _HEADER.size) // 20
        if count == 0:
            return UdpMalformed(connection_id, tid, "scrape without info_hash")
        count = min(count, MAX_SCRAPE_HASHES)
        hashes = tuple(data[16 + 20 * i : 36 + 20 * i] for i in range(count))
        return UdpScrape(connection_id, tid, hashes)
    return UdpMalformed(connection_id, tid, f"unknown action {action}")


def _parse_announce(data: bytes, connection_id: int, tid: int) -> UdpRequest:
    if len(data) < ANNOUNCE_SIZE:
        return UdpMalformed(connection_id, tid, "announce request too short")
    (info_hash, peer_id, downloaded, left, uploaded, event, ip, key, numwant,
     port) = _ANNOUNCE.unpack_from(data, _HEADER.size)  # fmt: skip
    if event >= len(_EVENTS):
        return UdpMalformed(connection_id, tid, f"unknown event {event}")
    if max(downloaded, left, uploaded) > _I64_MAX:
        return UdpMalformed(connection_id, tid, "byte count out of range")
    stopped = _EVENTS[event] is AnnounceEvent.STOPPED
    if port == 0 and not stopped:
        return UdpMalformed(connection_id, tid, "port 0")
    request = AnnounceRequest(
        info_hash=info_hash, peer_id=peer_id, port=port, uploaded=uploaded,
        downloaded=downloaded, left=left, event=_EVENTS[event], key=key,
        numwant=max(numwant, 0),
    )  # fmt: skip
    wanted = None if numwant < 0 else numwant
    return UdpAnnounce(connection_id, tid, request, wanted, ip, _url_data(data))


def _url_data(data: bytes) -> bytes:
    """BEP 41 options after byte 98: the URLData (type 2) parts, joined; others skipped.

    A truncated option ends parsing (what came before it counts), as does type 0.
    """
    out: list[bytes] = []
    pos, end = ANNOUNCE_SIZE, len(data)
    while pos < end:
        kind = data[pos]
        if kind == 0:  # EndOfOptions
            break
        if kind == 1:  # NOP
            pos += 1
            continue
        if pos + 1 >= end:
            break
        length = data[pos + 1]
        if pos + 2 + length > end:
            break
        if kind == 2:
            out.append(data[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return b"".join(out)


def encode_connect_reply(transaction_id: int, connection_id: int) -> bytes:
    return _CONNECT_REPLY.pack(ACTION_CONNECT, transaction_id, connection_id)


def encode_announce_reply(
    transaction_id: int, interval: int, leechers: int, seeders: int,
    peers: Sequence[StoredPeer],
) -> bytes:  # fmt: skip
    """The announce reply; `peers` must all have the stride of the client's family."""
    head = _ANNOUNCE_REPLY.pack(
        ACTION_ANNOUNCE, transaction_id, min(interval, _U32_MAX),
        min(leechers, _U32_MAX), min(seeders, _U32_MAX),
    )  # fmt: skip
    return head + b"".join(packed for _, packed in peers)


def encode_scrape_reply(transaction_id: int, stats: Sequence[ScrapeStats]) -> bytes:
    """Seeders, completed, leechers per hash, in the order the request named them."""
    body = b"".join(
        _TRIPLE.pack(
            min(s.complete, _U32_MAX), min(s.downloaded, _U32_MAX), min(s.incomplete, _U32_MAX)
        )
        for s in stats
    )
    return _REPLY.pack(ACTION_SCRAPE, transaction_id) + body


def encode_error(transaction_id: int, message: str) -> bytes:
    text = message.encode("utf-8", "replace")[:_ERROR_MAX]
    return _REPLY.pack(ACTION_ERROR, transaction_id) + text

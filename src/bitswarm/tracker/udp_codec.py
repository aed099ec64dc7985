"""BEP 15 datagrams, both directions: the one place their layouts are written down. Pure.

The client core (`tracker/udp.py`) encodes requests and reads replies; the tracker server
(`tracker_server/udp_frontend.py`) parses requests and encodes replies. Both use this
module, so the two sides cannot drift apart.

Layouts (BEP 15; all big-endian):

    request header   connection_id u64 | action u32 | transaction_id u32        (16)
    announce body    info_hash 20 | peer_id 20 | downloaded u64 | left u64 | uploaded u64
                     | event u32 | ip u32 | key u32 | num_want i32 | port u16   (82)
                     then BEP 41 options: 0 end, 1 nop, 2 URLData (len byte + data), ...
    scrape body      info_hash 20 * n (n <= 74)
    reply header     action u32 | transaction_id u32                            (8)
    connect reply    header | connection_id u64
    announce reply   header | interval u32 | leechers u32 | seeders u32 | peers (6 or 18 each)
    scrape reply     header | (seeders u32 | completed u32 | leechers u32) * n
    error reply      header | message

`parse_request` never raises on bytes from the network: anything shorter than the 16-byte
header, or a connect without the protocol magic, is `None` (dropped, BEP 15 gives the
sender nothing to learn); a request with a header but a bad body comes back as
`UdpMalformed`, which the server answers with an error (action 3) once the connection id
checked out.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from .announce import AnnounceEvent, AnnounceRequest, ScrapeStats

__all__ = [
    "ANNOUNCE_REPLY_SIZE",
    "ANNOUNCE_SIZE",
    "MAX_SCRAPE_HASHES",
    "PROTOCOL_ID",
    "REPLY_HEADER_SIZE",
    "Action",
    "AnnounceFields",
    "UdpAnnounce",
    "UdpConnect",
    "UdpMalformed",
    "UdpRequest",
    "UdpScrape",
    "announce_body",
    "announce_fields",
    "announce_reply_head",
    "decode_announce_reply",
    "decode_connect_reply",
    "decode_error_reply",
    "decode_reply_header",
    "decode_scrape_reply",
    "encode_announce_reply",
    "encode_announce_request",
    "encode_connect_reply",
    "encode_connect_request",
    "encode_error",
    "encode_request",
    "encode_scrape_reply",
    "encode_scrape_request",
    "parse_request",
]

#: the connect request's magic "connection id"
PROTOCOL_ID = 0x41727101980
#: "Up to about 74 torrents can be scraped at once" (BEP 15, Scrape)
MAX_SCRAPE_HASHES = 74


class Action(enum.IntEnum):
    CONNECT = 0
    ANNOUNCE = 1
    SCRAPE = 2
    ERROR = 3


_HEADER = struct.Struct(">QII")  # connection_id (or PROTOCOL_ID), action, transaction_id
_REPLY = struct.Struct(">II")  # action, transaction_id
_ANNOUNCE_BODY = struct.Struct(">20s20sQQQIIIiH")
_CONNECT_REPLY = struct.Struct(">IIQ")
_ANNOUNCE_COUNTS = struct.Struct(">III")  # interval, leechers, seeders (after _REPLY)
_TRIPLE = struct.Struct(">III")  # seeders, completed, leechers
_ANNOUNCE = struct.Struct(">QII20s20sQQQIIIiH")  # header and announce body in one
_ANNOUNCE_HEAD = struct.Struct(">IIIII")  # action, transaction_id, interval, leechers, seeders

ANNOUNCE_SIZE = _HEADER.size + _ANNOUNCE_BODY.size  # 98
REPLY_HEADER_SIZE = _REPLY.size
ANNOUNCE_REPLY_SIZE = _REPLY.size + _ANNOUNCE_COUNTS.size  # 20, then the peers

_I64_MAX = 2**63 - 1
_U32_MAX = 0xFFFFFFFF
_ERROR_MAX = 200  # bytes of error text; keeps replies smaller than requests (no amplification)
_ERROR_READ = 512  # bytes of a tracker's error text we read
# BEP 15: "0: none; 1: completed; 2: started; 3: stopped"
_EVENTS = (AnnounceEvent.NONE, AnnounceEvent.COMPLETED, AnnounceEvent.STARTED,
           AnnounceEvent.STOPPED)  # fmt: skip
_EVENT_NUMBER = {event: number for number, event in enumerate(_EVENTS)}
_ANNOUNCE_ACTION = int(Action.ANNOUNCE)  # a plain int: compared on every datagram


# --- requests (the client encodes, the server parses) ---------------------------------


def encode_request(connection_id: int, action: Action, transaction_id: int, body: bytes) -> bytes:
    """A request: the 16-byte header, then `body`."""
    return _HEADER.pack(connection_id, action, transaction_id) + body


def encode_connect_request(transaction_id: int) -> bytes:
    """The 16-byte connect request."""
    return _HEADER.pack(PROTOCOL_ID, Action.CONNECT, transaction_id)


def announce_body(req: AnnounceRequest, *, ipv6: bool, request_string: bytes = b"") -> bytes:
    """An announce request after its header: 82 bytes, then BEP 41 URLData options."""
    ip = 0
    if req.ip is not None and not ipv6:
        # 32 bits: only an IPv4 literal fits, else "0 // default" (BEP 15); BEP 7
        # discourages announcing other addresses anyway.
        with contextlib.suppress(ValueError):
            ip = int(ipaddress.IPv4Address(req.ip))
    body = _ANNOUNCE_BODY.pack(
        req.info_hash, req.peer_id, req.downloaded, req.left, req.uploaded,
        _EVENT_NUMBER[req.event], ip, req.key, req.numwant, req.port,
    )  # fmt: skip
    options = b"".join(
        bytes((2, len(chunk))) + chunk  # BEP 41 URLData option, type 0x2
        for chunk in (request_string[i : i + 255] for i in range(0, len(request_string), 255))
    )
    return body + options


def encode_announce_request(
    connection_id: int, transaction_id: int, req: AnnounceRequest, *, ipv6: bool = False,
    request_string: bytes = b"",
) -> bytes:  # fmt: skip
    """A full announce request (98 bytes, plus BEP 41 options for `request_string`)."""
    body = announce_body(req, ipv6=ipv6, request_string=request_string)
    return encode_request(connection_id, Action.ANNOUNCE, transaction_id, body)


def encode_scrape_request(connection_id: int, tid: int, info_hashes: Iterable[bytes]) -> bytes:
    """A scrape request for up to `MAX_SCRAPE_HASHES` info-hashes."""
    return encode_request(connection_id, Action.SCRAPE, tid, b"".join(info_hashes))


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
    if action == Action.CONNECT:
        # The magic keeps stray datagrams from being answered at all.
        return UdpConnect(tid) if connection_id == PROTOCOL_ID else None
    if action == Action.ANNOUNCE:
        return _parse_announce(data, connection_id, tid)
    if action == Action.SCRAPE:
        count = (len(data) - _HEADER.size) // 20
        if count == 0:
            return UdpMalformed(connection_id, tid, "scrape without info_hash")
        count = min(count, MAX_SCRAPE_HASHES)
        hashes = tuple(data[16 + 20 * i : 36 + 20 * i] for i in range(count))
        return UdpScrape(connection_id, tid, hashes)
    return UdpMalformed(connection_id, tid, f"unknown action {action}")


#: what `announce_fields` returns: connection_id, transaction_id, info_hash, peer_id, left,
#: event, ip, numwant (negative: the default), port
AnnounceFields: TypeAlias = tuple[int, int, bytes, bytes, int, AnnounceEvent, int, int, int]


def announce_fields(data: bytes | bytearray | memoryview) -> AnnounceFields | None:
    """A well-formed announce's fields, with no objects built; None for anything else.

    The server's hot path: None means "not a plain valid announce" (another action, a
    short or bad body), and the caller hands the datagram to `parse_request`, which says
    what it is. What this accepts, `parse_request` accepts as the same announce; BEP 41
    options after the 98 bytes are not read (the server only accepts them).
    """
    if len(data) < ANNOUNCE_SIZE:
        return None
    (cid, action, tid, info_hash, peer_id, downloaded, left, uploaded, event, ip, _key,
     numwant, port) = _ANNOUNCE.unpack_from(data)  # fmt: skip
    if (action != _ANNOUNCE_ACTION or event > 3 or downloaded > _I64_MAX or left > _I64_MAX
            or uploaded > _I64_MAX or (port == 0 and event != 3)):  # fmt: skip
        return None
    return cid, tid, info_hash, peer_id, left, _EVENTS[event], ip, numwant, port


def _parse_announce(data: bytes, connection_id: int, tid: int) -> UdpRequest:
    if len(data) < ANNOUNCE_SIZE:
        return UdpMalformed(connection_id, tid, "announce request too short")
    (info_hash, peer_id, downloaded, left, uploaded, event, ip, key, numwant,
     port) = _ANNOUNCE_BODY.unpack_from(data, _HEADER.size)  # fmt: skip
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


# --- replies (the server encodes, the client decodes) ---------------------------------


def encode_connect_reply(transaction_id: int, connection_id: int) -> bytes:
    return _CONNECT_REPLY.pack(Action.CONNECT, transaction_id, connection_id)


def encode_announce_reply(
    transaction_id: int, interval: int, leechers: int, seeders: int, peers: Iterable[bytes],
) -> bytes:  # fmt: skip
    """The announce reply; `peers` are packed addresses, all of the client's family."""
    head = _REPLY.pack(Action.ANNOUNCE, transaction_id) + _ANNOUNCE_COUNTS.pack(
        min(interval, _U32_MAX), min(leechers, _U32_MAX), min(seeders, _U32_MAX)
    )
    return head + b"".join(peers)


def announce_reply_head(transaction_id: int, interval: int, leechers: int, seeders: int) -> bytes:
    """The first 20 bytes of an announce reply; the packed peers follow."""
    return _ANNOUNCE_HEAD.pack(_ANNOUNCE_ACTION, transaction_id, min(interval, _U32_MAX),
                               min(leechers, _U32_MAX), min(seeders, _U32_MAX))  # fmt: skip


def encode_scrape_reply(transaction_id: int, stats: Sequence[ScrapeStats]) -> bytes:
    """Seeders, completed, leechers per hash, in the order the request named them."""
    body = b"".join(
        _TRIPLE.pack(
            min(s.complete, _U32_MAX), min(s.downloaded, _U32_MAX), min(s.incomplete, _U32_MAX)
        )
        for s in stats
    )
    return _REPLY.pack(Action.SCRAPE, transaction_id) + body


def encode_error(transaction_id: int, message: str) -> bytes:
    text = message.encode("utf-8", "replace")[:_ERROR_MAX]
    return _REPLY.pack(Action.ERROR, transaction_id) + text


def decode_reply_header(data: bytes) -> tuple[int, int]:
    """(action, transaction_id) of a reply of at least `REPLY_HEADER_SIZE` bytes."""
    action, tid = _REPLY.unpack_from(data)
    return action, tid


def decode_connect_reply(data: bytes) -> int | None:
    """The connection id of a connect reply; None when the reply is too short."""
    if len(data) < _CONNECT_REPLY.size:
        return None
    return int(_CONNECT_REPLY.unpack_from(data)[2])


def decode_announce_reply(data: bytes) -> tuple[int, int, int, bytes] | None:
    """(interval, leechers, seeders, packed peers) of an announce reply; None when short."""
    if len(data) < ANNOUNCE_REPLY_SIZE:
        return None
    interval, leechers, seeders = _ANNOUNCE_COUNTS.unpack_from(data, _REPLY.size)
    return interval, leechers, seeders, data[ANNOUNCE_REPLY_SIZE:]


def decode_scrape_reply(data: bytes, info_hashes: Sequence[bytes]) -> dict[bytes, ScrapeStats]:
    """The statistics per hash, in request order; a reply cut short covers fewer hashes."""
    n = min((len(data) - _REPLY.size) // _TRIPLE.size, len(info_hashes))
    triples = (_TRIPLE.unpack_from(data, _REPLY.size + _TRIPLE.size * i) for i in range(n))
    return {h: ScrapeStats(*t) for h, t in zip(info_hashes, triples, strict=False)}


def decode_error_reply(data: bytes) -> str:
    """The text of an error reply (action 3), at most 504 bytes of it."""
    return data[_REPLY.size : _ERROR_READ].rstrip(b"\x00").decode("utf-8", "replace")

"""One fuzz target per parser: ``check(data: bytes) -> None`` runs the parser on `data`.

A target passes when the parser returns or raises its own error type (the one its
docstring names); anything else escaping -- IndexError, ValueError, RecursionError,
MemoryError, an `AssertionError` from a bound checked here -- is a bug. The same
functions serve three callers: atheris (bench/fuzz/run.py, coverage-guided, minutes to
hours), hypothesis (tests/fuzz/, a bounded number of generated inputs in CI), and the
regression test (tests/fuzz/test_regressions.py replays every saved input).

Inputs that drive a state machine rather than one decoder (wire, dht, tracker_udp,
tracker_server) carry a small framing, described at each target, so that one byte
string from a fuzzer still means one reproducible session.

Bounds checked after each input (the parsers' own limits, so a growth bug shows here):
- wire: the receive buffer never holds more than one frame's header plus its largest
  legal body (`codec.max_frame_length`); a closed connection holds nothing;
- dht: the routing table holds at most 160 * k nodes; outgoing datagrams per received one
  are bounded; replies never exceed the node's max packet size;
- tracker_udp: at most one outgoing datagram per pending request and retransmission;
- tracker_server: the HTTP connection's buffer never exceeds `MAX_HEAD` plus one read;
- tracker_http: never more peers than `max_peers`, never more files than `max_files`;
- ut_pex: never more contacts than `MAX_ACCEPTED` of each kind.
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Callable, Iterator
from typing import Any

from bitswarm.bencode import bdecode, bencode, decode_spans
from bitswarm.bitfield import Bitfield
from bitswarm.dht.krpc import KrpcError, decode_message, encode_message
from bitswarm.dht.node import DhtNode
from bitswarm.errors import BencodeError, MagnetError, MetainfoError, RemoteProtocolError
from bitswarm.ext.lsd import LsdAnnouncer, LsdFormatError, decode_announce, encode_announce
from bitswarm.ext.ut_metadata import (
    MetadataProtocolError,
    decode_metadata_message,
    encode_metadata_message,
)
from bitswarm.ext.ut_pex import MAX_ACCEPTED, PexFormatError, PexState, decode_pex
from bitswarm.magnet import parse_magnet
from bitswarm.metainfo.parse import parse_info_dict, parse_torrent
from bitswarm.storage.resume import ResumeError, encode_resume, read_resume
from bitswarm.tracker.announce import (
    AnnounceEvent,
    AnnounceRequest,
    TrackerFailure,
    TrackerResponseError,
)
from bitswarm.tracker.http import (
    parse_announce_response,
    parse_scrape_response,
    raise_failure,
)
from bitswarm.tracker.udp import UdpTrackerClient
from bitswarm.tracker.udp_codec import (
    decode_announce_reply,
    decode_connect_reply,
    decode_error_reply,
    decode_scrape_reply,
    parse_request,
)
from bitswarm.tracker_server.config import RequestRefused, TrackerConfig
from bitswarm.tracker_server.http_codec import (
    encode_failure,
    parse_announce,
    parse_query,
    parse_scrape,
)
from bitswarm.tracker_server.http_server import (
    MAX_HEAD,
    HttpRequest,
    HttpResponse,
    HttpServer,
    _Connection,
)
from bitswarm.wire import PeerConnection, codec
from bitswarm.wire.events import ConnectionClosed
from bitswarm.wire.extension import decode_extension_handshake, encode_extension_handshake
from bitswarm.wire.handshake import encode_handshake, make_reserved
from bitswarm.wire.state import ConnectionState

__all__ = [
    "TARGETS",
    "TID4_PLACEHOLDER",
    "TID_PLACEHOLDER",
    "FakeTransport",
    "Target",
    "frames",
    "pack_frames",
    "tracker_connection",
]

Target = Callable[[bytes], None]

# ---------------------------------------------------------------------- framing helpers


def pack_frames(parts: list[bytes]) -> bytes:
    """Several datagrams as one fuzz input: each behind a 2-byte big-endian length."""
    return b"".join(struct.pack(">H", len(p)) + p for p in parts)


def frames(data: bytes, limit: int = 64) -> Iterator[bytes]:
    """The datagrams of `pack_frames` (a short last one is taken as it is)."""
    pos = 0
    for _ in range(limit):
        if pos >= len(data):
            return
        n = int.from_bytes(data[pos : pos + 2], "big")
        yield data[pos + 2 : pos + 2 + n]
        pos += 2 + n


# ---------------------------------------------------------------------- codecs


def check_bencode(data: bytes) -> None:
    for strict in (True, False):
        try:
            value = bdecode(data, strict=strict)
        except BencodeError as e:
            assert 0 <= e.offset <= len(data)
            continue
        if strict:
            assert bencode(value) == data  # the strict decoder takes canonical input only
        else:
            assert bdecode(bencode(value)) == value
    try:
        decoded = decode_spans(data, strict=False)
    except BencodeError:
        return
    for start, end in decoded.spans.values():
        assert 0 <= start <= end <= len(data)


def check_metainfo(data: bytes) -> None:
    try:
        meta = parse_torrent(data)
    except MetainfoError as e:
        assert str(e)
    else:
        info = meta.info
        assert info.num_pieces >= 1 and info.total_length >= 1
        # what was accepted parses again from its own info bytes, to the same torrent
        again = parse_info_dict(info.raw)
        assert again.info_hashes == info.info_hashes
    try:
        parse_info_dict(data)
    except MetainfoError:
        pass


def check_magnet(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        magnet = parse_magnet(text)
    except MagnetError as e:
        assert str(e)
        return
    assert parse_magnet(magnet.to_uri()) == magnet  # what we write, we read back


# ---------------------------------------------------------------------- peer wire

_INFO_HASH = bytes(range(20))
_OUR_ID = b"-BS0100-aaaaaaaaaaaa"
_THEIR_ID = b"-BS0100-bbbbbbbbbbbb"
_PIECE_LENGTH = 32 * 1024
_NUM_PIECES = 12
_TOTAL = _PIECE_LENGTH * (_NUM_PIECES - 1) + 777


def _buffer_bound(conn: PeerConnection) -> None:
    rx = conn._rx  # the receiver's partial-frame buffer: the one place bytes pile up
    if conn.closed:
        return
    assert len(rx.buf) <= 4 + codec.max_frame_length(rx._bitfield_bytes), len(rx.buf)


def check_wire(data: bytes) -> None:
    """Framing: byte 0 = options (bit 0 fast, bit 1 extended, bit 2 magnet: no geometry
    until the first 4 KiB, bit 3 we answer rather than dial, bit 4 the input carries the
    remote's handshake itself), byte 1 = read size (0: all at once), the rest: the
    remote's bytes."""
    if len(data) < 2:
        return
    opts, step, stream = data[0], data[1], data[2:]
    fast, extended, magnet, answer, raw_handshake = (bool(opts >> i & 1) for i in range(5))
    conn = PeerConnection(
        info_hash=_INFO_HASH,
        our_peer_id=_OUR_ID,
        num_pieces=_NUM_PIECES,
        piece_length=_PIECE_LENGTH,
        total_length=_TOTAL,
        initiator=not answer,
        enable_fast=fast,
        enable_extended=extended,
        enable_dht=True,
        expected_info_hash_lookup=(lambda h: h == _INFO_HASH) if answer else None,
        geometry_known=not magnet,
    )
    if not answer:
        conn.send_handshake()
    if not raw_handshake:
        reserved = make_reserved(fast=True, extended=True, dht=True)
        stream = encode_handshake(_INFO_HASH, _THEIR_ID, reserved) + stream
    step = step or len(stream) or 1
    now = 0.0
    greeted = False
    for start in range(0, len(stream), step):
        now += 0.5
        conn.receive_data(stream[start : start + step], now=now)
        if magnet and start + step >= 4096 and not conn.geometry_known and not conn.closed:
            conn.set_geometry(_NUM_PIECES, _PIECE_LENGTH, _TOTAL)
        if not greeted and conn.geometry_known and conn.state is ConnectionState.ACTIVE:
            greeted = True  # what a torrent does once the handshake is in
            conn.send_bitfield(Bitfield(conn.num_pieces))
            conn.send_unchoke()
            conn.send_interested()
            conn.send_request(0, 0, 16384)
        conn.data_to_send()
        for event in conn.events():
            if isinstance(event, ConnectionClosed):
                assert conn.closed and event.reason
        _buffer_bound(conn)
        if conn.closed:
            break
    conn.handle_timer(now=now + 1000.0)
    conn.events()


# ---------------------------------------------------------------------- extensions


def check_extension(data: bytes) -> None:
    """The payload of an extended message, read as each of BEP 10, BEP 9 and BEP 11."""
    try:
        hs = decode_extension_handshake(data)
    except RemoteProtocolError as e:
        assert str(e)
    else:
        assert decode_extension_handshake(encode_extension_handshake(hs)) == hs
    try:
        msg = decode_metadata_message(data)
    except MetadataProtocolError as e:
        assert str(e)
    else:
        if msg is not None:
            assert decode_metadata_message(encode_metadata_message(msg)) == msg
    try:
        pex = decode_pex(data)
    except PexFormatError as e:
        assert str(e)
    else:
        assert len(pex.added) <= MAX_ACCEPTED and len(pex.dropped) <= MAX_ACCEPTED
    state = PexState(now=0.0)
    for now in (0.0, 1.0, 100.0):
        try:
            state.receive(data, now=now)
        except PexFormatError:
            pass


# ---------------------------------------------------------------------- DHT


def check_krpc(data: bytes) -> None:
    try:
        msg = decode_message(data)
    except KrpcError as e:
        assert str(e)
        return
    assert decode_message(encode_message(msg, version=None)) == msg


TID_PLACEHOLDER = b"1:t2:ZZ"


def check_dht(data: bytes) -> None:
    """Framing: `pack_frames` datagrams; in each, ``1:t2:ZZ`` becomes the transaction id of
    a query the node has outstanding (so replies reach the response paths), and the
    first byte of the frame picks the source address (one of 8)."""
    node = DhtNode(rng=random.Random(1), now=0.0, node_id=bytes(range(20)))
    node.bootstrap([("10.0.0.1", 6881), ("10.0.0.2", 6881)], now=0.0)
    node.get_peers(bytes(20), now=0.0)
    limit = max(node.config.max_packet_size, node.config.max_send_size)
    now = 0.0
    outstanding: list[tuple[bytes, tuple[str, int]]] = []  # our queries, oldest first
    for frame in frames(data):
        outstanding += _queries(node.datagrams_to_send(now=now))
        datagram = frame[1:]
        host = 1 + frame[0] % 8 if frame else 1
        source = (f"10.0.0.{host}", 6881)
        if outstanding and TID_PLACEHOLDER in datagram:
            tid, source = outstanding.pop(0)  # a reply from whom we asked
            real = b"1:t" + str(len(tid)).encode() + b":" + tid
            datagram = datagram.replace(TID_PLACEHOLDER, real, 1)
        now += 1.0
        node.receive_datagram(datagram, source, now=now)
        out = node.datagrams_to_send(now=now)
        assert len(out) <= 64, len(out)
        for payload, _ in out:
            assert len(payload) <= limit, len(payload)
        outstanding += _queries(out)
        node.events()
    node.handle_timer(now=now + 3600.0)
    status = node.status(now=now + 3600.0)
    assert status.good + status.questionable + status.bad <= 160 * node.config.k


def _queries(sent: list[tuple[bytes, tuple[str, int]]]) -> list[tuple[bytes, tuple[str, int]]]:
    """(transaction id, address) of the queries among datagrams the node sent."""
    out = []
    for datagram, addr in sent:
        top = bdecode(datagram)
        assert isinstance(top, dict)
        tid = top.get(b"t")
        if top.get(b"y") == b"q" and isinstance(tid, bytes):
            out.append((tid, (addr[0], addr[1])))
    return out


# ---------------------------------------------------------------------- tracker client


def check_tracker_http(data: bytes) -> None:
    try:
        reply = parse_announce_response(data, max_peers=50)
    except (TrackerFailure, TrackerResponseError) as e:
        assert str(e)
    else:
        assert len(reply.peers) <= 50
    try:
        scrape = parse_scrape_response(data, max_files=20)
    except (TrackerFailure, TrackerResponseError) as e:
        assert str(e)
    else:
        assert len(scrape.files) <= 20
    try:
        raise_failure(data)
    except TrackerFailure:
        pass


_REQ = AnnounceRequest(
    info_hash=_INFO_HASH, peer_id=_OUR_ID, port=6881, uploaded=0, downloaded=0, left=100,
    event=AnnounceEvent.STARTED, key=7, numwant=50,
)  # fmt: skip
TID4_PLACEHOLDER = b"ZZZZ"


def check_tracker_udp(data: bytes) -> None:
    """Framing: `pack_frames` replies; bytes 4-8 of a reply that are ``ZZZZ`` become the
    transaction id of the client's last request (so replies reach every state)."""
    for frame in frames(data, limit=4):
        decode_connect_reply(frame)
        decode_announce_reply(frame)
        decode_scrape_reply(frame, [_INFO_HASH, bytes(20)])
        decode_error_reply(frame)
    client = UdpTrackerClient(("10.0.0.9", 6969), rng=random.Random(2), max_peers=50)
    client.announce(_REQ, now=0.0)
    client.scrape([_INFO_HASH, bytes(20)], now=0.0)
    now = 0.0
    last_tid = b"\0\0\0\0"
    for frame in frames(data):
        for datagram, _ in client.datagrams_to_send(now=now):
            last_tid = datagram[12:16]
        reply = frame
        if reply[4:8] == TID4_PLACEHOLDER:
            reply = reply[:4] + last_tid + reply[8:]
        client.receive_datagram(reply, ("10.0.0.9", 6969), now=now)
        now += 1.0
        for event in client.events():
            peers = getattr(event, "response", None)
            if peers is not None:
                assert len(peers.peers) <= 50
        assert client.pending <= 2
        assert len(client.datagrams_to_send(now=now)) <= 2
    timer = client.get_timer()
    if timer is not None:
        client.handle_timer(now=timer)


# ---------------------------------------------------------------------- tracker server

_CONFIG = TrackerConfig()


class FakeTransport(asyncio.Transport):
    """Enough of a transport for the tracker's HTTP connection: collects what it writes."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closed = False
        self.paused = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "write after close"
        self.out += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("10.1.2.3", 40000) if name == "peername" else default


def _tracker_handler(request: HttpRequest) -> HttpResponse:
    try:
        query = parse_query(request.query)
        if request.path.rsplit("/", 1)[-1].startswith("scrape"):
            parse_scrape(query, _CONFIG)
        else:
            ann = parse_announce(query, request.peer_host, _CONFIG)
            assert len(ann.request.info_hash) == 20 and 0 <= ann.request.port <= 65535
    except RequestRefused as e:
        assert e.reason
        return HttpResponse(200, encode_failure(e.reason))
    return HttpResponse(200, b"d8:intervali1800ee")


def _tracker_error(status: int, reason: str) -> HttpResponse:
    return HttpResponse(status, encode_failure(reason))


def tracker_connection() -> tuple[_Connection, FakeTransport]:
    """The tracker's HTTP connection protocol over a `FakeTransport`, the codecs behind it."""
    conn = _Connection(HttpServer(_tracker_handler, _tracker_error))
    transport = FakeTransport()
    conn.connection_made(transport)
    return conn, transport


def check_tracker_server(data: bytes) -> None:
    """The bytes as a TCP stream into the HTTP server's connection (the head parser, the
    query, announce and scrape codecs) and as one UDP request datagram. Framing for the
    stream: byte 0 = read size (0: all at once)."""
    parse_request(data)
    if not data:
        return
    step, stream = data[0] or len(data), data[1:]
    conn, transport = tracker_connection()
    for start in range(0, len(stream), step):
        if transport.closed:
            break
        conn.data_received(stream[start : start + step])
        assert len(conn._buf) <= MAX_HEAD + 4 + step, len(conn._buf)
    conn.connection_lost(None)


# ---------------------------------------------------------------------- LSD, resume


def check_lsd(data: bytes) -> None:
    try:
        announce = decode_announce(data)
    except LsdFormatError as e:
        assert str(e)
    else:
        assert decode_announce(encode_announce(announce)) == announce
    lsd = LsdAnnouncer(listen_port=6881, cookie="ours")
    lsd.add_torrent(_INFO_HASH, now=0.0)
    for now in (0.0, 1.0):
        peers = lsd.receive(data, ("10.0.0.7", 6771), now=now)
        assert len(peers) <= 1


def check_resume(data: bytes) -> None:
    try:
        resume = read_resume(data)
    except ResumeError as e:
        assert str(e)
        return
    assert read_resume(encode_resume(resume)) == resume


TARGETS: dict[str, Target] = {
    "bencode": check_bencode,
    "metainfo": check_metainfo,
    "magnet": check_magnet,
    "wire": check_wire,
    "extension": check_extension,
    "krpc": check_krpc,
    "dht": check_dht,
    "tracker_http": check_tracker_http,
    "tracker_udp": check_tracker_udp,
    "tracker_server": check_tracker_server,
    "lsd": check_lsd,
    "resume": check_resume,
}

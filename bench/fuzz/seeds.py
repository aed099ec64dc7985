"""Valid inputs for each fuzz target: the corpus's seeds and hypothesis's mutation bases.

Each is built with bitswarm's own encoders (or by hand where the format is text), so a
seed is a well-formed message the parser accepts; mutations of it reach the parser's deep
paths that random bytes never do. `python -m bench fuzz seed` writes them into
bench/fuzz/corpus/<target>/ (file name: the SHA-1 of the content, as libFuzzer names its
corpus files).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable

from bitswarm import merkle
from bitswarm.bencode import bencode
from bitswarm.dht.krpc import (
    AnnouncePeerQuery,
    ErrorMessage,
    FindNodeQuery,
    GetPeersQuery,
    NodeInfo,
    PingQuery,
    Response,
    encode_message,
)
from bitswarm.ext.lsd import LSD_HOST6, LsdAnnounce, encode_announce
from bitswarm.ext.ut_metadata import (
    MetadataData,
    MetadataReject,
    MetadataRequest,
    encode_metadata_message,
)
from bitswarm.ext.ut_pex import PexFlags, PexMessage, PexPeer, encode_pex
from bitswarm.storage.resume import ResumeData, encode_resume
from bitswarm.tracker.udp_codec import (
    Action,
    encode_announce_reply,
    encode_connect_reply,
    encode_error,
    encode_scrape_reply,
)
from bitswarm.wire.extension import ExtensionHandshake, encode_extension_handshake
from bitswarm.wire.handshake import encode_handshake, make_reserved
from bitswarm.wire.messages import (
    AllowedFast,
    BitfieldMessage,
    Cancel,
    Choke,
    Extended,
    Have,
    HaveAll,
    Interested,
    KeepAlive,
    Message,
    Piece,
    Port,
    Reject,
    Request,
    Suggest,
    Unchoke,
)
from bitswarm.wire.messages import (
    encode_message as encode_wire,
)

from .targets import TID4_PLACEHOLDER, TID_PLACEHOLDER, pack_frames

__all__ = ["SEEDS", "seeds"]

IH = bytes(range(20))
NODE = b"n" * 20


def _sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def _torrents() -> list[bytes]:
    data = hashlib.shake_256(b"seed").digest(50_000)
    single = bencode({
        "announce": "http://t.example/announce",
        "info": {"name": "a.bin", "length": 20_000, "piece length": 16384,
                 "pieces": _sha1(data[:16384]) + _sha1(data[16384:20_000])},
    })  # fmt: skip
    multi = bencode({
        "announce-list": [["http://t/"], ["udp://u:1"]],
        "url-list": ["http://w/"],
        "comment": "c", "created by": "bitswarm", "creation date": 1_700_000_000,
        "info": {"name": "n", "piece length": 16384, "private": 1,
                 "files": [{"length": 30_000, "path": ["a", "b"]},
                           {"length": 20_000, "path": ["c"]}],
                 "pieces": b"".join(_sha1(data[i : i + 16384])
                                    for i in range(0, 50_000, 16384))},
    })  # fmt: skip
    small = data[:100]
    v2 = bencode({
        "info": {"name": "t", "piece length": 16384, "meta version": 2,
                 "file tree": {"f": {"": {"length": 100, "pieces root": merkle.file_root(
                     merkle.block_hashes(small))}}, "g": {"": {"length": 0}}}},
    })  # fmt: skip
    a, b = data[:40_000], data[40_000:40_100]
    a_leaves = merkle.block_hashes(a)
    stream = a + bytes(9152) + b
    hybrid = bencode({
        "piece layers": {merkle.file_root(a_leaves): b"".join(merkle.piece_layer(a_leaves,
                                                                                  16384))},
        "info": {"name": "h", "piece length": 16384, "meta version": 2,
                 "file tree": {"a": {"": {"length": 40_000,
                                          "pieces root": merkle.file_root(a_leaves)}},
                               "b": {"": {"length": 100, "pieces root": merkle.file_root(
                                   merkle.block_hashes(b))}}},
                 "files": [{"length": 40_000, "path": ["a"]},
                           {"length": 9152, "path": [".pad", "9152"], "attr": "p"},
                           {"length": 100, "path": ["b"]}],
                 "pieces": b"".join(_sha1(stream[i : i + 16384])
                                    for i in range(0, len(stream), 16384))},
    })  # fmt: skip
    return [single, multi, v2, hybrid]


def _bencode() -> list[bytes]:
    return [
        b"i0e", b"i-42e", b"4:spam", b"le", b"de", b"l4:spami42ee",
        bencode({"a": [1, 2, {"b": b"c"}], "d": b"\x00" * 8, "e": -(2**63)}),
        _torrents()[1],
    ]  # fmt: skip


def _magnet() -> list[bytes]:
    return [
        b"magnet:?xt=urn:btih:000102030405060708090a0b0c0d0e0f10111213&dn=a%20b"
        b"&tr=http%3A%2F%2Ft%2Fannounce&tr.1=udp%3A%2F%2Fu%3A1&ws=http%3A%2F%2Fw%2F"
        b"&x.pe=10.0.0.1:6881&x.pe=[::1]:6881&so=0,2-4",
        b"magnet:?xt=urn:btih:AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT",
        b"magnet:?xt=urn:btmh:1220" + b"ab" * 32 + b"&xt=urn:btih:" + b"cd" * 20,
    ]


def _wire() -> list[bytes]:
    handshake = ExtensionHandshake(m={"ut_metadata": 1, "ut_pex": 2}, p=6881, metadata_size=1000)
    msgs: list[Message] = [
        KeepAlive(), BitfieldMessage(b"\xff\xf0"), Unchoke(), Interested(), Have(3),
        Request(0, 0, 16384), Piece(0, 0, b"x" * 64), Cancel(0, 0, 16384),
        Reject(1, 0, 16384), Suggest(2), AllowedFast(4), Port(6881), Choke(),
        Extended(0, encode_extension_handshake(handshake)),
    ]  # fmt: skip
    stream = b"".join(encode_wire(m) for m in msgs)
    fast_only = encode_wire(HaveAll()) + encode_wire(Request(1, 16384, 16384))
    raw_hs = encode_handshake(IH, b"-XX0001-" + b"z" * 12, make_reserved(
        fast=True, extended=True, dht=False))  # fmt: skip
    return [
        bytes([0b011, 0]) + stream,  # fast + extended, all at once
        bytes([0b011, 7]) + stream,  # in 7-byte reads
        bytes([0b111, 13]) + stream,  # a magnet link: geometry comes later
        bytes([0b001, 0]) + fast_only,
        bytes([0b11011, 5]) + raw_hs + stream,  # we answer; the handshake is in the input
    ]


def _extension() -> list[bytes]:
    return [
        encode_extension_handshake(ExtensionHandshake(
            m={"ut_metadata": 3, "ut_pex": 1, "lt_donthave": 7}, p=6881, v="bitswarm 1.0",
            yourip=b"\x7f\x00\x00\x01", reqq=250, metadata_size=31_337, upload_only=True)),
        encode_metadata_message(MetadataRequest(0)),
        encode_metadata_message(MetadataData(1, 20_000, b"d4:name1:xe" + b"y" * 40)),
        encode_metadata_message(MetadataReject(2)),
        encode_pex(PexMessage(
            added=(PexPeer(("10.0.0.1", 6881), PexFlags.SEED | PexFlags.PREFERS_ENCRYPTION),
                   PexPeer(("2001:db8::1", 51413), PexFlags.UTP)),
            dropped=(("10.0.0.2", 1),))),
    ]  # fmt: skip


def _krpc_messages(tid: bytes) -> list[bytes]:
    nodes = (NodeInfo(b"a" * 20, "10.0.0.3", 6881), NodeInfo(b"b" * 20, "10.0.0.4", 6882))
    nodes6 = (NodeInfo(b"c" * 20, "2001:db8::5", 6883),)
    return [
        encode_message(PingQuery(tid=tid, sender_id=NODE)),
        encode_message(
            FindNodeQuery(tid=tid, sender_id=NODE, target=IH, want=frozenset({"n4", "n6"}))
        ),
        encode_message(GetPeersQuery(tid=tid, sender_id=NODE, info_hash=IH)),
        encode_message(
            AnnouncePeerQuery(
                tid=tid, sender_id=NODE, info_hash=IH, port=6881, token=b"tok", implied_port=True
            )
        ),
        encode_message(
            Response(
                tid=tid,
                sender_id=NODE,
                nodes=nodes,
                nodes6=nodes6,
                token=b"tok",
                your_addr=("10.9.9.9", 1234),
            )
        ),
        encode_message(
            Response(tid=tid, sender_id=NODE, values=(("10.0.0.7", 51413),), token=b"t")
        ),
        encode_message(ErrorMessage(tid=tid, code=203, message="protocol error")),
    ]


def _krpc() -> list[bytes]:
    return _krpc_messages(b"aa")


def _dht() -> list[bytes]:
    replies = [m.replace(b"1:t2:ZZ", TID_PLACEHOLDER) for m in _krpc_messages(b"ZZ")]
    queries = _krpc_messages(b"qq")[:4]
    return [
        pack_frames([b"\x00" + r for r in replies[4:6]]),
        pack_frames([b"\x01" + q for q in queries]),
        pack_frames([b"\x00" + replies[4], b"\x02" + queries[3], b"\x00" + replies[6]]),
    ]


def _tracker_http() -> list[bytes]:
    return [
        bencode({"interval": 1800, "min interval": 60, "complete": 3, "incomplete": 1,
                 "tracker id": b"x", "peers": b"\x0a\x00\x00\x01\x1a\xe1" * 3,
                 "peers6": b"\x20\x01" + bytes(13) + b"\x01\x1a\xe1"}),
        bencode({"interval": 900, "peers": [{"ip": "10.0.0.2", "port": 6881, "peer id": b"p" * 20},
                                            {"ip": "tracker.example", "port": 1}]}),
        bencode({"failure reason": "unregistered torrent", "retry in": 60}),
        bencode({"files": {IH: {"complete": 5, "downloaded": 50, "incomplete": 2}},
                 "flags": {"min_request_interval": 900}}),
        b"<html><title>502 Bad Gateway</title></html>",
    ]  # fmt: skip


def _tracker_udp() -> list[bytes]:
    z = TID4_PLACEHOLDER
    connect = encode_connect_reply(0, 0x1234_5678_9ABC)
    announce = encode_announce_reply(0, 1800, 2, 3, [b"\x0a\x00\x00\x01\x1a\xe1"] * 2)
    from bitswarm.tracker.announce import ScrapeStats

    scrape = encode_scrape_reply(0, [ScrapeStats(1, 2, 3), ScrapeStats(4, 5, 6)])
    error = encode_error(0, "denied")

    def tid(reply: bytes) -> bytes:
        return reply[:4] + z + reply[8:]

    return [
        pack_frames([tid(connect), tid(announce), tid(scrape)]),
        pack_frames([tid(connect), tid(error)]),
        pack_frames([tid(connect), struct.pack(">II", Action.ANNOUNCE, 1) + bytes(12)]),
    ]


def _tracker_server() -> list[bytes]:
    q = (b"info_hash=%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13"
         b"&peer_id=-BS0001-xxxxxxxxxxxx&port=6881&uploaded=1&downloaded=2&left=3"
         b"&compact=1&numwant=20&event=started&key=abcd&ip=10.0.0.5")  # fmt: skip
    get = b"GET /announce?" + q + b" HTTP/1.1\r\nHost: t\r\nUser-Agent: x\r\n\r\n"
    scrape = (
        b"GET /scrape?info_hash=" + b"%41" * 20 + b" HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    )
    from bitswarm.tracker.announce import AnnounceEvent, AnnounceRequest
    from bitswarm.tracker.udp_codec import (
        encode_announce_request,
        encode_connect_request,
        encode_scrape_request,
    )

    req = AnnounceRequest(
        info_hash=IH, peer_id=b"p" * 20, port=6881, uploaded=0, downloaded=0, left=10,
        event=AnnounceEvent.STARTED, key=5, numwant=30,
    )  # fmt: skip
    return [
        b"\x00" + get,
        b"\x05" + get + scrape,
        b"\x00" + get.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nContent-Length: 5\r\n"),
        encode_connect_request(7),
        encode_announce_request(1, 2, req, request_string=b"/announce?passkey=abc"),
        encode_scrape_request(1, 3, [IH, bytes(20)]),
    ]


def _lsd() -> list[bytes]:
    return [
        encode_announce(LsdAnnounce(6881, (IH,), cookie="theirs")),
        encode_announce(LsdAnnounce(51413, (IH, bytes(20)), host=LSD_HOST6)),
        b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n"
        b"Infohash: " + IH.hex().encode() + b"\r\n\r\n\r\n",
    ]


def _resume() -> list[bytes]:
    return [
        encode_resume(
            ResumeData(
                IH, b"\xf0", 4, [(100, 1_700_000_000), None], 10, 20, 1_700_000_001, "name", "/data"
            )
        ),
        encode_resume(ResumeData(b"v" * 32, b"\xff\xff\x80", 17, [(5, 6)], 0, 0, 0)),
    ]


SEEDS: dict[str, Callable[[], list[bytes]]] = {
    "bencode": _bencode,
    "metainfo": _torrents,
    "magnet": _magnet,
    "wire": _wire,
    "extension": _extension,
    "krpc": _krpc,
    "dht": _dht,
    "tracker_http": _tracker_http,
    "tracker_udp": _tracker_udp,
    "tracker_server": _tracker_server,
    "lsd": _lsd,
    "resume": _resume,
}


def seeds(target: str) -> list[bytes]:
    """The valid inputs of `target`."""
    return SEEDS[target]()

"""Structured, near-valid inputs for the message codecs: valid field sets with hostile
values, through the same checks as the fuzz targets (own error type only, bounds, and
``decode(encode(decode(x))) == decode(x)``), plus encoder round trips
(``decode(encode(m)) == m``) where an encoder exists."""

from __future__ import annotations

import itertools

from bench.fuzz.targets import (
    TID4_PLACEHOLDER,
    check_extension,
    check_lsd,
    check_resume,
    check_tracker_http,
    check_tracker_server,
    check_tracker_udp,
    pack_frames,
)
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.bencode import BValue, bdecode, bencode
from bitswarm.ext.lsd import LSD_HOST4, LSD_HOST6, LsdAnnounce, decode_announce, encode_announce
from bitswarm.ext.ut_metadata import (
    MetadataData,
    MetadataReject,
    MetadataRequest,
    decode_metadata_message,
    encode_metadata_message,
)
from bitswarm.storage.resume import ResumeData, encode_resume, read_resume
from bitswarm.tracker.announce import AnnounceEvent, AnnounceRequest, ScrapeStats
from bitswarm.tracker.http_reply import MAX_HEAD, HttpReplyError, ReplyReader
from bitswarm.tracker.udp_codec import (
    UdpAnnounce,
    UdpConnect,
    UdpScrape,
    encode_announce_reply,
    encode_announce_request,
    encode_connect_reply,
    encode_error,
    encode_scrape_reply,
    parse_request,
)
from bitswarm.wire.extension import (
    ExtensionHandshake,
    decode_extension_handshake,
    encode_extension_handshake,
)

from .mutations import BVALUES
from .profile import FUZZ, scaled

u32 = st.integers(0, 2**32 - 1)
hostile_int = st.sampled_from([-1, 0, 1, 2**31, 2**32, 2**63 - 1, -(2**63)]) | st.integers(
    -5, 70000
)
any_value = BVALUES | hostile_int


# ---------------------------------------------------------------- BEP 10, 9, 11 payloads


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from([b"m", b"p", b"v", b"yourip", b"ipv4", b"ipv6", b"reqq",
                         b"metadata_size", b"upload_only", b"e", b"x"]),
        any_value | st.dictionaries(st.text(max_size=12).map(str.encode), hostile_int,
                                    max_size=4),
        max_size=8,
    )
)  # fmt: skip
def test_extension_handshakes_with_hostile_fields(fields: dict[bytes, object]) -> None:
    check_extension(bencode(fields))


@FUZZ
@given(
    m=st.dictionaries(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20),
                      st.integers(1, 255), max_size=4),
    p=st.none() | st.integers(1, 65535),
    v=st.none() | st.text(max_size=30),
    reqq=st.none() | st.integers(1, 65536),
    size=st.none() | st.integers(1, 64 * 1024 * 1024),
)  # fmt: skip
def test_extension_handshake_round_trip(
    m: dict[str, int], p: int | None, v: str | None, reqq: int | None, size: int | None
) -> None:
    hs = ExtensionHandshake(m=m, p=p, v=v, reqq=reqq, metadata_size=size)
    assert decode_extension_handshake(encode_extension_handshake(hs)) == hs


@FUZZ
@given(
    fields=st.dictionaries(st.sampled_from([b"msg_type", b"piece", b"total_size", b"x"]),
                           any_value, max_size=4),
    tail=st.binary(max_size=40),
)  # fmt: skip
def test_ut_metadata_messages_with_hostile_fields(fields: dict[bytes, object], tail: bytes) -> None:
    check_extension(bencode(fields) + tail)


@FUZZ
@given(
    st.one_of(
        st.builds(MetadataRequest, st.integers(0, 2**31 - 1)),
        st.builds(MetadataReject, st.integers(0, 2**31 - 1)),
        st.builds(MetadataData, st.integers(0, 2**31 - 1), st.integers(1, 2**24),
                  st.binary(min_size=1, max_size=64)),
    )
)  # fmt: skip
def test_ut_metadata_round_trip(msg: MetadataRequest | MetadataReject | MetadataData) -> None:
    assert decode_metadata_message(encode_metadata_message(msg)) == msg


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from([b"added", b"added.f", b"added6", b"added6.f", b"dropped", b"dropped6"]),
        st.binary(max_size=130) | any_value,
        max_size=6,
    )
)
def test_pex_messages_with_hostile_fields(fields: dict[bytes, object]) -> None:
    check_extension(bencode(fields))


# ---------------------------------------------------------------- LSD, resume


@FUZZ
@given(
    port=st.integers(1, 65535),
    hashes=st.lists(st.binary(min_size=20, max_size=20), min_size=1, max_size=5, unique=True),
    cookie=st.none() | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E),
                               min_size=1, max_size=64),
    host=st.sampled_from([LSD_HOST4, LSD_HOST6]),
    cut=st.integers(0, 400),
    junk=st.binary(max_size=8),
)  # fmt: skip
def test_lsd_announces_round_trip_and_survive_cuts(
    port: int, hashes: list[bytes], cookie: str | None, host: str, cut: int, junk: bytes
) -> None:
    announce = LsdAnnounce(port, tuple(hashes), cookie=cookie, host=host)
    data = encode_announce(announce)
    assert decode_announce(data) == announce
    check_lsd(data[:cut] + junk + data[cut:])


_RESUME_KEYS = [
    b"file-format", b"file-version", b"info-hash", b"num-pieces", b"pieces", b"files",
    b"uploaded", b"downloaded", b"saved-at", b"name", b"save-path",
]  # fmt: skip


@FUZZ
@given(key=st.sampled_from(_RESUME_KEYS), value=any_value, drop=st.booleans())
def test_resume_data_with_one_field_changed(key: bytes, value: BValue, drop: bool) -> None:

    good = encode_resume(ResumeData(bytes(20), b"\xf0", 4, [(1, 2), None], 1, 2, 3, "n", "/p"))
    top = bdecode(good)
    assert isinstance(top, dict)
    if drop:
        top.pop(key)
    else:
        top[key] = value
    check_resume(bencode(top))


@FUZZ
@given(
    info_hash=st.binary(min_size=20, max_size=20) | st.binary(min_size=32, max_size=32),
    num_pieces=st.integers(0, 300),
    files=st.lists(st.none() | st.tuples(st.integers(0, 2**62), st.integers(0, 2**40)),
                   max_size=5),
    counts=st.tuples(st.integers(0, 2**62), st.integers(0, 2**62), st.integers(0, 2**40)),
    name=st.text(max_size=20),
    data=st.data(),
)  # fmt: skip
def test_resume_round_trip(
    info_hash: bytes, num_pieces: int, files: list[tuple[int, int] | None],
    counts: tuple[int, int, int], name: str, data: st.DataObject,
) -> None:  # fmt: skip
    nbytes = (num_pieces + 7) // 8
    bits = bytearray(data.draw(st.binary(min_size=nbytes, max_size=nbytes)))
    if num_pieces % 8:
        bits[-1] &= (0xFF << (8 - num_pieces % 8)) & 0xFF  # spare bits clear
    resume = ResumeData(info_hash, bytes(bits), num_pieces, files, *counts, name, "/x")
    assert read_resume(encode_resume(resume)) == resume


# ---------------------------------------------------------------- tracker client


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from([b"interval", b"min interval", b"complete", b"incomplete", b"peers",
                         b"peers6", b"tracker id", b"failure reason", b"warning message",
                         b"files", b"retry in"]),
        any_value
        | st.binary(max_size=60)
        | st.lists(st.dictionaries(st.sampled_from([b"ip", b"port", b"peer id"]), any_value
                                   | st.sampled_from([b"10.0.0.1", b"::1", b"host"]),
                                   max_size=3), max_size=5)
        | st.dictionaries(st.binary(min_size=20, max_size=20), st.dictionaries(
            st.sampled_from([b"complete", b"downloaded", b"incomplete", b"name"]), any_value,
            max_size=4), max_size=3),
        max_size=6,
    )
)  # fmt: skip
def test_tracker_http_replies_with_hostile_fields(fields: dict[bytes, object]) -> None:
    check_tracker_http(bencode(fields))


_STATUS_LINES = [
    b"HTTP/1.1 200 OK",
    b"HTTP/1.0 404 Not Found",
    b"HTTP/1.1 204 No Content",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK",
    b"HTTP/2 200",
    b"HTTP/1.1 200",
]
_HEADERS = [
    b"Content-Length: 5",
    b"Content-Length: 99999999999",
    b"Content-Length: 5, 6",
    b"Content-Length: x",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip",
    b"Content-Encoding: gzip",
    b"Content-Encoding: deflate",
    b" folded",
    b"X: y",
    b"bad",
]
_BODY_PARTS = [b"5\r\nhello\r\n", b"0\r\n\r\n", b"3;ext=1\r\nabc\r\n", b"ffffffff\r\n",
               b"zz\r\n", b"0\r\nT: 1\r\n\r\n", b"\x1f\x8b\x08\x00", b"d8:intervali60ee",
               b"\r\n", b"\n"]  # fmt: skip
_FUZZ_MAX_BODY = 64
_replies = st.builds(
    lambda status, headers, end, body: b"\r\n".join([status, *headers]) + end + b"".join(body),
    st.sampled_from(_STATUS_LINES) | st.binary(max_size=20),
    st.lists(st.sampled_from(_HEADERS) | st.binary(max_size=20), max_size=4),
    st.sampled_from([b"\r\n\r\n", b"\n\n", b"\r\n"]),
    st.lists(st.sampled_from(_BODY_PARTS) | st.binary(max_size=40), max_size=6),
)


@scaled(4)  # cheap: a reader on a few hundred bytes
@given(
    data=_replies | st.binary(max_size=300),
    cuts=st.lists(st.integers(0, 400), max_size=5),
    eof=st.booleans(),
)
def test_http_replies_split_anywhere(data: bytes, cuts: list[int], eof: bool) -> None:
    """Any bytes, in any pieces: the reader returns a bounded reply or raises its own
    error type, and holds no more than one head plus one piece at any time."""
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    r = ReplyReader(max_body=_FUZZ_MAX_BODY)
    reply = None
    try:
        for a, b in itertools.pairwise(bounds):
            reply = r.receive_data(data[a:b])
            assert len(r._buf) <= MAX_HEAD + (b - a) and len(r._body) <= _FUZZ_MAX_BODY
        if eof:
            reply = r.receive_eof()
    except HttpReplyError as e:
        assert str(e) and "\n" not in str(e)
        return
    if reply is not None:
        assert len(reply.body) <= _FUZZ_MAX_BODY and 200 <= reply.status <= 999


def _tid(reply: bytes) -> bytes:
    return reply[:4] + TID4_PLACEHOLDER + reply[8:]


udp_replies = st.one_of(
    st.builds(encode_connect_reply, st.just(0), st.integers(0, 2**64 - 1)),
    st.builds(encode_announce_reply, st.just(0), u32, u32, u32,
              st.lists(st.binary(min_size=6, max_size=6), max_size=60)),
    st.builds(encode_scrape_reply, st.just(0),
              st.lists(st.builds(ScrapeStats, u32, u32, u32), max_size=4)),
    st.builds(encode_error, st.just(0), st.text(max_size=300)),
).map(_tid)  # fmt: skip


@FUZZ
@given(
    replies=st.lists(st.tuples(udp_replies, st.integers(0, 120), st.binary(max_size=4)),
                     max_size=8)
)  # fmt: skip
def test_udp_tracker_client_with_replies_to_its_requests(
    replies: list[tuple[bytes, int, bytes]],
) -> None:
    check_tracker_udp(pack_frames([r[:cut] + junk for r, cut, junk in replies]))


# ---------------------------------------------------------------- tracker server

_REQ = st.builds(
    AnnounceRequest,
    info_hash=st.binary(min_size=20, max_size=20), peer_id=st.binary(min_size=20, max_size=20),
    port=st.integers(0, 65535), uploaded=st.integers(0, 2**63 - 1),
    downloaded=st.integers(0, 2**63 - 1), left=st.integers(0, 2**63 - 1),
    event=st.sampled_from(list(AnnounceEvent)), key=u32, numwant=st.integers(0, 2**31 - 1),
)  # fmt: skip


@FUZZ
@given(
    req=_REQ,
    conn_id=st.integers(0, 2**64 - 1),
    tid=u32,
    url=st.binary(max_size=600),
    cut=st.integers(0, 1000),
)
def test_udp_tracker_requests_round_trip_and_survive_cuts(
    req: AnnounceRequest, conn_id: int, tid: int, url: bytes, cut: int
) -> None:
    data = encode_announce_request(conn_id, tid, req, request_string=url)
    parsed = parse_request(data)
    if req.port:
        assert isinstance(parsed, UdpAnnounce)
        assert parsed.request.info_hash == req.info_hash and parsed.request.port == req.port
        assert parsed.transaction_id == tid and parsed.url_data == url[: len(parsed.url_data)]
    for part in (data[:cut], data[:16] + data[cut:]):
        parsed = parse_request(part)
        assert parsed is None or isinstance(parsed, UdpConnect | UdpScrape | UdpAnnounce | object)


_QUERY_KEYS = [b"info_hash", b"peer_id", b"port", b"uploaded", b"downloaded", b"left",
               b"event", b"compact", b"numwant", b"key", b"ip", b"ipv6", b"no_peer_id",
               b"trackerid", b"corrupt", b"x"]  # fmt: skip


@FUZZ
@given(
    params=st.lists(
        st.tuples(st.sampled_from(_QUERY_KEYS),
                  st.binary(max_size=30) | st.sampled_from([b"-1", b"99999999999999999999",
                                                            b"%", b"%zz", b"6881", b"started",
                                                            b"%00" * 20, b"10.0.0.1", b"::1"])),
        max_size=12,
    ),
    path=st.sampled_from([b"/announce", b"/scrape", b"/x/announce.php", b"/", b"/metrics"]),
    version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"http/1.1"]),
    headers=st.lists(st.sampled_from([b"Host: t", b"Connection: close", b"Content-Length: 3",
                                      b"Transfer-Encoding: chunked", b"X-Forwarded-For: 1.2.3.4",
                                      b"bad header", b" Host: x", b"Connection: keep-alive"]),
                     max_size=4),
    step=st.integers(0, 30),
    repeat=st.integers(1, 3),
)  # fmt: skip
def test_tracker_http_requests_with_hostile_queries(
    params: list[tuple[bytes, bytes]], path: bytes, version: bytes, headers: list[bytes],
    step: int, repeat: int,
) -> None:  # fmt: skip
    query = b"&".join(k + b"=" + v for k, v in params)
    head = b"\r\n".join([b"GET " + path + b"?" + query + b" " + version, *headers])
    check_tracker_server(bytes([step]) + (head + b"\r\n\r\n") * repeat)
